"""The whole analysis on simulated verdicts: every part present, JSON-safe, skips explained."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from stages.params import AnalyzeParams
from stages.stats.analysis import finite, pick_pair, run_analysis


def simulated_run(problems: int = 30, n: int = 40, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Verdicts of weak_io / strong_io with output-signature answers, and samples with tokens."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 1.2, problems)
    correct = rng.random((problems, n)) < p[:, None]
    weak = correct | (rng.random((problems, n)) < 0.15)
    answer = np.where(correct, "right", np.char.add("wrong", rng.integers(0, 3, (problems, n)).astype(str)))
    pid = np.repeat([f"p{i:02d}" for i in range(problems)], n)
    idx = np.tile(np.arange(n), problems)

    def rows(name: str, ok: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({"problem_id": pid, "sample_idx": idx, "verifier": name,
                             "verdict": np.where(ok.ravel(), "pass", "fail"), "answer": answer.ravel(),
                             "score": rng.random(pid.size)})

    samples = pl.DataFrame({"problem_id": pid, "sample_idx": idx, "prompt_tokens": 200, "completion_tokens": 100,
                            "mean_logprob": -rng.random(pid.size)})
    return pl.concat([rows("weak_io", weak), rows("strong_io", correct)]), samples


PARAMS = AnalyzeParams(bootstrap=200, utility_k_max=100, strategy_replicates=50)


def test_full_analysis_has_every_part_and_is_json_safe() -> None:
    verdicts, samples = simulated_run()
    result = run_analysis(verdicts, PARAMS, seed=1, samples=samples, model="sim")
    for table in ("counts", "curve", "fit_params", "extrapolation", "backtest", "false_positives",
                  "limits_accuracy", "utility", "utility_optimal", "strategies", "cost_of_pass", "frontier"):
        assert table in result.tables and result.tables[table].height > 0, table
    metrics = result.metrics
    assert {"pass@1", "pass@10", "pass@1_ci", "coverage@40"} <= set(metrics["strong_io"])
    assert metrics["false_positives"]["weak"] == "weak_io"
    assert 0 < metrics["false_positives"]["fp_share_of_weak_passes"] < 1
    assert set(metrics["strategies"]) >= {"majority_vote", "best_of_majority", "surprisal_guided"}
    assert metrics["costs"]["cost_per_sample"] == pytest.approx((200 * 0.15 + 100 * 0.60) / 1e6)
    json.dumps(metrics, allow_nan=False)


def test_numbers_do_not_depend_on_the_number_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fits and Monte Carlo problems run in threads (as many as cores); each part seeds its own
    generator, so one thread and many give the same metrics and tables, bit for bit. The core
    count is set (4, then 1), so that the test compares the two on a one-core machine too."""
    import stages.stats.analysis as analysis_module
    import stages.stats.strategies as strategies_module

    verdicts, samples = simulated_run(problems=12, n=40)

    def with_cores(cores: int):
        for module in (analysis_module, strategies_module):
            monkeypatch.setattr(module.os, "cpu_count", lambda: cores)
        return run_analysis(verdicts, PARAMS, seed=3, samples=samples)

    many, one = with_cores(4), with_cores(1)
    assert many.tables["strategies"].filter(pl.col("method") == "monte_carlo").height  # threads used
    assert json.dumps(many.metrics, sort_keys=True) == json.dumps(one.metrics, sort_keys=True)
    assert set(many.tables) == set(one.tables)
    for name, table in many.tables.items():
        assert table.equals(one.tables[name]), name


def test_counts_only_skips_the_pair_parts_with_a_reason() -> None:
    counts = pl.DataFrame({"problem_id": [f"p{i}" for i in range(20)], "n": [32] * 20,
                           "c": np.random.default_rng(0).integers(0, 33, 20)})
    result = run_analysis(counts, PARAMS, seed=0)
    assert "curve" in result.tables and "strategies" not in result.tables
    assert "pair" in result.metrics["skipped"]
    assert result.metrics["fits"]["counts"]["backtest"]["n_fit"] == 4


def test_pair_picking() -> None:
    assert pick_pair(["weak_assert", "weak_io", "strong_io"]) == ("weak_assert", "strong_io")
    assert pick_pair(["math_answer", "judge:synthetic"]) == ("judge:synthetic", "math_answer")
    assert pick_pair(["weak_io"]) is None
    with pytest.raises(ValueError, match="plus"):
        pick_pair(["weak_io", "strong_io"], "weak_io", "plus")


def test_finite_turns_nan_and_inf_into_none() -> None:
    assert finite({"a": [float("nan"), 1.0], "b": float("inf"), "c": np.int64(3)}) == {"a": [None, 1.0], "b": None, "c": 3}


def test_error_rows_leave_n_and_are_counted_per_verifier() -> None:
    """Failed generations are not wrong answers: out of n, counted as n_failed, shortfalls named."""
    verdicts, samples = simulated_run(problems=8, n=12)
    failed = (pl.col("problem_id") == "p00") & (pl.col("sample_idx") < 9)  # p00 keeps 3 judged samples
    verdicts = verdicts.with_columns(pl.when(failed).then(pl.lit("gen_error")).otherwise(pl.col("verdict")).alias("verdict"))
    params = AnalyzeParams(bootstrap=20, utility_k_max=20, strategy_replicates=10, headline_k=[1, 10])
    metrics = run_analysis(verdicts, params, seed=0, samples=samples).metrics
    for name in ("weak_io", "strong_io"):
        assert metrics[name]["n_failed"] == 9
        assert "pass@10" not in metrics[name] and "p00" in metrics[name]["skipped"]["pass@10"]
    assert "coverage@3" in metrics["strong_io"]  # the curve stops at the smallest judged n
    assert metrics["false_positives"]["n_samples"] == 8 * 12 - 9


def test_strategies_without_scores_are_skipped_with_the_reason() -> None:
    verdicts, samples = simulated_run(problems=8, n=12)
    verdicts = verdicts.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    samples = samples.with_columns(pl.lit(None, dtype=pl.Float64).alias("mean_logprob"))
    result = run_analysis(verdicts, AnalyzeParams(bootstrap=20, utility_k_max=20, strategy_replicates=10), 0, samples)
    strategies = result.metrics["strategies"]
    for name in ("best_of_n", "weighted_majority", "surprisal_guided", "best_of_majority"):
        assert "scores" in strategies[name]["skipped"]
        assert name not in set(result.tables["strategies"]["strategy"])
    assert "acc@12" in strategies["majority_vote"]
