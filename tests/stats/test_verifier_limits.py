"""Inference Scaling fLaws closed forms against a simulation of resample-until-pass."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages.stats.verifier_limits import (
    accuracy_matrix,
    analyze_limits,
    ceiling,
    flaws_counts,
    simulate_resample_until_pass,
    utility_matrix,
)


def rates(seed: int, problems: int = 40):
    rng = np.random.default_rng(seed)
    p_c = rng.beta(0.6, 1.5, problems)
    p_fp = (1 - p_c) * rng.uniform(0, 0.3, problems)
    return p_c, p_fp


@pytest.mark.parametrize("k", [1, 3, 10])
def test_closed_form_equals_monte_carlo(k: int) -> None:
    p_c, p_fp = rates(0)
    sim_acc, sim_util = simulate_resample_until_pass(p_c, p_fp, k, trials=10000, seed=k, cost=2.0)
    acc = accuracy_matrix(p_c, p_fp, [k])[:, 0]
    util = utility_matrix(p_c, p_fp, [k], 2.0)[:, 0]
    se_acc = np.sqrt(acc * (1 - acc) / 10000) + 1e-12
    assert np.all(np.abs(sim_acc - acc) <= 4.5 * se_acc)
    assert abs(sim_util.mean() - util.mean()) < 0.01


def test_accuracy_rises_to_but_never_past_the_ceiling() -> None:
    p_c, p_fp = rates(1)
    acc = accuracy_matrix(p_c, p_fp, np.array([1, 10, 100, 10_000]))
    assert np.all(np.diff(acc, axis=1) >= -1e-15)
    assert np.all(acc <= ceiling(p_c, p_fp)[:, None] + 1e-12)
    np.testing.assert_allclose(acc[:, -1], ceiling(p_c, p_fp), atol=1e-6)


def test_optimal_k_is_finite_when_false_positives_are_costly() -> None:
    # one easy problem (no false positives) and one dominated by false positives
    counts = pl.DataFrame({"problem_id": ["easy", "trap"], "n": [100, 100], "tp": [5, 1], "fp": [0, 30]})
    out = analyze_limits(counts, costs=[0.0, 5.0], ks=np.arange(1, 200), n_boot=0)
    rows = {row["cost"]: row for row in out["optimal"].to_dicts()}
    # free mistakes: more samples always help -- the utility saturates, there is no optimal k
    assert rows[0.0]["saturates"] and rows[0.0]["k_opt"] is None
    assert not rows[5.0]["saturates"] and rows[5.0]["k_opt"] < 50  # costly mistakes: stop early
    assert out["ceiling"]["value"] == pytest.approx((1.0 + 1 / 31) / 2)


def test_flaws_counts_from_pool() -> None:
    pool = pl.DataFrame({"problem_id": ["a"] * 4, "weak_pass": [True, True, False, True], "correct": [True, False, False, True]})
    row = flaws_counts(pool).row(0, named=True)
    assert (row["n"], row["tp"], row["fp"]) == (4, 2, 1)


def test_intervals_bracket_the_curves() -> None:
    p_c, p_fp = rates(2, problems=60)
    n = 50
    counts = pl.DataFrame({"problem_id": [f"p{i}" for i in range(60)], "n": [n] * 60,
                           "tp": np.round(p_c * n).astype(int), "fp": np.round(p_fp * n).astype(int)})
    out = analyze_limits(counts, costs=[1.0], ks=np.arange(1, 30), n_boot=200)
    acc = out["accuracy"]
    assert acc.filter((pl.col("ci_low") > pl.col("accuracy")) | (pl.col("ci_high") < pl.col("accuracy"))).height == 0
    assert out["ceiling"]["ci_low"] <= out["ceiling"]["value"] <= out["ceiling"]["ci_high"]


def test_the_budget_grid_stops_at_n_unless_extrapolation_is_asked_for() -> None:
    from stages.stats.verifier_limits import k_grid

    grid, extrapolated = k_grid(pool_n=100, k_max=1000, extrapolate=False)
    assert grid.max() == 100 and not extrapolated
    grid, extrapolated = k_grid(pool_n=100, k_max=1000, extrapolate=True)
    assert grid.max() == 1000 and extrapolated
    counts = pl.DataFrame({"problem_id": ["a", "b"], "n": [100, 100], "tp": [5, 1], "fp": [0, 30]})
    out = analyze_limits(counts, [5.0], grid, n_boot=20, extrapolated=extrapolated)
    assert out["optimal"].row(0, named=True)["extrapolated"] is True
