"""Scaling-law fits of coverage vs samples, with bootstrap bands and a backtest.

Two views of the same curve:

* **Power law** (Brown et al. 2024, "Large Language Monkeys: Scaling Inference Compute with
  Repeated Sampling"): coverage(k) ~= exp(a * k**b) with a, b < 0. We fit it as Schaeffer et al.
  (2025) do, by ordinary least squares of log(-log coverage) on log k -- the model is then linear,
  log(-log cov) = log(-a) + b log k -- on log-spaced k, so that the many large k do not outweigh
  the few small ones. Points with coverage 0 or 1 carry no information in this transform and are
  dropped. Goodness of fit: R^2 in the transformed space and RMSE on the coverage scale.
* **Beta per-problem view** (Schaeffer et al. 2025, "How do Large Language Monkeys get their
  power (laws)?"): per-problem success probabilities p_i ~ Beta(alpha, beta), so
  coverage(k) = 1 - E[(1 - p)^k] = 1 - B(alpha, beta + k) / B(alpha, beta) exactly, and the
  power-law exponent is governed by the Beta's mass near p = 0 (-log coverage ~ k^-alpha for
  large k). We fit (alpha, beta) by maximum likelihood of the beta-binomial of the observed
  (n_i, c_i), not by fitting a Beta to c_i / n_i: problems with c_i = 0 are common and a Beta
  density is zero/infinite at p = 0, while the beta-binomial handles them exactly.

Both fits get bootstrap intervals over problems (all replicates fitted at once: the power law by
closed-form batched least squares, the Beta by a batched damped Newton method), an extrapolation
to 10 x N with its band, and the k needed for a target coverage. The **backtest** hides all but
N/8 samples per problem (a seeded hypergeometric draw from the counts, distributed exactly like
the first N/8 samples of a random order), fits on them, predicts coverage at N and reports the
error against the coverage measured with all N samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stages.stats.beta_binomial import (  # noqa: F401  (re-exported: the Beta view of the fits)
    _bb_loglik,
    beta_coverage,
    beta_k_for,
    fit_beta_binomial,
    fit_beta_binomial_batch,
)
from stages.stats.bootstrap import percentile_interval, resample_weights
from stages.stats.curves import log_spaced_ks, pass_matrix


# ----------------------------------------------------------------------------- power law
def fit_power_law_batch(
    ks: npt.ArrayLike, coverage: npt.ArrayLike, max_coverage: float = 1.0
) -> dict[str, np.ndarray]:
    """OLS of log(-log cov) on log k for each row of ``coverage`` (shape (B, K) or (K,)).

    Only points with 0 < cov < ``max_coverage`` enter the fit. With P problems, pass
    ``1 - 1/P``: once less than one problem's worth of coverage is missing, the curve is governed
    by the single hardest problems (it approaches 1 exponentially, not as a power law), and the
    log(-log) transform would blow their noise up to dominate the slope.
    Returns arrays a, b, r2 (transformed space), rmse (coverage space, fitted points), one entry
    per row; NaN where fewer than two usable points remain.
    """
    cov = np.atleast_2d(np.asarray(coverage, dtype=np.float64))
    x = np.log(np.asarray(ks, dtype=np.float64))[None, :]
    usable = (cov > 0) & (cov < min(max_coverage, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(usable, np.log(-np.log(np.where(usable, cov, 0.5))), 0.0)
    w = usable.astype(np.float64)
    cnt = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = (w * x).sum(axis=1) / cnt
        ym = (w * y).sum(axis=1) / cnt
        sxx = (w * (x - xm[:, None]) ** 2).sum(axis=1)
        sxy = (w * (x - xm[:, None]) * (y - ym[:, None])).sum(axis=1)
        slope = sxy / sxx
        intercept = ym - slope * xm
        resid = w * (y - intercept[:, None] - slope[:, None] * x)
        syy = (w * (y - ym[:, None]) ** 2).sum(axis=1)
        r2 = 1.0 - (resid**2).sum(axis=1) / syy
    ok = cnt >= 2
    a = np.where(ok, -np.exp(intercept), np.nan)
    b = np.where(ok, slope, np.nan)
    pred = power_law_coverage(a[:, None], b[:, None], np.exp(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        rmse = np.sqrt((w * (pred - cov) ** 2).sum(axis=1) / cnt)
    return {"a": a, "b": b, "r2": np.where(ok, r2, np.nan), "rmse": rmse}


def power_law_coverage(a: npt.ArrayLike, b: npt.ArrayLike, ks: npt.ArrayLike) -> np.ndarray:
    """exp(a * k**b) (broadcasting)."""
    return np.exp(np.asarray(a) * np.power(np.asarray(ks, dtype=np.float64), np.asarray(b)))


def power_law_k_for(a: npt.ArrayLike, b: npt.ArrayLike, target: float) -> np.ndarray:
    """k with exp(a k^b) = target; inf where the fit does not saturate (b >= 0 or a >= 0)."""
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.power(np.log(target) / a_arr, 1.0 / b_arr)
    return np.where((a_arr < 0) & (b_arr < 0), k, np.inf)


# ----------------------------------------------------------------------------- analysis
@dataclass(frozen=True)
class FitResult:
    """Parameters (with intervals), fit quality, extrapolation and target-k of one fit."""

    params: dict[str, float]  # name -> value, plus name_ci_low / name_ci_high
    extrapolation: dict[str, np.ndarray]  # k, coverage, ci_low, ci_high
    k_target: dict[str, float]  # value, ci_low, ci_high


def _with_ci(name: str, value: float, reps: np.ndarray, ci: float) -> dict[str, float]:
    finite = reps[np.isfinite(reps)]
    if finite.size == 0:
        return {name: value, f"{name}_ci_low": float("nan"), f"{name}_ci_high": float("nan")}
    low, high = percentile_interval(finite, ci)
    return {name: value, f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}


def analyze_fits(
    n: npt.ArrayLike,
    c: npt.ArrayLike,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    extrapolate_factor: float = 10.0,
    target_coverage: float = 0.9,
    points: int = 40,
) -> dict[str, FitResult]:
    """Power-law and Beta fits of one verifier's counts, with bootstrap intervals."""
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    n_min = int(n_arr.min())
    ks = log_spaced_ks(n_min, points)
    k_ext = log_spaced_ks(int(extrapolate_factor * n_min), points * 2)
    matrix = pass_matrix(n_arr, c_arr, ks)
    # n_boot = 0: one "replicate" equal to the data, so every interval collapses to its point
    w = resample_weights(n_arr.size, n_boot, seed) if n_boot else np.ones((1, n_arr.size))
    cov_reps = (w @ matrix) / n_arr.size

    top = 1.0 - 1.0 / n_arr.size
    pl_point = fit_power_law_batch(ks, matrix.mean(axis=0), top)
    pl_reps = fit_power_law_batch(ks, cov_reps, top)
    a, b = float(pl_point["a"][0]), float(pl_point["b"][0])
    params = {**_with_ci("a", a, pl_reps["a"], ci), **_with_ci("b", b, pl_reps["b"], ci)}
    params |= {"r2": float(pl_point["r2"][0]), "rmse": float(pl_point["rmse"][0])}
    ext_reps = power_law_coverage(pl_reps["a"][:, None], pl_reps["b"][:, None], k_ext)
    k_t = float(power_law_k_for(a, b, target_coverage))
    power = FitResult(
        params,
        _band(k_ext, power_law_coverage(a, b, k_ext), ext_reps, ci),
        _with_ci("k", k_t, power_law_k_for(pl_reps["a"], pl_reps["b"], target_coverage), ci),
    )

    al, be = fit_beta_binomial(n_arr, c_arr)
    al_r, be_r = fit_beta_binomial_batch(n_arr, c_arr, w, (al, be))
    beta_fit_cov = beta_coverage(al, be, ks)
    params_b = {**_with_ci("alpha", al, al_r, ci), **_with_ci("beta", be, be_r, ci)}
    params_b["rmse"] = float(np.sqrt(np.mean((beta_fit_cov - matrix.mean(axis=0)) ** 2)))
    ext_b = beta_coverage(al_r[:, None], be_r[:, None], k_ext)
    kb_reps = beta_k_for(al_r, be_r, target_coverage)
    beta_res = FitResult(
        params_b,
        _band(k_ext, beta_coverage(al, be, k_ext), ext_b, ci),
        _with_ci("k", float(beta_k_for(al, be, target_coverage)), kb_reps, ci),
    )
    return {"power_law": power, "beta": beta_res}


