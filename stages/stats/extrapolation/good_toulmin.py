"""Non-parametric extrapolation: the smoothed Good-Toulmin estimator on "problems first solved".

Problems play the part of species (Orlitsky, Suresh & Wu 2016, "Optimal prediction of the
number of unseen species", PNAS). With c_i ~ Poisson(N p_i) approximately, the expected number
of problems first solved between N and (1 + t) N samples is -sum_{j>=1} (-t)^j E[Phi_j], Phi_j
the number of problems solved exactly j times (Good & Toulmin 1956). For t > 1 the series
diverges; OSW truncate it at a random L, weighting term j by P(L >= j), with L ~ Poisson(r),
r = ln(n (t + 1)^2 / (t - 1)) / (2 t), n the sample size -- here the total number of successes,
the analogue of the species sample. The estimate is linear in the problems, so the bootstrap
over problems is one matrix product. It needs no model of p, at the price of a variance that
grows quickly with t (k is NaN past t = ln n); it is here for comparison with the parametric fits.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import poisson


def gt_scores(n: np.ndarray, c: np.ndarray, k: float) -> np.ndarray:
    """Per-problem terms s_i whose mean is the smoothed Good-Toulmin coverage at k samples.

    s_i = 1 for a solved problem, plus its share of the newly solved: -(-t_i)^c_i P(L >= c_i),
    t_i = k / n_i - 1. For k <= n_i (t <= 0, interpolation) the coverage is not extrapolated and
    s_i is left at 1[c_i > 0] (use the unbiased pass@k there instead). Beyond t = ln n, where
    OSW's guarantee (error ~ n^(-1/(t+1)) of n t) no longer says anything, s_i is NaN.
    """
    n_arr, c_arr = np.asarray(n, dtype=np.float64), np.asarray(c, dtype=np.float64)
    t = k / n_arr - 1.0
    solved = (c_arr > 0).astype(np.float64)
    if np.all(t <= 0):
        return solved
    total = max(float(c_arr.sum()), 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(total * (t + 1) ** 2 / np.maximum(t - 1, 1e-12)) / (2 * np.maximum(t, 1e-12))
    log_tail = np.where(t > 1, poisson.logsf(c_arr - 1, np.maximum(r, 1e-12)), 0.0)  # log P(L >= c)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # in logs: t^c overflows
        size = np.exp(c_arr * np.log(np.maximum(t, 1e-300)) + log_tail)
    new = np.where(c_arr % 2 == 1, size, -size)  # -(-t)^c P(L >= c)
    out = solved + np.where((c_arr > 0) & (t > 0), new, 0.0)
    return np.where(t > np.log(total), np.nan, out)  # past OSW's range t ~ log n: not computed


def gt_coverage(n: np.ndarray, c: np.ndarray, ks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, K) smoothed Good-Toulmin coverage for each weight row (a (B, P) matrix), clipped to [0, 1]."""
    scores = np.stack([gt_scores(n, c, float(k)) for k in np.atleast_1d(ks)], axis=1)  # (P, K)
    return np.clip(weights @ scores / weights.sum(axis=1, keepdims=True), 0.0, 1.0)
