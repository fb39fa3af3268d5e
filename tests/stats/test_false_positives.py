"""False-positive accounting recovers a known false-positive rate with honest intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages.stats.false_positives import (
    pair_counts,
    paired_flags,
    per_problem_rates,
    pooled_rates,
    selection_pool,
)


def simulated_verdicts(seed: int, problems: int = 80, n: int = 30, fp_rate: float = 0.2) -> pl.DataFrame:
    """Strong truth ~ Bernoulli(p_i); a wrong sample passes the weak suite with ``fp_rate``."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 1.2, problems)
    correct = rng.random((problems, n)) < p[:, None]
    weak = correct | (rng.random((problems, n)) < fp_rate)
    pid = np.repeat([f"p{i:03d}" for i in range(problems)], n)
    idx = np.tile(np.arange(n), problems)
    def rows(name, ok):
        return pl.DataFrame({"problem_id": pid, "sample_idx": idx, "verifier": name,
                             "verdict": np.where(ok.ravel(), "pass", "fail"), "answer": None, "score": None},
                            schema_overrides={"answer": pl.String, "score": pl.Float64})
    return pl.concat([rows("weak", weak), rows("strong", correct)])


def test_pooled_rates_match_direct_counts() -> None:
    verdicts = simulated_verdicts(0)
    flags = paired_flags(verdicts, "weak", "strong")
    out = pooled_rates(pair_counts(flags), n_boot=200)
    wp, sp = flags["weak_pass"].to_numpy(), flags["strong_pass"].to_numpy()
    assert out["fp_share_of_weak_passes"] == pytest.approx((wp & ~sp).sum() / wp.sum())
    assert out["weak_pass_strong_fail"] == pytest.approx((wp & ~sp).mean())
    assert out["weak_fail_strong_pass"] == 0.0
    assert out["fp_share_of_weak_passes_ci_low"] <= out["fp_share_of_weak_passes"] <= out["fp_share_of_weak_passes_ci_high"]


def test_interval_covers_the_known_false_positive_rate() -> None:
    """P(weak pass and strong fail) = fp_rate * E[1 - p]; the 95% interval covers it in 90-99% of 100 runs."""
    truth = 0.2 * (1 - 0.6 / 1.8)
    hits = 0
    for seed in range(100):
        counts = pair_counts(paired_flags(simulated_verdicts(seed), "weak", "strong"))
        out = pooled_rates(counts, n_boot=300, seed=seed)
        hits += out["weak_pass_strong_fail_ci_low"] <= truth <= out["weak_pass_strong_fail_ci_high"]
    assert 90 <= hits <= 99


def test_per_problem_rates_have_exact_binomial_intervals() -> None:
    counts = pl.DataFrame({"problem_id": ["a", "b"], "n": [10, 10], "weak_pass": [4, 0], "strong_pass": [2, 0],
                           "wp_sf": [2, 0], "wf_sp": [0, 0]})
    out = per_problem_rates(counts)
    a = out.row(0, named=True)
    assert a["fp_share_of_weak_passes"] == 0.5 and a["fp_share_of_weak_passes_ci_low"] < 0.5 < a["fp_share_of_weak_passes_ci_high"]
    assert out.row(1, named=True)["fp_share_of_weak_passes"] is None  # no weak passes: undefined


def test_missing_verifier_is_named() -> None:
    with pytest.raises(ValueError, match="'plus'"):
        paired_flags(simulated_verdicts(1, problems=2), "weak", "plus")


def test_unpaired_samples_are_reported() -> None:
    verdicts = simulated_verdicts(1, problems=2).filter(~((pl.col("verifier") == "strong") & (pl.col("sample_idx") == 0)))
    with pytest.raises(ValueError, match="2 sample"):
        paired_flags(verdicts, "weak", "strong")


def test_selection_pool_clusters_by_weak_answer_or_verdict() -> None:
    flags = paired_flags(simulated_verdicts(2, problems=3), "weak", "strong")
    pool = selection_pool(flags)
    assert set(pool["cluster"].unique()) <= {"verdict:pass", "verdict:fail"}
    assert pool.columns == ["problem_id", "sample_idx", "cluster", "score", "weak_pass", "correct"]


def test_judge_failures_are_left_out_not_read_as_no() -> None:
    verdicts = simulated_verdicts(3, problems=2, n=5).with_columns(
        pl.when((pl.col("verifier") == "weak") & (pl.col("sample_idx") == 0)).then(pl.lit("judge_error"))
        .otherwise(pl.col("verdict")).alias("verdict"))
    flags = paired_flags(verdicts, "weak", "strong")
    assert flags.height == 8 and 0 not in flags["sample_idx"].to_list()
