"""The nightly regression test: a paired bootstrap over problems flags a real drop, not noise."""

from __future__ import annotations

import numpy as np
import polars as pl

from flows.regression import compare_runs, markdown, metric_k


def _counts(c: np.ndarray, n: int = 20) -> pl.DataFrame:
    return pl.DataFrame({"problem_id": [f"P{i}" for i in range(len(c))], "verifier": "weak_assert",
                         "n": n, "c": c.astype(np.int64)})


def test_metric_names() -> None:
    assert metric_k("pass@10", 20) == 10 and metric_k("coverage@100", 20) == 20
    assert metric_k("pass@100", 20) is None


def test_identical_runs_are_not_a_regression() -> None:
    c = np.random.default_rng(0).integers(0, 21, 60)
    out = compare_runs(_counts(c), _counts(c), "weak_assert", ["pass@1", "pass@10"], 500, 0.95)
    assert [o.metric for o in out] == ["pass@1", "pass@10"]
    assert not any(o.regressed for o in out) and all(o.difference == 0 for o in out)


def test_a_clear_drop_is_a_regression_and_is_listed() -> None:
    rng = np.random.default_rng(1)
    old = rng.integers(5, 21, 60)
    new = np.maximum(old - 5, 0)  # every problem got worse
    out = compare_runs(_counts(old), _counts(new), "weak_assert", ["pass@1"], 500, 0.95,
                         labels={"model": "m", "dataset": "d", "previous_run_id": "r0"})
    assert out[0].regressed and out[0].ci_high < 0 and out[0].new < out[0].old
    md = markdown(out, "t")
    assert "**1 regression(s)**" in md and "REGRESSION" in md and "`r0`" in md


def test_an_improvement_is_not_a_regression() -> None:
    old = np.random.default_rng(2).integers(0, 15, 60)
    out = compare_runs(_counts(old), _counts(old + 5), "weak_assert", ["pass@1"], 500, 0.95)
    assert not out[0].regressed and out[0].ci_low > 0
