"""pass@k curves: exactness, unbiasedness and interval coverage on simulated truth."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from scipy.special import betaln

from stages.schemas import CURVE
from stages.stats.curves import as_counts, curve, curve_arrays
from stages.stats.passk import pass_at_k_matrix as pass_matrix


def simulate_counts(rng: np.random.Generator, problems: int, n: int, alpha: float, beta: float):
    """p_i ~ Beta(alpha, beta), c_i ~ Binomial(n, p_i): data whose truth is known."""
    p = rng.beta(alpha, beta, problems)
    return p, np.full(problems, n), rng.binomial(n, p)


def test_matrix_equals_subset_enumeration() -> None:
    n, c = 7, 3
    truth = [np.mean([any(i < c for i in s) for s in itertools.combinations(range(n), k)]) for k in range(1, n + 1)]
    np.testing.assert_allclose(pass_matrix([n], [c], np.arange(1, n + 1))[0], truth, atol=1e-12)


def test_matrix_is_nan_where_k_exceeds_a_problems_n() -> None:
    """pass@k is not identified from fewer than k samples: NaN, never a number."""
    m = pass_matrix([3, 5], [1, 2], [1, 4])
    assert np.isnan(m[0, 1]) and np.isfinite(m[1]).all()


def test_pass_at_k_is_unbiased_over_replicates() -> None:
    """Mean estimate over 400 seeded replicates lies within 3 standard errors of 1 - (1-p)^k."""
    rng = np.random.default_rng(1)
    p = rng.beta(0.6, 1.2, 50)
    ks = np.array([1, 2, 5, 10, 20])
    truth = (1 - (1 - p[:, None]) ** ks[None, :]).mean(axis=0)
    est = np.array([pass_matrix(np.full(50, 20), rng.binomial(20, p), ks).mean(axis=0) for _ in range(400)])
    se = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(axis=0) - truth) <= 3 * se + 1e-12)


def test_bootstrap_intervals_cover_population_truth() -> None:
    """95% intervals over problems cover the population coverage in 90-99% of 200 replicates."""
    rng = np.random.default_rng(2)
    alpha, beta, ks = 0.6, 1.2, np.array([1, 10, 50])
    truth = 1 - np.exp(betaln(alpha, beta + ks) - betaln(alpha, beta))
    hits = np.zeros(ks.size)
    for rep in range(200):
        _, n, c = simulate_counts(rng, 100, 50, alpha, beta)
        _, low, high = curve_arrays(n, c, ks, n_boot=500, ci=0.95, seed=rep)
        hits += (low <= truth) & (truth <= high)
    rate = hits / 200
    assert np.all((rate >= 0.90) & (rate <= 0.99)), rate


def test_curve_from_verdicts_equals_curve_from_counts() -> None:
    verdicts = pl.DataFrame(
        {
            "problem_id": ["a"] * 4 + ["b"] * 4,
            "sample_idx": [0, 1, 2, 3] * 2,
            "verifier": ["v"] * 8,
            "verdict": ["pass", "fail", "fail", "timeout", "fail", "fail", "fail", "fail"],
        }
    )
    counts = pl.DataFrame({"problem_id": ["a", "b"], "n": [4, 4], "c": [1, 0]})
    from_verdicts = curve(verdicts, n_boot=0)
    from_counts = curve(counts, n_boot=0)
    assert from_verdicts.schema == pl.Schema(CURVE)
    np.testing.assert_allclose(from_verdicts["pass_at_k"], from_counts["pass_at_k"])
    np.testing.assert_allclose(from_counts["pass_at_k"], [0.125, 0.25, 0.375, 0.5])


def test_curve_covers_every_k_up_to_smallest_n_per_verifier() -> None:
    counts = pl.DataFrame({"problem_id": ["a", "b", "a", "b"], "verifier": ["w", "w", "s", "s"],
                           "n": [10, 8, 5, 5], "c": [3, 0, 1, 1]})
    out = curve(counts, n_boot=50)
    assert out.filter(pl.col("verifier") == "w")["k"].to_list() == list(range(1, 9))
    assert out.filter(pl.col("verifier") == "s")["k"].to_list() == list(range(1, 6))


def test_bad_counts_name_the_problem() -> None:
    with pytest.raises(ValueError, match="'b'"):
        as_counts(pl.DataFrame({"problem_id": ["a", "b"], "n": [4, 4], "c": [1, 5]}))
