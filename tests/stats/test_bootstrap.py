"""Bootstrap over problems: equivalence of forms, coverage, paired tests."""

from __future__ import annotations

import numpy as np
import pytest

from stages.stats.bootstrap import (
    bootstrap_mean,
    bootstrap_ratio,
    mean_estimate,
    paired_bootstrap,
    percentile_interval,
    resample_indices,
    resample_weights,
)


def test_weights_are_counts_of_resampled_indices() -> None:
    idx = resample_indices(30, 50, seed=4)
    w = resample_weights(30, 50, seed=4)
    assert w.sum(axis=1).tolist() == [30] * 50
    for b in range(50):
        np.testing.assert_array_equal(w[b], np.bincount(idx[b], minlength=30))


def test_matrix_mean_equals_indexed_mean() -> None:
    x = np.random.default_rng(0).random((25, 3))
    idx = resample_indices(25, 40, seed=9)
    np.testing.assert_allclose(bootstrap_mean(x, 40, seed=9), x[idx].mean(axis=1))


def test_ratio_is_ratio_of_resampled_sums() -> None:
    rng = np.random.default_rng(1)
    num, den = rng.integers(0, 5, 20), rng.integers(1, 9, 20)
    idx = resample_indices(20, 30, seed=2)
    np.testing.assert_allclose(bootstrap_ratio(num, den, 30, seed=2), num[idx].sum(1) / den[idx].sum(1))


def test_mean_interval_covers_truth_in_90_to_99_percent() -> None:
    rng = np.random.default_rng(3)
    hits = sum(
        (e := mean_estimate(rng.beta(0.6, 1.2, 80), 500, 0.95, seed)).ci_low <= 1 / 3 <= e.ci_high
        for seed in range(200)
    )
    assert 180 <= hits <= 198


def test_paired_bootstrap_cancels_problem_difficulty() -> None:
    rng = np.random.default_rng(5)
    difficulty = rng.random(100)
    better = np.clip(difficulty + 0.02, 0, 1)
    result = paired_bootstrap(better, difficulty, n_boot=1000, seed=0)
    assert result.ci_low > 0 and result.p_value <= 0.001 + 1e-12
    same = paired_bootstrap(difficulty, difficulty, n_boot=200)
    assert same.difference == 0 and same.p_value == 1.0


def test_paired_bootstrap_rejects_misaligned_runs() -> None:
    with pytest.raises(ValueError, match="aligned"):
        paired_bootstrap(np.zeros(3), np.zeros(4))


def test_percentile_interval_rejects_bad_level() -> None:
    with pytest.raises(ValueError, match="ci"):
        percentile_interval(np.zeros((5, 1)), 1.5)
