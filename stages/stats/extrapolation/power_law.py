"""Power law of coverage (Brown et al. 2024), fitted as Schaeffer et al. (2025) do.

coverage(k) ~= exp(a * k**b) with a, b < 0, fitted by ordinary least squares of log(-log
coverage) on log k -- linear: log(-log cov) = log(-a) + b log k -- on log-spaced k, so that the
many large k do not outweigh the few small ones. Points with coverage 0 or 1 carry no
information in this transform and are dropped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


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
