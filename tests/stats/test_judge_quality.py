"""Judge quality against gold: rates, calibration and intervals vs direct computation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages.stats.bootstrap import resample_indices
from stages.stats.judge_quality import judge_quality, plot_reliability


def _frames(seed: int = 0, problems: int = 40, per: int = 10) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    pid = np.repeat([f"p{i:02d}" for i in range(problems)], per)
    idx = np.tile(np.arange(per), problems)
    truth = rng.random(pid.size) < 0.4
    p_yes = np.clip(np.where(truth, 0.75, 0.3) + rng.normal(0, 0.15, pid.size), 0, 1)
    verdict = np.where(p_yes >= 0.5, "correct", "incorrect").astype(object)
    verdict[::17] = "judge_error"
    verdict[5::23] = "judge_unparseable"
    judge = pl.DataFrame({"problem_id": pid, "sample_idx": idx, "verdict": verdict,
                          "score": np.where(np.isin(verdict, ["correct", "incorrect"]), p_yes, np.nan)})
    judge = judge.with_columns(pl.col("score").fill_nan(None))
    gold = pl.DataFrame({"problem_id": pid, "sample_idx": idx,
                         "verdict": np.where(truth, "correct", "incorrect")})
    return judge, gold


def _direct(judge: pl.DataFrame, gold: pl.DataFrame, bins: int = 10) -> dict[str, float]:
    d = judge.join(gold, on=["problem_id", "sample_idx"], suffix="_g").filter(
        ~pl.col("verdict").is_in(["judge_error", "judge_unparseable"]))
    y = (d["verdict"] == "correct").to_numpy()
    t = (d["verdict_g"] == "correct").to_numpy()
    p = d["score"].to_numpy()
    b = np.clip(np.floor(p * bins), 0, bins - 1)
    ece = sum(abs(p[b == k].sum() - t[b == k].sum()) for k in range(bins)) / len(p)
    return {"tpr": (y & t).sum() / t.sum(), "fpr": (y & ~t).sum() / (~t).sum(),
            "precision": (y & t).sum() / y.sum(), "brier": np.mean((p - t) ** 2), "ece": ece}


def test_point_estimates_equal_direct_computation():
    judge, gold = _frames()
    q = judge_quality(judge, gold, n_boot=0)
    for name, value in _direct(judge, gold).items():
        assert q[name] == pytest.approx(value), name
    assert q["judge_failures"] == judge.filter(pl.col("verdict").str.starts_with("judge_")).height
    assert sum(r["count"] for r in q["reliability"]) == q["n_judged"]


def test_bootstrap_replicate_equals_recomputing_on_resampled_problems():
    """The weight-matrix bootstrap is checked against one replicate done by hand."""
    judge, gold = _frames(seed=3, problems=12)
    problems = sorted(judge["problem_id"].unique().to_list())
    draw = resample_indices(len(problems), 1, seed=11)[0]
    parts_j, parts_g = [], []
    for copy, i in enumerate(draw):
        tag = pl.lit(f"{problems[i]}#{copy}")
        parts_j.append(judge.filter(pl.col("problem_id") == problems[i]).with_columns(problem_id=tag))
        parts_g.append(gold.filter(pl.col("problem_id") == problems[i]).with_columns(problem_id=tag))
    by_hand = _direct(pl.concat(parts_j), pl.concat(parts_g))
    q = judge_quality(judge, gold, n_boot=1, seed=11, ci=0.5)
    for name in ("tpr", "fpr", "brier", "ece"):
        assert q[f"{name}_ci_low"] == pytest.approx(by_hand[name]), name


def test_intervals_bracket_the_estimate_and_failures_are_not_negatives():
    judge, gold = _frames()
    q = judge_quality(judge, gold, n_boot=300, seed=1)
    for name in ("tpr", "fpr", "precision", "brier", "ece"):
        assert q[f"{name}_ci_low"] <= q[name] <= q[f"{name}_ci_high"]
    assert q["positives"] + q["negatives"] == q["n_judged"]


def test_reliability_plot_is_written(tmp_path):
    judge, gold = _frames()
    path = tmp_path / "rel.png"
    plot_reliability(judge_quality(judge, gold, n_boot=0), path)
    assert path.stat().st_size > 1000
