"""Nonparametric bootstrap over problems (Efron & Tibshirani 1993, "An Introduction to the Bootstrap").

Problems are the unit of resampling: samples of one problem are correlated through the problem's
difficulty, so resampling samples would understate the uncertainty of a benchmark average (Miller
2024, "Adding Error Bars to Evals"). One bootstrap replicate draws P problems with replacement; we
represent all B replicates at once as a (B, P) matrix ``W`` of multinomial counts (how often each
problem was drawn). Then every statistic that is a (ratio of) weighted sums over problems is a
matrix product: the bootstrap means of a (P, K) per-problem matrix ``X`` are ``W @ X / P`` -- no
Python loop over replicates or samples. Intervals are percentile intervals.

Paired bootstrap: two runs scored on the same problems are resampled with the *same* ``W``, so
the problem-difficulty component cancels in their difference (the standard paired design for
comparing models on a shared benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def resample_indices(n_problems: int, n_boot: int, seed: int) -> np.ndarray:
    """(B, P) problem indices drawn with replacement: row b is bootstrap replicate b."""
    if n_problems < 1:
        raise ValueError("bootstrap needs at least one problem")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_problems, size=(n_boot, n_problems))


def resample_weights(n_problems: int, n_boot: int, seed: int) -> np.ndarray:
    """(B, P) multinomial counts: how often each problem appears in each replicate.

    Equivalent to :func:`resample_indices` followed by a per-row ``bincount`` (same seed gives
    the same replicates), but in the form that turns statistics into matrix products.
    """
    idx = resample_indices(n_problems, n_boot, seed)
    offsets = (np.arange(n_boot, dtype=np.int64) * n_problems)[:, None]
    flat = np.bincount((idx + offsets).ravel(), minlength=n_boot * n_problems)
    return flat.reshape(n_boot, n_problems).astype(np.float64)


def distinct_counts(n: np.ndarray, c: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (n, c) pairs (U, 2) and the (B, U) weights of each summed over its problems:
    a likelihood over problems is one over their distinct counts, and 1,319 GSM8K problems at
    N = 800 hold 574 of them."""
    pairs, inverse = np.unique(np.stack([n, c], 1), axis=0, return_inverse=True)
    agg = np.zeros((weights.shape[0], pairs.shape[0]))
    np.add.at(agg.T, inverse.ravel(), weights.T)
    return pairs, agg


def percentile_interval(replicates: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates along axis 0 (rows are replicates)."""
    if not 0 < ci < 1:
        raise ValueError(f"ci={ci} must lie in (0, 1)")
    alpha = (1.0 - ci) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return low, high


def bootstrap_mean(
    values: npt.ArrayLike, n_boot: int, seed: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Bootstrap replicates of the mean over problems of ``values`` (shape (P,) or (P, K)).

    Returns (B,) or (B, K). ``weights`` lets callers share one resampling across statistics
    (paired designs); by default it is drawn from ``seed``.
    """
    x = np.asarray(values, dtype=np.float64)
    w = resample_weights(x.shape[0], n_boot, seed) if weights is None else weights
    return (w @ x) / x.shape[0]


def bootstrap_ratio(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    n_boot: int,
    seed: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Replicates of sum(numerator) / sum(denominator) over resampled problems.

    The pooled (micro-averaged) rate, e.g. P(strong fail | weak pass) = false positives / weak
    passes. A replicate whose denominator is zero gives NaN (the rate is undefined there).
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    w = resample_weights(num.shape[0], n_boot, seed) if weights is None else weights
    top, bottom = w @ num, w @ den
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], np.ndarray], n_problems: int, n_boot: int, seed: int
) -> np.ndarray:
    """Replicates of any per-problem statistic written against the (B, P) weights matrix.

    ``statistic(W)`` must return one row per replicate; writing it with matrix operations on
    ``W`` keeps it vectorised (e.g. ``lambda w: (w @ x) / (w @ y)``).
    """
    return np.asarray(statistic(resample_weights(n_problems, n_boot, seed)))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its percentile interval."""

    value: float
    ci_low: float
    ci_high: float

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {prefix: self.value, f"{prefix}_ci_low": self.ci_low, f"{prefix}_ci_high": self.ci_high}


def mean_estimate(values: npt.ArrayLike, n_boot: int, ci: float, seed: int) -> Estimate:
    """Mean over problems with a bootstrap percentile interval."""
    x = np.asarray(values, dtype=np.float64)
    if n_boot == 0:
        v = float(x.mean())
        return Estimate(v, v, v)
    low, high = percentile_interval(bootstrap_mean(x, n_boot, seed), ci)
    return Estimate(float(x.mean()), float(low), float(high))


@dataclass(frozen=True)
class PairedResult:
    """Mean difference a - b over shared problems, its interval and a two-sided p-value."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_problems: int


def paired_bootstrap(
    a: npt.ArrayLike, b: npt.ArrayLike, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> PairedResult:
    """Paired bootstrap of mean(a) - mean(b) over problems both runs scored.

    ``a`` and ``b`` are aligned per problem (same order). Both means are recomputed on the same
    resampled problems. The p-value is the two-sided bootstrap p-value of H0: difference = 0,
    2 * min(P*(d <= 0), P*(d >= 0)) over replicates, floored at 1/B (a p-value of "0" from
    B replicates only says p < 1/B).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired bootstrap needs aligned arrays, got shapes {x.shape} and {y.shape}")
    if n_boot < 1:
        raise ValueError("paired bootstrap needs n_boot >= 1")
    diff = x - y
    reps = bootstrap_mean(diff, n_boot, seed)
    low, high = percentile_interval(reps, ci)
    p = 2.0 * min(float(np.mean(reps <= 0.0)), float(np.mean(reps >= 0.0)))
    return PairedResult(
        difference=float(diff.mean()),
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(min(1.0, max(p, 1.0 / n_boot))),
        n_problems=int(x.shape[0]),
    )
