"""Harmless variation: the split keeps the prefix intact, renames are provably local, and
comments only go where a logical line starts."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from stages.backends.code_variants import (
    SplitError,
    comment_slots,
    draw_renames,
    insert_comments,
    render_renamed,
    safe_locals,
    split_program,
)

PREFIX = 'import math\n\n\ndef f(xs, k=2):\n    """Doc."""\n'
REFERENCE = (
    "    total = 0\n"
    "    for x in xs:\n"
    "        total += x * k\n"
    "    squares = [y * y for y in xs]\n"
    "    return total + helper(squares)\n"
    "\n\ndef helper(values):\n    acc = 0\n    for v in values:\n        acc += v\n    return acc\n"
)


def _func(src: str) -> ast.FunctionDef:
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def _run(program: str, *args: object) -> object:
    ns: dict = {}
    exec(program, ns)
    return ns["f"](*args)


def test_split_finds_the_crossing_function_and_keeps_the_prefix() -> None:
    split = split_program(PREFIX, REFERENCE)
    assert split.indent == "    " and split.body_start == 1
    program = PREFIX + split.reference_render
    assert ast.dump(ast.parse(program)) == ast.dump(ast.parse(PREFIX + REFERENCE))
    assert split.renamable == (("squares", "total", "x"), ("acc", "v"))


def test_split_rejects_a_boundary_inside_a_statement() -> None:
    with pytest.raises(SplitError):
        split_program("def f(x):\n    return (x +\n", "        1)\n")
    with pytest.raises(SplitError):
        split_program("def f(x):\n", "    return x +\n")


def test_safe_locals_exclude_params_globals_nested_scopes_and_reflection() -> None:
    src = (
        "def g(a, *rest, b=1, **kw):\n"
        "    global G\n    G = 1\n    c = a\n    d = 2\n"
        "    def inner(e):\n        f2 = e\n        return f2 + d\n"
        "    class K:\n        h = 3\n    h = 4\n"
        "    try:\n        pass\n    except Exception as err:\n        pass\n"
        "    import os as o\n    lam = lambda q: q\n    return c + d + h\n"
    )
    assert safe_locals(_func(src)) == {"c", "d", "lam"}
    assert safe_locals(_func("def g(a):\n    x = a\n    return locals()\n")) == set()


def test_renamed_variants_behave_like_the_reference() -> None:
    split = split_program(PREFIX, REFERENCE)
    want = _run(PREFIX + REFERENCE, [1, 2, 3])
    texts = set()
    for seed in range(20):
        renames = draw_renames(split, np.random.default_rng(seed))
        text = render_renamed(split, renames)
        assert _run(PREFIX + text, [1, 2, 3]) == want
        for mapping in renames:
            assert not set(mapping.values()) & {"xs", "k", "math", "helper", "sum", "f"}
        texts.add(text)
    assert len(texts) > 3


def test_comment_slots_avoid_strings_and_continuations() -> None:
    prefix = "def f():\n"
    completion = '    s = """a\n# not a comment\nb"""\n    t = 1 + \\\n        2\n    return s, t\n'
    slots = dict(comment_slots(prefix, completion))
    assert 1 not in slots and 2 not in slots  # inside the triple-quoted string
    assert 4 not in slots  # after the backslash continuation
    assert {0, 3, 5, 6} <= set(slots)
    ns: dict = {}
    for seed in range(10):
        rng = np.random.default_rng(seed)
        text = insert_comments(completion, tuple(slots.items()), rng, rate=1.0)
        exec(prefix + text, ns)
        assert ns["f"]() == ("a\n# not a comment\nb", 3)


# Whole-program problems (MBPP+): empty prefix, the reference is the whole module.
WHOLE = (
    "import math\n\nLIMIT = 10\n\n\n"
    "def helper(values):\n    acc = 0\n    for v in values:\n        acc += v\n    return acc\n"
    "\n\ndef f(xs, k=2):\n    total = 0\n    for x in xs:\n        total += x * k\n"
    "    floors = [math.floor(y) for y in xs]\n    return min(LIMIT * 100, total + helper(floors))\n"
)


def test_empty_prefix_splits_the_whole_module() -> None:
    split = split_program("", WHOLE)
    assert split.whole_module and split.lead == "" and split.parse()[1] is None
    assert _run(split.reference_render, [1.5, 2.25]) == _run(WHOLE, [1.5, 2.25])
    assert split.renamable == (("acc", "v"), ("floors", "total", "x"))  # not params, globals


def test_whole_module_renames_and_comments_keep_behaviour() -> None:
    split = split_program("", WHOLE)
    texts = set()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        text = render_renamed(split, draw_renames(split, rng))
        text = insert_comments(text, comment_slots("", text, unparsed=True), rng)
        assert _run(text, [1.5, 2.25, 7]) == _run(WHOLE, [1.5, 2.25, 7])
        assert "import math" in text and "LIMIT = 10" in text
        texts.add(text)
    assert len(texts) > 5


def test_empty_prefix_with_an_unparsable_or_empty_reference_is_refused() -> None:
    with pytest.raises(SplitError):
        split_program("", "def f(:\n    pass\n")
    with pytest.raises(SplitError):
        split_program("", "# only a comment\n")
