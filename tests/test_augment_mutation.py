"""Seed extraction and type-aware mutation: types and shapes kept, deterministic for a seed."""

from __future__ import annotations

import random

from stages.augment_mutation import ShapeGuard, TypedMutator, seeds_from_asserts

CHECK = '''
def check(candidate):
    assert candidate([1.0, 2.0], 0.5) == True
    assert candidate([1.0, 2.0], 0.5) == True
    assert abs(candidate([3.5], -1.0) - 1) < 1e-6
    for x in range(3):
        assert candidate([x], x)
    assert candidate(numbers=[1.0], threshold=1.0)
    assert f([2.0], 1.0)
'''


def test_seeds_are_the_literal_calls_deduplicated() -> None:
    assert seeds_from_asserts(CHECK, "f") == [[[1.0, 2.0], 0.5], [[3.5], -1.0], [[2.0], 1.0]]
    assert seeds_from_asserts("not python (", "f") == []


SEEDS = [[[1, 2, 3], "abc", (1, 2), {"k": 1.5}, True], [[4], "x y", (3, 4), {}, False]]


def test_mutation_keeps_arity_and_argument_types() -> None:
    mutator = TypedMutator(SEEDS, random.Random(0), max_steps=3)
    for i in range(500):
        child = mutator.mutate_args(SEEDS[i % 2])
        assert [type(a) for a in child] == [type(a) for a in SEEDS[i % 2]]
        assert len(child[2]) == 2  # tuples keep their arity
        assert all(type(v) is int for v in child[0])
    assert SEEDS[0] == [[1, 2, 3], "abc", (1, 2), {"k": 1.5}, True]  # seeds never changed


def test_mutation_is_deterministic_for_a_seed_and_changes_inputs() -> None:
    def run(seed: int) -> list:
        mutator = TypedMutator(SEEDS, random.Random(seed))
        return [mutator.mutate_args(SEEDS[0]) for _ in range(50)]

    assert run(1) == run(1) and run(1) != run(2)
    assert sum(child != SEEDS[0] for child in run(1)) >= 45


def test_shape_guard() -> None:
    guard = ShapeGuard([[[1, 2], "a"], [[], "b"]])
    assert guard.accepts([[5], "zz"]) and guard.accepts([[], ""])
    assert not guard.accepts([[5]])  # arity
    assert not guard.accepts([[5.0], "a"])  # element type never seen there
    assert not guard.accepts([(5,), "a"])  # a tuple where a list was


def test_doctest_and_signature_seeds() -> None:
    from stages.augment_mutation import seeds_from_doctests, seeds_from_signature

    prompt = 'def g(xs: list):\n    """\n    >>> round(g([1, 2]), 2) # comment\n    -0.5\n    >>> g(x)\n    """\n'
    assert seeds_from_doctests(prompt, "g") == [[[1, 2]]]
    prefix = 'def h(s: str, n: int):\n    """doc"""\n'
    assert seeds_from_signature(prefix, "h") == [["abc", 3], ["hello world", 0], ["zzyx", 10]]
    assert seeds_from_signature("def h(s, n: int):\n", "h") == []  # not every parameter typed
