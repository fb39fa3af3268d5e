"""Mutation operators: every applied mutant parses and differs from the reference in AST."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from stages.backends.code_mutants import (
    CHOICES,
    OPERATORS,
    crude_completion,
    crude_function,
    crude_program,
    draw_mutant,
    mutate,
    site_counts,
)
from stages.backends.code_variants import split_program

PREFIX = 'def f(xs, lo):\n    """Doc."""\n'
REFERENCE = (
    "    out = []\n"
    "    for x in xs:\n"
    "        if x > lo and x % 2 == 0:\n"
    "            out.append(x * 2 - 1)\n"
    "    return out\n"
)


def test_every_operator_has_a_site_in_a_typical_function() -> None:
    assert set(site_counts(split_program(PREFIX, REFERENCE))) == set(OPERATORS)


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_each_applied_mutant_parses_and_differs_in_ast(operator: str) -> None:
    split = split_program(PREFIX, REFERENCE)
    reference = ast.dump(ast.parse(PREFIX + REFERENCE))
    made = 0
    for site in range(site_counts(split)[operator]):
        for choice in range(CHOICES[operator]):
            text = mutate(split, operator, site, choice)
            if text is None:
                continue
            made += 1
            assert ast.dump(ast.parse(PREFIX + text)) != reference
            assert (PREFIX + text).startswith(PREFIX)
    assert made > 0


def test_a_mutation_that_changes_nothing_is_refused() -> None:
    split = split_program("def f():\n", "    return None\n")
    assert mutate(split, "wrong_return", 0, 0) is None  # None replaced by None
    assert mutate(split, "wrong_return", 0, 1) is not None


def test_draw_does_not_depend_on_the_cache() -> None:
    split = split_program(PREFIX, REFERENCE)
    counts = site_counts(split)
    warm: dict = {}
    for seed in range(30):
        draw_mutant(split, counts, np.random.default_rng(seed), warm)
    for seed in range(30):
        fresh = draw_mutant(split, counts, np.random.default_rng(seed), {})
        assert draw_mutant(split, counts, np.random.default_rng(seed), warm) == fresh


def test_crude_completion_uses_the_body_indent() -> None:
    assert crude_completion("\t", "", "crude_pass") == "\tpass\n"
    assert crude_completion("    ", "\n", "crude_return_none") == "\n    return None\n"


# Whole-program problems (MBPP+): empty prefix, the reference is the whole module.
WHOLE = (
    "import math\n\nLIMIT = 10\n\n\n"
    "def helper(values):\n    return sum(v * 2 for v in values if v > 0)\n"
    "\n\ndef f(xs, lo):\n    out = []\n    for x in xs:\n"
    "        if x > lo and x % 2 == 0:\n            out.append(math.floor(x * 2 - 1))\n"
    "    return out[:LIMIT] + [helper(xs)]\n"
)


def _module_setup(text: str) -> list[str]:
    return [ast.unparse(s) for s in ast.parse(text).body if not isinstance(s, ast.FunctionDef)]


def test_whole_module_mutants_parse_and_touch_only_the_functions() -> None:
    split = split_program("", WHOLE)
    counts = site_counts(split)
    assert {"swap_arith_op", "flip_compare", "wrong_return", "drop_statement"} <= set(counts)
    made = 0
    for operator, n in counts.items():
        for site in range(n):
            text = mutate(split, operator, site, 1)
            if text is None:
                continue
            made += 1
            assert ast.dump(ast.parse(text)) != ast.dump(ast.parse(WHOLE))
            assert _module_setup(text) == ["import math", "LIMIT = 10"]
    assert made > 10


def test_crude_program_empties_only_the_entry_point() -> None:
    split = split_program("", WHOLE)
    text = crude_program(split, "f", "crude_return_none")
    ns: dict = {}
    exec(text, ns)  # noqa: S102 (our own generated test program)
    assert ns["f"]([2, 4], 0) is None and ns["helper"]([1, -1]) == 2
    assert _module_setup(text) == ["import math", "LIMIT = 10"]


def test_crude_program_without_the_entry_point_defines_it() -> None:
    split = split_program("", "X = 1\n")
    text = crude_program(split, "g", "crude_pass")
    ns: dict = {}
    exec(text, ns)  # noqa: S102 (our own generated test program)
    assert ns["X"] == 1 and ns["g"](1, k=2) is None
    assert crude_function("g", "crude_pass") == "def g(*args, **kwargs):\n    pass\n"