def _band(ks: np.ndarray, point: np.ndarray, reps: np.ndarray, ci: float) -> dict[str, np.ndarray]:
    low, high = percentile_interval(np.where(np.isfinite(reps), reps, np.nan), ci)
    return {"k": ks, "coverage": point, "ci_low": low, "ci_high": high}


def backtest(
    n: npt.ArrayLike, c: npt.ArrayLike, fraction: float = 1 / 8, seed: int = 0, points: int = 30
) -> dict[str, float]:
    """Fit both models on the first ``fraction`` of the samples, predict coverage at N.

    The held-in subsample is a seeded hypergeometric draw of ``floor(fraction * N)`` samples per
    problem. "observed" is the unbiased coverage at N from all samples. Errors are predicted
    minus observed, in coverage units.
    """
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    n_full = int(n_arr.min())
    n_sub = int(np.floor(fraction * n_full))
    if n_sub < 2:
        raise ValueError(f"backtest needs N * {fraction} >= 2 samples; N = {n_full}")
    rng = np.random.default_rng(seed)
    c_sub = rng.hypergeometric(c_arr, n_arr - c_arr, n_sub)
    n_sub_arr = np.full_like(n_arr, n_sub)
    ks = log_spaced_ks(n_sub, points)
    fit = fit_power_law_batch(ks, pass_matrix(n_sub_arr, c_sub, ks).mean(axis=0), 1 - 1 / n_arr.size)
    observed = float(pass_matrix(n_arr, c_arr, [n_full]).mean())
    pred_power = float(power_law_coverage(fit["a"][0], fit["b"][0], n_full))
    al, be = fit_beta_binomial(n_sub_arr, c_sub)
    pred_beta = float(beta_coverage(al, be, n_full))
    return {
        "n_fit": float(n_sub),
        "n_predict": float(n_full),
        "observed": observed,
        "power_law_predicted": pred_power,
        "power_law_error": pred_power - observed,
        "beta_predicted": pred_beta,
        "beta_error": pred_beta - observed,
    }
