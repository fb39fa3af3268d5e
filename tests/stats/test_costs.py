"""Cost-of-pass and the cheapest frontier."""

from __future__ import annotations

import math

import polars as pl
import pytest

from stages.stats.costs import (
    cheapest,
    cost_of_pass,
    gpu_cost_per_sample,
    pareto_frontier,
    token_cost_per_sample,
)


def test_token_cost_uses_prices_per_million() -> None:
    samples = pl.DataFrame({"prompt_tokens": [1000, 3000], "completion_tokens": [500, 1500]})
    # mean: 2000 input tokens at $1/M + 1000 output tokens at $4/M = 0.002 + 0.004
    assert token_cost_per_sample(samples, 1.0, 4.0) == pytest.approx(0.006)


def test_gpu_cost_per_sample() -> None:
    assert gpu_cost_per_sample(3600.0, 100, 2.0) == pytest.approx(0.02)


def test_cost_of_pass_is_cost_over_accuracy_and_null_at_zero() -> None:
    curves = pl.DataFrame({"strategy": ["s", "s", "s"], "n": [1, 2, 4], "accuracy": [0.0, 0.5, 0.8]})
    out = cost_of_pass(curves, 0.01, model="m")
    assert out["cost_of_pass"].to_list()[0] is None
    assert out["cost_of_pass"].to_list()[1:] == pytest.approx([0.02 / 0.5, 0.04 / 0.8])


def test_sequential_strategy_is_charged_its_expected_draws_not_n() -> None:
    """resample_until_weak_pass on a pool where every sample passes stops after one draw."""
    from stages.stats.strategies import strategy_curves

    pool = pl.DataFrame({"problem_id": ["a"] * 4 + ["b"] * 4, "sample_idx": list(range(4)) * 2,
                         "cluster": ["x"] * 8, "score": [None] * 8, "weak_pass": [True] * 8,
                         "correct": [True, False] * 4})
    curves = strategy_curves(pool, ns=[1, 4], n_boot=0).filter(pl.col("strategy") != "oracle")
    out = cost_of_pass(curves, 0.01).filter(pl.col("n") == 4)
    by = {r["strategy"]: r for r in out.iter_rows(named=True)}
    assert by["resample_until_weak_pass"]["cost"] == pytest.approx(0.01)  # one draw, not four
    assert by["majority_vote"]["cost"] == pytest.approx(0.04)
    assert by["resample_until_weak_pass"]["cost_of_pass"] == pytest.approx(0.01 / 0.5)


def test_frontier_drops_dominated_rows() -> None:
    rows = pl.DataFrame({"model": ["a", "a", "b", "b"], "strategy": ["x"] * 4, "n": [1, 2, 1, 2],
                         "accuracy": [0.5, 0.6, 0.4, 0.9], "cost": [1.0, 2.0, 1.5, 3.0]})
    rows = rows.with_columns((pl.col("cost") / pl.col("accuracy")).alias("cost_of_pass"))
    front = pareto_frontier(rows)
    assert list(zip(front["model"], front["n"])) == [("a", 1), ("a", 2), ("b", 2)]
    best = cheapest(rows)
    assert best is not None and best["model"] == "a" and best["n"] == 1
    assert math.isclose(best["cost_of_pass"], 2.0)


def test_negative_prices_are_rejected() -> None:
    with pytest.raises(ValueError, match="prices"):
        token_cost_per_sample(pl.DataFrame({"prompt_tokens": [1], "completion_tokens": [1]}), -1.0, 1.0)
