"""Expected outputs: the reference's outputs per input, cached, failures dropped and reported."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from stages.datasets import evalplus, typed_json
from stages.datasets.expected_outputs import (
    RefOutcome,
    SandboxReferenceRunner,
    cached_outcomes,
    fill_expected_outputs_with_report,
    not_none_outcome,
)
from stages.schemas import PROBLEMS
from tests.datasets.trusted_runner import TrustedRunner


def _problem(inputs_weak: list, inputs_strong: list) -> pl.DataFrame:
    row = {c: "" for c in PROBLEMS} | {
        "problem_id": "P/0", "dataset": "t", "kind": "code", "program_prefix": "def f(x):\n",
        "reference": "    return 10 // x\n", "entry_point": "f", "atol": 0.0, "dataset_hash": "h",
        "inputs_weak": typed_json.encode(inputs_weak), "inputs_strong": typed_json.encode(inputs_strong)}
    return pl.DataFrame([row], schema=PROBLEMS)


def test_outputs_filled_and_failing_inputs_dropped_and_reported(tmp_path: Path) -> None:
    runner = TrustedRunner()
    out, report = fill_expected_outputs_with_report(
        _problem([[1], [2]], [[1], [2], [0], [5]]), runner=runner, cache_dir=tmp_path)
    row = out.row(0, named=True)
    assert json.loads(row["outputs_weak"]) == [10, 5]
    assert typed_json.decode(row["inputs_strong"]) == [[1], [2], [5]]  # 10 // 0 raised
    assert json.loads(row["outputs_strong"]) == [10, 5, 2]
    assert report.dropped == {"P/0": 1} and "ZeroDivisionError" in report.details["P/0"]
    assert runner.calls == 1  # the weak inputs are part of the strong run: one execution


def test_cache_is_keyed_by_dataset_hash_and_content(tmp_path: Path) -> None:
    runner = TrustedRunner()
    args = ("def f(x):\n    return x\n", "f", [[1], [2]])
    first = cached_outcomes(runner, *args, dataset_hash="h1", cache_dir=tmp_path)
    again = cached_outcomes(runner, *args, dataset_hash="h1", cache_dir=tmp_path)
    assert first == again and runner.calls == 1
    cached_outcomes(runner, *args, dataset_hash="h2", cache_dir=tmp_path)
    assert runner.calls == 2 and len(list(tmp_path.glob("h*/*.json"))) == 2


def test_sandbox_runner_keeps_each_inputs_own_outcome() -> None:
    """One bad input costs one extra run, not the outputs of the others."""
    program = ("def f(x):\n    if x == 3:\n        raise ValueError('three')\n"
               "    if x == 5:\n        while True:\n            pass\n    return (x, [x])\n")
    runner = SandboxReferenceRunner()
    try:
        got = runner(program, "f", [[1], [3], [4], [5], [6]], 1.0)
        broken = runner("def f(:\n", "f", [[1], [2]], 1.0)
    finally:
        runner.close()
    assert [o.status for o in got] == ["ok", "error", "ok", "timeout", "ok"]
    assert got[0].output == "[1,[1]]" and "three" in got[1].detail
    assert [o.status for o in broken] == ["error", "error"]


def test_an_input_that_ran_out_of_a_shared_limit_gets_a_run_of_its_own() -> None:
    """Inputs in one run share its limit, so whether the fourth of five 0.15 s inputs fits in
    0.5 s depends on nothing about it; it is re-run alone and kept, so a strong suite does not
    move with load (augment on a fresh clone kept 2 or 3 seeds of HumanEval/4). An input that
    times out on its own run too stays a timeout."""
    program = ("import time\n\ndef f(x):\n    t = time.process_time()\n"
               "    while time.process_time() - t < (5 if x < 0 else 0.15):\n        pass\n    return x\n")
    runner = SandboxReferenceRunner()
    try:
        got = runner(program, "f", [[1], [2], [3], [4], [5]], 0.5)
        slow = runner(program, "f", [[1], [-1], [2]], 0.5)
    finally:
        runner.close()
    assert [o.status for o in got] == ["ok"] * 5
    assert [o.status for o in slow] == ["ok", "timeout", "ok"]


def test_sandbox_runner_passes_typed_inputs() -> None:
    """Tuples, sets and complex numbers reach the reference as such (MBPP+ contracts need it)."""
    program = "def f(x):\n    return [type(x).__name__, len(x) if hasattr(x, '__len__') else 0]\n"
    runner = SandboxReferenceRunner()
    try:
        got = runner(program, "f", [[(1, 2)], [{3}], [1j], [[4]]], 5.0)
    finally:
        runner.close()
    assert [json.loads(o.output)[0] for o in got] == ["tuple", "set", "complex", "list"]


@pytest.mark.mirror
def test_humanevalplus_reference_outputs_in_the_sandbox(mirror_dir: Path, tmp_path: Path) -> None:
    problems = evalplus.raw_problems("humanevalplus").head(3)
    out, report = fill_expected_outputs_with_report(problems, cache_dir=tmp_path)
    assert report.total_dropped == 0
    for row in out.iter_rows(named=True):
        assert len(json.loads(row["outputs_strong"])) == len(typed_json.decode(row["inputs_strong"]))
    assert json.loads(out.row(0, named=True)["outputs_weak"])[:2] == [True, False]


def test_huge_ints_are_dropped_but_long_strings_kept(tmp_path: Path) -> None:
    """An int of over MAX_INT_DIGITS digits costs quadratic time to print: dropped, with why;
    a string output of the same length is cheap and stays in the suite."""
    from stages.datasets.expected_outputs import MAX_INT_DIGITS

    problem = _problem([[1]], [[1], [2]]).with_columns(
        program_prefix=pl.lit("def f(x):\n"),
        reference=pl.lit(f"    return '7' * {MAX_INT_DIGITS + 5} if x == 1 else 'x' * {MAX_INT_DIGITS + 5}\n"))

    class IntRunner(TrustedRunner):
        def __call__(self, program, entry, inputs, timeout_s):  # the '7'*n string printed as a bare int
            return [RefOutcome("ok", "7" * (MAX_INT_DIGITS + 5) if a == [1] else json.dumps("x" * (MAX_INT_DIGITS + 5)))
                    for a in inputs]

    out, report = fill_expected_outputs_with_report(problem, runner=IntRunner(), cache_dir=tmp_path)
    row = out.row(0, named=True)
    assert typed_json.decode(row["inputs_strong"]) == [[2]]
    assert report.dropped == {"P/0": 2} and f"over {MAX_INT_DIGITS} digits" in report.details["P/0"]


def test_not_none_tasks_expect_whether_the_reference_returned_something() -> None:
    """EvalPlus's ground truth for MBPP+'s re.Match tasks: ``out is not None``. A match, which
    the codec cannot carry, is something; a None is not; the input is kept either way."""
    match = RefOutcome("error", None, "Unencodable: unencodable output of type Match")
    assert not_none_outcome(match) == RefOutcome("ok", "true")
    assert not_none_outcome(RefOutcome("ok", "null")) == RefOutcome("ok", "false")
    assert not_none_outcome(RefOutcome("ok", '"x"')) == RefOutcome("ok", "true")
    crash = RefOutcome("error", None, "ValueError: bad")
    assert not_none_outcome(crash) == crash
