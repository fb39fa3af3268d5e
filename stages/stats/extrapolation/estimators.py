"""One interface over every coverage extrapolator, its bootstrap band, and the backtest.

Estimators (``ESTIMATORS``), each fitted on per-problem counts (n_i, c_i):

* ``power_law``: exp(a k^b) by least squares in log(-log) space (Brown et al. 2024).
* ``beta``: p ~ Beta(a, b), beta-binomial MLE (Schaeffer et al. 2025).
* ``scaled_beta``: p ~ s * Beta(a, b), the three-parameter Beta of Schaeffer et al. 2025.
* ``zi_beta``: a share pi0 of problems never solvable, Beta(a, b) on the rest.
* ``smoothed_gt``: smoothed Good-Toulmin (Orlitsky, Suresh & Wu 2016), no model of p.

:func:`fit_estimator` returns the point fit and B bootstrap replicates over problems (rows of a
weight matrix) as one (1 + B, K) coverage array; :func:`band` turns it into a percentile band
that ignores non-finite replicates. :func:`backtest` hides all but ``fraction`` of each problem's
samples (a seeded hypergeometric draw: distributed exactly as the first samples of a random
order), fits every estimator on them and scores its prediction of the coverage at N, repeated
over ``repeats`` draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stages.stats.beta_binomial import fit_beta_binomial, fit_beta_binomial_batch
from stages.stats.bootstrap import percentile_interval, resample_weights
from stages.stats.curves import log_spaced_ks
from stages.stats.extrapolation.good_toulmin import gt_coverage
from stages.stats.extrapolation.mixture import (
    FAMILIES,
    beta_masses,
    distinct_counts,
    fit_family,
    posterior_coverage,
)
from stages.stats.extrapolation.power_law import fit_power_law_batch, power_law_coverage
from stages.stats.passk import pass_at_k_matrix as pass_matrix

ESTIMATORS = ("power_law", "beta", "scaled_beta", "zi_beta", "smoothed_gt")
K_GRID = np.unique(np.ceil(np.logspace(0, 9, 700)))  # k searched for a target coverage


@dataclass(frozen=True)
class Fitted:
    """One estimator's fit: parameters and coverage, row 0 the point, rows 1.. the replicates."""

    estimator: str
    params: dict[str, np.ndarray]  # name -> (1 + B,)
    coverage: Callable[[np.ndarray], np.ndarray]  # ks (K,) -> (1 + B, K)
    quality: dict[str, float]  # goodness of fit on the observed curve (rmse; r2 for the power law)


