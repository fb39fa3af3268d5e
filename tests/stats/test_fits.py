"""Scaling-law fits recover the generating population (p_i ~ Beta) within stated tolerances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import betaln

from stages.stats.bootstrap import resample_weights
from stages.stats.curves import log_spaced_ks
from stages.stats.fits import (
    ESTIMATORS,
    _bb_loglik,
    analyze_fits,
    backtest,
    beta_coverage,
    beta_k_for,
    fit_beta_binomial,
    fit_beta_binomial_batch,
    fit_power_law_batch,
    power_law_coverage,
    power_law_k_for,
)
from stages.stats.passk import pass_at_k_matrix as pass_matrix

ALPHA, BETA = 0.5, 2.0


def population(seed: int, problems: int = 1000, n: int = 200):
    rng = np.random.default_rng(seed)
    p = rng.beta(ALPHA, BETA, problems)
    return np.full(problems, n), rng.binomial(n, p)


def true_coverage(ks: np.ndarray) -> np.ndarray:
    return 1 - np.exp(betaln(ALPHA, BETA + ks) - betaln(ALPHA, BETA))


@pytest.mark.parametrize("seed", range(3))
def test_beta_binomial_mle_recovers_alpha_beta_within_20_percent(seed: int) -> None:
    n, c = population(seed)
    alpha, beta = fit_beta_binomial(n, c)
    assert abs(alpha / ALPHA - 1) < 0.2 and abs(beta / BETA - 1) < 0.2, (alpha, beta)


@pytest.mark.parametrize("seed", range(3))
def test_power_law_tracks_population_coverage_within_004(seed: int) -> None:
    """exp(a k^b) fitted on 1000 problems x 200 samples stays within 0.04 of the truth, and
    its exponent approaches -alpha (Schaeffer et al. 2025) within 0.1."""
    n, c = population(seed)
    ks = log_spaced_ks(200, 30)
    fit = fit_power_law_batch(ks, pass_matrix(n, c, ks).mean(axis=0), 1 - 1 / n.size)
    pred = power_law_coverage(fit["a"][0], fit["b"][0], ks)
    assert np.max(np.abs(pred - true_coverage(ks))) < 0.04
    assert abs(fit["b"][0] + ALPHA) < 0.1
    assert fit["r2"][0] > 0.98


def test_power_law_fit_is_exact_on_an_exact_power_law() -> None:
    ks = np.arange(1, 100)
    fit = fit_power_law_batch(ks, power_law_coverage(-1.3, -0.4, ks))
    assert fit["a"][0] == pytest.approx(-1.3) and fit["b"][0] == pytest.approx(-0.4)
    assert power_law_k_for(-1.3, -0.4, 0.9) == pytest.approx((np.log(0.9) / -1.3) ** (1 / -0.4))


def test_beta_coverage_and_target_k_agree() -> None:
    k = beta_k_for(ALPHA, BETA, 0.8)
    assert beta_coverage(ALPHA, BETA, k) >= 0.8 > beta_coverage(ALPHA, BETA, k - 1)


def test_batched_bootstrap_fit_equals_per_replicate_optimiser() -> None:
    n, c = population(7, problems=150, n=100)
    w = resample_weights(n.size, 5, seed=3)
    start = fit_beta_binomial(n, c)
    alpha, beta = fit_beta_binomial_batch(n, c, w, start)
    for i in range(5):
        res = minimize(lambda t, row=w[i]: -_bb_loglik(t, n.astype(float), c.astype(float), row), np.log(start),
                       method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
        np.testing.assert_allclose([alpha[i], beta[i]], np.exp(res.x), rtol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_backtest_predicts_coverage_at_n_within_003(seed: int) -> None:
    n, c = population(seed)
    rows = {r["estimator"]: r for r in backtest(n, c, seed=seed, estimators=("power_law", "beta"), n_boot=0)}
    assert rows["beta"]["n_fit"] == 25 and rows["beta"]["n_predict"] == 200
    for name, row in rows.items():
        assert abs(row["error"]) < 0.03, (name, row)


def test_analyze_fits_intervals_bracket_points_and_truth() -> None:
    n, c = population(11, problems=400, n=100)
    fits = analyze_fits(n, c, n_boot=300, seed=1, target_coverage=0.8)
    assert set(fits) == set(ESTIMATORS)
    beta = fits["beta"].params
    assert beta["alpha_ci_low"] <= ALPHA <= beta["alpha_ci_high"]
    assert beta["beta_ci_low"] <= BETA <= beta["beta_ci_high"]
    for name, fit in fits.items():
        ext = fit.extrapolation
        assert ext["k"].max() >= 1000  # 10 x N
        assert np.all(ext["ci_low"] <= ext["coverage"] + 1e-9) and np.all(ext["coverage"] <= ext["ci_high"] + 1e-9), name
        assert fit.k_target["k_ci_low"] <= fit.k_target["k"] <= fit.k_target["k_ci_high"], name


def test_analyze_fits_band_survives_a_failed_replicate() -> None:
    """A replicate whose power-law fit is undefined (NaN) must not blank the band (it did:
    ``_band`` took quantiles over NaN)."""
    n, c = np.full(30, 20), np.r_[np.full(28, 20), [1, 1]]  # ~1/8 of replicates: coverage 1 at every k
    fits = analyze_fits(n, c, n_boot=200, seed=0, estimators=("power_law",), default="power_law")
    ext = fits["power_law"].extrapolation
    assert np.all(np.isfinite(ext["ci_low"])) and np.all(np.isfinite(ext["ci_high"]))


def test_backtest_needs_enough_samples() -> None:
    with pytest.raises(ValueError, match="N = 8"):
        backtest(np.full(3, 8), np.array([1, 2, 3]))
