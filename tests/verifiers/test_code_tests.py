"""Code verifiers: suites per problem, and clusters for majority vote free of the answer key."""

from __future__ import annotations

import json
from collections import defaultdict

import polars as pl
import pytest

from stages.schemas import PROBLEMS, conform
from stages.verifiers import code_tests
from stages.verifiers.sandbox import SandboxExecutor

# P1 (twice) returns x; P2 and P3 agree on input 0 and differ on input 1.
PROGRAMS = ["def f(x):\n    return x\n", "def f(x):\n    return x\n",
            "def f(x):\n    return 5 if x == 0 else 6\n", "def f(x):\n    return 5 if x == 0 else 7\n"]
WEAK, STRONG = [[0], [1]], [[0], [1], [2]]


def _problems(key: list[int]) -> pl.DataFrame:
    row = {"dataset": "t", "kind": "code", "prompt": "", "program_prefix": "", "atol": 0.0,
           "answer": "", "dataset_hash": "", "test": "", "problem_id": "p", "entry_point": "f",
           "reference": "", "inputs_weak": json.dumps(WEAK), "outputs_weak": json.dumps(key[:2]),
           "inputs_strong": json.dumps(STRONG), "outputs_strong": json.dumps(key)}
    return conform(pl.DataFrame([row]), PROBLEMS, "problems")


def _clusters(executor: SandboxExecutor, key: list[int]) -> tuple[frozenset, dict[int, str]]:
    samples = pl.DataFrame({"problem_id": ["p"] * 4, "sample_idx": [0, 1, 2, 3], "completion": PROGRAMS})
    results = code_tests.run_verifier("strong_io", _problems(key), samples, executor, {})
    members = defaultdict(set)
    for r in results:
        members[r.outputs].add(r.key[1])
    verdicts = {r.key[1]: r.verdict for r in results}
    return frozenset(frozenset(m) for m in members.values()), verdicts


@pytest.fixture(scope="module")
def executor():
    with SandboxExecutor(workers=1, cache_dir=None) as ex:
        yield ex


def test_clusters_do_not_depend_on_the_answer_key(executor):
    """Under key A (P1 right) a digest that stops at the first wrong output merges P2 and P3
    (both wrong on input 0, with the same output), a cluster of 2 that ties P1's; under key B
    (P2 right) they stay apart and P1 wins alone. Clustering by raw outputs on the weak
    inputs, all of them run, gives the same partition, hence the same vote, under both."""
    partition_a, verdicts_a = _clusters(executor, [0, 1, 2])
    partition_b, verdicts_b = _clusters(executor, [5, 6, 6])
    assert verdicts_a == {0: "pass", 1: "pass", 2: "fail", 3: "fail"}
    assert verdicts_b == {0: "fail", 1: "fail", 2: "pass", 3: "fail"}
    assert partition_a == partition_b == {frozenset({0, 1}), frozenset({2}), frozenset({3})}
    largest = max(partition_a, key=len)
    assert largest == frozenset({0, 1})  # the vote: P1's cluster, under either key


def test_clustering_inputs_are_the_weak_inputs():
    problem = _problems([0, 1, 2]).row(0, named=True)
    assert code_tests._suite("strong_io", problem).cluster_inputs == len(WEAK)
    assert code_tests._suite("weak_io", problem).cluster_inputs == len(WEAK)


def test_without_weak_inputs_the_clustering_inputs_are_the_seeds_at_the_front():
    """Plain HumanEval has no weak inputs: its augmented suite opens with the calls of its
    assertion test (augmentation's seeds), and those alone make the answer, not the added inputs
    meant to break slow programs (issue 15). Inputs with no seed at the front: all of them."""
    row = _problems([0, 1, 2]).row(0, named=True)
    seeded = {**row, "inputs_weak": "", "outputs_weak": "",
              "test": "def check(candidate):\n    assert candidate(0) == 0\n    assert candidate(1) == 1\n"}
    assert code_tests.cluster_inputs(seeded, STRONG) == 2
    assert code_tests.cluster_inputs(seeded, [[7], [0], [1]]) == 3  # no seed in front: all


def test_a_wrong_program_slow_on_added_inputs_has_an_answer_however_busy(executor):
    """A program wrong on the first seed and endless on an added input: the clustering inputs
    (the seeds) end before it, so it stops there with an answer, never at a clock."""
    row = _problems([0, 1, 2]).row(0, named=True)
    row = {**row, "inputs_weak": "", "outputs_weak": "",
           "test": "def check(candidate):\n    assert candidate(0) == 0\n    assert candidate(1) == 1\n"}
    problems = conform(pl.DataFrame([row]), PROBLEMS, "problems")
    slow = "def f(x):\n    while x == 2:\n        pass\n    return x + 1\n"
    samples = pl.DataFrame({"problem_id": ["p"], "sample_idx": [0], "completion": [slow]})
    [result] = code_tests.run_verifier("strong_io", problems, samples, executor, {"p": 0.5})
    assert (result.verdict, result.detail) == ("fail", "wrong output on input 0; got 1")
    assert result.outputs is not None and result.extra["tests_run"] == 2