def fit_estimator(name: str, n: np.ndarray, c: np.ndarray, weights: np.ndarray, points: int = 40) -> Fitted:
    """Fit ``name`` on the counts and on every row of ``weights`` ((B, P) resampling counts)."""
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    ks = log_spaced_ks(int(n_arr.min()), points)
    matrix = pass_matrix(n_arr, c_arr, ks)
    observed = matrix.mean(axis=0)
    rows = np.vstack([np.ones((1, n_arr.size)), weights])
    if name == "power_law":
        fit = fit_power_law_batch(ks, rows @ matrix / n_arr.size, 1.0 - 1.0 / n_arr.size)
        a, b = fit["a"], fit["b"]
        return Fitted(name, {"a": a, "b": b},
                      lambda k: power_law_coverage(a[:, None], b[:, None], np.asarray(k)[None, :]),
                      {"r2": float(fit["r2"][0]), "rmse": float(fit["rmse"][0])})
    if name == "beta":
        al0, be0 = fit_beta_binomial(n_arr, c_arr)
        al, be = np.array([al0]), np.array([be0])
        if weights.shape[0]:
            al_r, be_r = fit_beta_binomial_batch(n_arr, c_arr, weights, (al0, be0))
            al, be = np.concatenate([al, al_r]), np.concatenate([be, be_r])
        params = {"alpha": al, "beta": be}
        masses = beta_masses(al, be)
    elif name in FAMILIES:
        theta = fit_family(name, n_arr, c_arr, weights)
        natural = FAMILIES[name].natural(theta)
        params = {p: natural[:, i] for i, p in enumerate(FAMILIES[name].names)}
        masses = FAMILIES[name].masses(theta)
    elif name == "smoothed_gt":
        params = {}
        masses = None
    else:
        raise ValueError(f"unknown extrapolation estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    if masses is None:
        cov: Callable[[np.ndarray], np.ndarray] = lambda k: _gt_with_interpolation(
            n_arr, c_arr, np.asarray(k), rows, matrix, ks)
    else:  # a prior of p: each problem's own posterior (see mixture.posterior_coverage)
        pairs, agg = distinct_counts(n_arr, c_arr, rows)
        cov = lambda k: posterior_coverage(masses, pairs, agg, np.asarray(k))
    rmse = float(np.sqrt(np.mean((cov(ks)[0] - observed) ** 2)))
    return Fitted(name, params, cov, {"rmse": rmse})


def _gt_with_interpolation(n: np.ndarray, c: np.ndarray, k: np.ndarray, rows: np.ndarray,
                           matrix: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Good-Toulmin beyond N; at k <= N the unbiased pass@k itself (GT does not interpolate)."""
    n_min = int(n.min())
    out = gt_coverage(n, c, np.maximum(k, n_min), rows)
    inside = k <= n_min
    if inside.any():
        out[:, inside] = rows @ pass_matrix(n, c, k[inside].astype(np.int64)) / n.size
    return out


def band(coverage: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile band over replicate rows 1.. of a (1 + B, K) array, per column ignoring
    non-finite replicates (one failed replicate must not blank a band); NaN where none is finite."""
    reps = np.asarray(coverage, dtype=np.float64)[1:]
    if reps.shape[0] == 0:
        return coverage[0].copy(), coverage[0].copy()
    ok = np.isfinite(reps)
    alpha = (1.0 - ci) / 2.0
    percentile_interval(np.zeros(1), ci)  # validates ci, with the project's one message
    low, high = np.full(reps.shape[1], np.nan), np.full(reps.shape[1], np.nan)
    some = ok.any(axis=0)  # columns with no finite replicate stay NaN (no warning to silence:
    if some.any():  # warnings filters are process-wide, and fits run in threads, analysis.py)
        low[some], high[some] = np.nanquantile(np.where(ok, reps, np.nan)[:, some], [alpha, 1.0 - alpha], axis=0)
    return low, high


def k_for_target(coverage: Callable[[np.ndarray], np.ndarray], target: float) -> np.ndarray:
    """(1 + B,) smallest k on K_GRID (steps of ~3%) where coverage reaches ``target``; inf if never."""
    cov = coverage(K_GRID)
    reached = cov >= target
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(axis=1), K_GRID[first], np.inf)


def backtest(n: np.ndarray, c: np.ndarray, fraction: float = 1 / 8, seed: int = 0,
             estimators: tuple[str, ...] = ESTIMATORS, n_boot: int = 200, ci: float = 0.9,
             repeats: int = 1) -> list[dict[str, float | str]]:
    """One row per (estimator, repeat): fit on floor(fraction N) samples, predict coverage at N.

    Columns: estimator, repeat, n_fit, n_predict, observed (unbiased coverage at N from all
    samples), predicted, error (predicted - observed), ci_low, ci_high (bootstrap over problems,
    ``n_boot`` replicates), covered (observed inside the interval: 1.0 / 0.0).
    """
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    n_full = int(n_arr.min())
    n_sub = int(np.floor(fraction * n_full))
    if n_sub < 2:
        raise ValueError(f"backtest needs N * {fraction} >= 2 samples; N = {n_full}")
    observed = float(pass_matrix(n_arr, c_arr, [n_full]).mean())
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float | str]] = []
    for rep in range(repeats):
        c_sub = rng.hypergeometric(c_arr, n_arr - c_arr, n_sub)
        n_sub_arr = np.full_like(n_arr, n_sub)
        weights = resample_weights(n_arr.size, n_boot, seed + rep) if n_boot else np.zeros((0, n_arr.size))
        for name in estimators:
            cov = fit_estimator(name, n_sub_arr, c_sub, weights, points=30).coverage(np.array([float(n_full)]))[:, 0]
            low, high = band(cov[:, None], ci)
            rows.append({"estimator": name, "repeat": rep, "n_fit": float(n_sub), "n_predict": float(n_full),
                         "observed": observed, "predicted": float(cov[0]), "error": float(cov[0]) - observed,
                         "ci_low": float(low[0]), "ci_high": float(high[0]),
                         "covered": float(low[0] <= observed <= high[0])
                         if n_boot and np.isfinite([low[0], high[0]]).all() else float("nan")})
    return rows


def summarise(rows: list[dict[str, float | str]]) -> dict[str, dict[str, float]]:
    """Per estimator: mean and max |error| over repeats, share of intervals that covered."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(str(r["estimator"]) for r in rows):
        mine = [r for r in rows if r["estimator"] == name]
        err = np.abs([float(r["error"]) for r in mine])
        out[name] = {"mean_abs_error": float(np.mean(err)) if np.isfinite(err).all() else float("nan"),
                     "max_abs_error": float(np.max(err)) if np.isfinite(err).all() else float("nan"),
                     "interval_coverage": float(np.mean([float(r["covered"]) for r in mine])),  # NaN if any NaN
                     "repeats": float(len(mine))}
    return out


def choose(summary: dict[str, dict[str, float]], fallback: str) -> str:
    """The estimator with the smallest finite backtest mean |error| (``fallback`` if none)."""
    finite = {k: v["mean_abs_error"] for k, v in summary.items() if np.isfinite(v["mean_abs_error"])}
    return min(finite, key=finite.__getitem__) if finite else fallback
