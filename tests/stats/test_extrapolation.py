"""Coverage extrapolators recover their generating populations; the grid likelihood is exact
enough; Good-Toulmin is unbiased where theory says so; bands ignore failed replicates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from stages.stats.bootstrap import resample_weights
from stages.stats.extrapolation import mixture
from stages.stats.extrapolation.estimators import (
    ESTIMATORS,
    backtest,
    band,
    choose,
    fit_estimator,
    summarise,
)
from stages.stats.extrapolation.good_toulmin import gt_coverage
from stages.stats.extrapolation.mixture import (
    FAMILIES,
    P_GRID,
    GridLik,
    _zi_masses,
    beta_masses,
    distinct_counts,
    family_coverage,
    fit_family,
    grid_logpmf,
    loglik,
    newton,
    posterior_coverage,
)

PI0, A, B = 0.2, 0.3, 2.0


def zi_pool(seed: int, problems: int = 3000, n: int = 100):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(problems) < PI0, 0.0, rng.beta(A, B, problems))
    return p, np.full(problems, n), rng.binomial(n, p)


def test_zero_inflated_mle_recovers_share_and_tail_and_predicts_8n_within_001() -> None:
    p, n, c = zi_pool(0)
    fit = fit_estimator("zi_beta", n, c, np.zeros((0, n.size)))
    pi0, alpha = fit.params["pi0"][0], fit.params["alpha"][0]
    assert abs(pi0 - PI0) < 0.03 and abs(alpha / A - 1) < 0.2, fit.params
    truth = np.mean(1 - (1 - p) ** 800)
    assert abs(fit.coverage(np.array([800.0]))[0, 0] - truth) < 0.01


def test_scaled_beta_recovers_its_scale() -> None:
    rng = np.random.default_rng(1)
    p = 0.6 * rng.beta(0.4, 1.5, 3000)
    n = np.full(p.size, 100)
    fit = fit_estimator("scaled_beta", n, rng.binomial(100, p), np.zeros((0, p.size)))
    assert abs(fit.params["scale"][0] - 0.6) < 0.08 and abs(fit.params["alpha"][0] / 0.4 - 1) < 0.2, fit.params
    truth = np.mean(1 - (1 - p) ** 800)
    assert abs(fit.coverage(np.array([800.0]))[0, 0] - truth) < 0.01


def test_grid_likelihood_and_coverage_match_the_exact_zero_inflated_forms() -> None:
    """The grid (used by scaled_beta) against closed forms: log-likelihood within 0.05 nats over
    3000 problems, coverage within 1e-3 up to k = 10^5."""
    _, n, c = zi_pool(2)
    pairs, agg = distinct_counts(n, c, np.ones((1, n.size)))
    theta = np.array([[np.log(PI0 / (1 - PI0)), np.log(A), np.log(B)]])
    log_choose = gammaln(pairs[:, 0] + 1) - gammaln(pairs[:, 1] + 1) - gammaln(pairs[:, 0] - pairs[:, 1] + 1)
    exact = loglik(FAMILIES["zi_beta"], theta, pairs, agg)[0] + float(agg[0] @ log_choose)  # it drops C(n, c)
    top = grid_logpmf(pairs).max(axis=1)
    lik = _zi_masses(theta) @ np.exp(grid_logpmf(pairs) - top[:, None]).T
    assert abs(float((agg * (np.log(lik) + top)).sum()) - exact) < 0.05
    ks = np.array([1.0, 10, 100, 1e4, 1e5])
    fail = np.exp(ks[None, :] * np.log1p(-np.minimum(P_GRID, 1 - 1e-16))[:, None])
    np.testing.assert_allclose(1 - _zi_masses(theta) @ fail, family_coverage("zi_beta", theta, ks), atol=1e-3)


def test_posterior_coverage_conditions_each_problem_on_its_own_count() -> None:
    """The estimators predict the coverage of the OBSERVED problems: under a Beta(a, b) prior a
    problem with c of n has the posterior Beta(a + c, b + n - c), so its chance that k new
    samples all fail is B(a + c, b + n - c + k) / B(a + c, b + n - c). The grid matches that
    closed form. And a problem seen solved 37 times in 100 keeps its own p whatever the fitted
    prior says of problems in general (the population formula 1 - E_F[(1-p)^k] does not)."""
    a, b = np.array([0.3]), np.array([2.0])
    n = np.array([100, 100, 100, 100])
    c = np.array([0, 0, 1, 37])
    pairs, agg = distinct_counts(n, c, np.ones((1, n.size)))
    ks = np.array([1.0, 100, 800, 1e4])
    exact = np.mean([1 - np.exp(betaln(a + ci, b + ni - ci + ks) - betaln(a + ci, b + ni - ci))
                     for ni, ci in zip(n, c, strict=True)], axis=0)
    got = posterior_coverage(beta_masses(a, b), pairs, agg, ks)[0]
    np.testing.assert_allclose(got, exact, atol=2e-3)
    pairs, agg = distinct_counts(np.array([100] * 10), np.array([37] + [0] * 9), np.ones((1, 10)))
    fitted = beta_masses(np.array([0.05]), np.array([50.0]))  # a prior of nearly hopeless problems
    population = 1 - fitted @ np.exp(100 * np.log1p(-np.minimum(P_GRID, 1 - 1e-16)))
    assert population[0] < 0.07
    assert posterior_coverage(fitted, pairs, agg, np.array([100.0]))[0, 0] >= 0.1 - 1e-6


def test_batched_zero_inflated_bootstrap_equals_per_replicate_optimiser() -> None:
    _, n, c = zi_pool(3, problems=300)
    w = resample_weights(n.size, 3, seed=4)
    theta = fit_family("zi_beta", n, c, w)
    pairs, agg = distinct_counts(n, c, w)
    for i in range(3):
        res = minimize(lambda t, row=agg[i:i + 1]: -loglik(FAMILIES["zi_beta"], t[None, :], pairs, row)[0],
                       theta[0], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 5000})
        assert -res.fun <= loglik(FAMILIES["zi_beta"], theta[i + 1:i + 2], pairs, agg[i:i + 1])[0] + 1e-6


def test_scaled_beta_bootstrap_at_the_scale_bound_does_not_amplify_rounding(monkeypatch) -> None:
    """Where the fitted scale sits at its bound (s -> 1), the replicates must not depend on the
    last bits of the likelihood: another CPU's BLAS kernel rounds them differently, and the
    one-step bootstrap divided that noise by the near-zero curvature of the pinned scale
    (``alpha_ci_high`` moved in the 5th digit between machines, so a fresh clone's `dvc repro`
    rewrote dvc.lock). Emulated here by relative noise of 2e-16 on the grid likelihoods."""
    rng = np.random.default_rng(0)
    n = np.full(80, 50)
    c = rng.binomial(50, rng.beta(0.7, 1.25, 80))
    w = resample_weights(n.size, 200, seed=0)
    clean = FAMILIES["scaled_beta"].natural(fit_family("scaled_beta", n, c, w))
    assert clean[0, 2] > 0.99999  # the scale is at its bound (logit 12)
    exact = GridLik.of.__func__

    def rounded_elsewhere(cls, pairs):
        lik = exact(cls, pairs)
        noise = np.random.default_rng(7).uniform(-2e-16, 2e-16, lik.dens.shape)
        return cls(lik.dens * (1 + noise), lik.top)

    monkeypatch.setattr(mixture.GridLik, "of", classmethod(rounded_elsewhere))
    noisy = FAMILIES["scaled_beta"].natural(fit_family("scaled_beta", n, c, w))
    assert np.max(np.abs(noisy - clean) / clean) < 1e-8  # it was 2.5e-4 before the projection


def test_newton_never_takes_a_step_that_lowers_the_objective() -> None:
    """A row whose step fails every halving keeps its point: the long step is taken only where
    it beats the start (it once replaced such a row's point whatever its value)."""
    def f(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return -(t[:, 0] ** 2)

    def misleading(t: np.ndarray, rows: np.ndarray):  # the gradient's sign flipped: steps go uphill in t**2
        return f(t, rows), 2 * t, np.full((t.shape[0], 1, 1), -2.0)

    theta = newton(f, np.array([[1.0], [-0.5]]), derivs=misleading)
    np.testing.assert_array_equal(theta, [[1.0], [-0.5]])


def test_good_toulmin_is_unbiased_for_poisson_counts_up_to_doubling() -> None:
    """For t <= 1 the series needs no smoothing and is exactly unbiased under Poisson sampling."""
    rng = np.random.default_rng(5)
    p = np.where(rng.random(500) < 0.1, 0.0, rng.beta(0.3, 3.0, 500))
    n, k = np.full(p.size, 50), 100.0
    truth = np.mean(1 - np.exp(-k * p))
    preds = [gt_coverage(n, rng.poisson(50 * p), np.array([k]), np.ones((1, p.size)))[0, 0] for _ in range(400)]
    assert abs(np.mean(preds) - truth) < 0.003


def test_band_ignores_non_finite_replicates() -> None:
    cov = np.vstack([np.full((1, 3), 0.5), np.linspace(0.4, 0.6, 201)[:, None] * np.ones((1, 3))])
    cov_bad = cov.copy()
    cov_bad[7, :2] = [np.nan, np.inf]
    low, high = band(cov_bad, 0.9)
    ref_low, ref_high = band(np.delete(cov, 7, axis=0), 0.9)
    assert np.all(np.isfinite(low)) and np.all(np.isfinite(high))
    np.testing.assert_allclose([low[0], high[0]], [ref_low[0], ref_high[0]])
    all_bad = np.vstack([np.ones((1, 1)), np.full((5, 1), np.nan)])
    assert np.isnan(band(all_bad, 0.9)[0][0])


def test_backtest_scores_every_estimator_on_every_repeat() -> None:
    _, n, c = zi_pool(6, problems=164, n=40)
    rows = backtest(n, c, fraction=0.25, seed=0, n_boot=30, ci=0.9, repeats=2)
    assert [r["estimator"] for r in rows] == list(ESTIMATORS) * 2
    summary = summarise(rows)
    assert set(summary) == set(ESTIMATORS)
    for entry in summary.values():
        assert entry["repeats"] == 2 and 0 <= entry["interval_coverage"] <= 1
    assert choose(summary, "beta") == min(summary, key=lambda k: summary[k]["mean_abs_error"])
    with pytest.raises(ValueError, match="N = 8"):
        backtest(np.full(3, 8), np.array([1, 2, 3]))
