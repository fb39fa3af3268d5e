"""Mutation operators: every applied mutant parses and differs from the reference in AST."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from stages.backends.code_mutants import (
    CHOICES,
    OPERATORS,
    crude_completion,
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
