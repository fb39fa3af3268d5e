"""Comparing runs: equal compute, crossover, paired tests on shared problems."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages.stats.compare import crossover, equal_compute, flops_per_sample, paired_difference
from stages.stats.passk import pass_at_k_matrix as pass_matrix


def test_equal_compute_buys_samples_by_cost() -> None:
    out = equal_compute([0.1, 0.2, 0.3, 0.4], [0.5, 0.6], cost_a=1.0, cost_b=2.0, budgets=[1, 2, 4, 8])
    assert out["n_a"].to_list() == [1, 2, 4, 8]
    np.testing.assert_allclose(out["accuracy_a"].to_numpy()[:3], [0.1, 0.2, 0.4])
    assert np.isnan(out["accuracy_a"][3]) and np.isnan(out["accuracy_b"][0])  # beyond N / below 1 sample
    np.testing.assert_allclose(out["accuracy_b"].to_numpy()[1:3], [0.5, 0.6])


def test_flops_rule() -> None:
    assert flops_per_sample(7e9, 500) == pytest.approx(7e12)


def test_crossover_finds_first_n_and_brackets_it() -> None:
    rng = np.random.default_rng(0)
    p_small = rng.beta(0.5, 3.0, 200)
    p_large = np.clip(p_small * 3, 0, 1)
    n = np.full(200, 50)
    small = pass_matrix(n, rng.binomial(50, p_small), np.arange(1, 51))
    large_1 = rng.binomial(50, p_large) / 50
    out = crossover(small, large_1, n_boot=300)
    expected = int(np.argmax(small.mean(0) >= large_1.mean())) + 1
    assert out["n"] == expected
    assert out["n_ci_low"] <= out["n"] <= out["n_ci_high"]


def test_crossover_is_inf_when_never_reached() -> None:
    out = crossover(np.full((5, 3), 0.1), np.full(5, 0.9), n_boot=50)
    assert out["n"] == np.inf and out["n_ci_high"] == np.inf


def test_paired_difference_uses_shared_problems_only() -> None:
    a = pl.DataFrame({"problem_id": ["x", "y", "z"], "acc": [1.0, 1.0, 0.0]})
    b = pl.DataFrame({"problem_id": ["y", "z", "w"], "acc": [0.0, 0.0, 1.0]})
    result = paired_difference(a, b, "acc", n_boot=100)
    assert result.n_problems == 2 and result.difference == pytest.approx(0.5)
    with pytest.raises(ValueError, match="share no problems"):
        paired_difference(a, b.filter(pl.col("problem_id") == "w"), "acc")


def test_compare_counts_pairs_shared_problems_and_reports_crossover() -> None:
    from stages.stats.compare import compare_counts

    rng = np.random.default_rng(3)
    p = rng.beta(0.5, 2.0, 60)
    ids = [f"p{i}" for i in range(60)]
    small = pl.DataFrame({"problem_id": ids, "verifier": "v", "n": 20, "c": rng.binomial(20, p)})
    large = pl.DataFrame({"problem_id": ids[:50], "verifier": "v", "n": 10, "c": rng.binomial(10, np.clip(3 * p[:50], 0, 1))})
    metrics, table = compare_counts(small, large, "v", cost_a=1.0, cost_b=5.0, ks=[1, 10, 100], n_boot=200)
    assert metrics["shared_problems"] == 50
    assert metrics["pass@1_diff"] < 0 and "pass@100_diff" not in metrics
    assert metrics["crossover_a_reaches_b_at_1"]["n"] > 1
    assert table.height == 20 and table["n_b"].to_list()[4] == 1  # budget 5 buys one large sample
    with pytest.raises(ValueError, match="verifier 'w'"):
        compare_counts(small, large, "w", 1.0, 1.0, [1])
