"""Coverage extrapolation of one verifier's counts: every estimator, bands, target k, backtest.

The estimators live in ``stages/stats/extrapolation/`` (power law, Beta, scaled Beta,
zero-inflated Beta, smoothed Good-Toulmin; see its ``estimators`` module and
docs/statistics.md "Extrapolation"). This module runs them the way ``analyze`` reports them:
every estimator fitted on the counts, with a bootstrap over problems (all ``n_boot`` replicates
for the default estimator, the first ``others_boot`` for the rest, which are reported for
comparison), an extrapolation to ``extrapolate_factor`` x N with its band, and the k needed for a
target coverage. The **backtest** (``extrapolation.estimators.backtest``) hides all but
``fraction`` x N samples per problem, fits every estimator on them and scores its prediction of
the coverage at N.
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
from stages.stats.curves import log_spaced_ks
from stages.stats.extrapolation.estimators import (  # noqa: F401  (re-exported)
    ESTIMATORS,
    backtest,
    band,
    choose,
    fit_estimator,
    k_for_target,
    summarise,
)
from stages.stats.extrapolation.power_law import (  # noqa: F401  (re-exported)
    fit_power_law_batch,
    power_law_coverage,
    power_law_k_for,
)

DEFAULT_ESTIMATOR = "zi_beta"  # lowest mean |error| over the six pools of benchmarks/extrapolation_backtest.py


@dataclass(frozen=True)
class FitResult:
    """Parameters (with intervals), fit quality, extrapolation and target-k of one fit."""

    params: dict[str, float]  # name -> value, plus name_ci_low / name_ci_high; rmse (and r2)
    extrapolation: dict[str, np.ndarray]  # k, coverage, ci_low, ci_high
    k_target: dict[str, float]  # k, k_ci_low, k_ci_high


def _with_ci(name: str, values: np.ndarray, ci: float, keep_inf: bool = False) -> dict[str, float]:
    """Point (row 0) and percentile interval over the finite replicates (rows 1..).

    ``keep_inf``: inf is a value, not a failed fit (a k that is never reached), and stays in;
    the interval then takes order statistics (no interpolation towards inf).
    """
    reps = values[1:][~np.isnan(values[1:]) if keep_inf else np.isfinite(values[1:])]
    if reps.size == 0:
        return {name: float(values[0]), f"{name}_ci_low": float("nan"), f"{name}_ci_high": float("nan")}
    if keep_inf:
        percentile_interval(np.zeros(1), ci)  # validates ci, with the project's one message
        low, high = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2], method="inverted_cdf")
    else:
        low, high = percentile_interval(reps, ci)
    return {name: float(values[0]), f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}


def analyze_fits(
    n: npt.ArrayLike,
    c: npt.ArrayLike,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    extrapolate_factor: float = 10.0,
    target_coverage: float = 0.9,
    points: int = 40,
    estimators: tuple[str, ...] = ESTIMATORS,
    default: str = DEFAULT_ESTIMATOR,
    others_boot: int = 200,
) -> dict[str, FitResult]:
    """Every estimator's fit of one verifier's counts, with bootstrap intervals over problems."""
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    k_ext = log_spaced_ks(int(extrapolate_factor * int(n_arr.min())), points * 2)
    w = resample_weights(n_arr.size, n_boot, seed) if n_boot else np.zeros((0, n_arr.size))
    out: dict[str, FitResult] = {}
    for name in estimators:
        fit = fit_estimator(name, n_arr, c_arr, w if name == default else w[:others_boot], points)
        params: dict[str, float] = {}
        for p, values in fit.params.items():
            params |= _with_ci(p, values, ci)
        params |= fit.quality
        cov = fit.coverage(k_ext.astype(np.float64))
        low, high = band(cov, ci)
        out[name] = FitResult(params, {"k": k_ext, "coverage": cov[0], "ci_low": low, "ci_high": high},
                              _with_ci("k", k_for_target(fit.coverage, target_coverage), ci, keep_inf=True))
    return out
