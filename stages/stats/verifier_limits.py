"""Resampling with an imperfect verifier: accuracy ceiling and utility (Inference Scaling fLaws).

Stroebl, Kapoor & Narayanan 2024, "Inference Scaling fLaws: The Limits of LLM Resampling with
Imperfect Verifiers". Sample until the (weak) verifier accepts, at most k times. Per problem,
with p_c = P(sample weakly accepted and strongly correct) and p_fp = P(weakly accepted but
strongly wrong), p_a = p_c + p_fp, samples i.i.d.:

    P(some sample accepted within k) = 1 - (1 - p_a)^k
    accuracy(k) = p_c * (1 - (1 - p_a)^k) / p_a   ->   ceiling p_c / p_a   as k -> inf.

No budget pushes accuracy past the ceiling that false positives set. With utility +1 for a
correct submission, -c for a wrong one and 0 for abstaining (no sample accepted),

    utility(k; c) = (1 - (1 - p_a)^k) * (p_c - c * p_fp) / p_a,

which, averaged over problems, can peak at a finite k: more samples reach more accepted answers,
but on problems where false positives dominate (p_c < c p_fp) every extra accepted answer costs.
The optimal k for each c is the smallest k on the grid whose utility is within 1e-6 of the
grid's maximum (the curves flatten exponentially, so a bare argmax would land wherever rounding
peaks) -- but only for a curve that turns down. A utility that never decreases on the grid (c = 0
always: every accepted answer gains) has no optimum: it **saturates**, reported as
``saturates: true`` with ``k_opt`` null, not as the k where a tolerance happens to be crossed.
The grid stops at N (the pool size: the plug-in rates say nothing about k past the data) unless
``analyze.extrapolate_utility`` is set; the result then carries ``extrapolated: true``.
Per-problem rates are plug-in estimates from the weak/strong verdicts (tp / n and fp / n);
intervals are bootstrap over problems.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from stages.stats.bootstrap import percentile_interval, resample_weights

FLAWS_COUNTS: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "n": pl.Int64(),
    "tp": pl.Int64(),  # weak pass and strong pass
    "fp": pl.Int64(),  # weak pass and strong fail
}
UTILITY_CURVE: Final[dict[str, pl.DataType]] = {
    "cost": pl.Float64(),
    "k": pl.Int64(),
    "utility": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
}

OPTIMAL: Final[dict[str, pl.DataType]] = {
    "cost": pl.Float64(),
    "k_opt": pl.Int64(),  # null when the utility saturates
    "k_opt_ci_low": pl.Float64(),
    "k_opt_ci_high": pl.Float64(),
    "utility": pl.Float64(),  # at k_opt, or at the grid's end when saturating
    "utility_at_1": pl.Float64(),
    "saturates": pl.Boolean(),
    "extrapolated": pl.Boolean(),  # the grid went past N
}


def flaws_counts(pool: pl.DataFrame) -> pl.DataFrame:
    """Per-problem n, tp, fp from per-sample ``weak_pass`` / ``correct`` (strong) flags."""
    out = pool.group_by("problem_id").agg(
        pl.len().alias("n"),
        (pl.col("weak_pass") & pl.col("correct")).sum().alias("tp"),
        (pl.col("weak_pass") & ~pl.col("correct")).sum().alias("fp"),
    )
    return out.select([pl.col(c).cast(t) for c, t in FLAWS_COUNTS.items()]).sort("problem_id")


def rates(counts: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Plug-in per-problem (p_c, p_fp)."""
    n = counts.get_column("n").to_numpy().astype(np.float64)
    if np.any(n < 1):
        raise ValueError("flaws counts: every problem needs n >= 1")
    return counts.get_column("tp").to_numpy() / n, counts.get_column("fp").to_numpy() / n


def _accept_within(p_accept: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """(P, K) 1 - (1 - p_a)^k, computed with log1p for tiny p_a."""
    with np.errstate(divide="ignore"):
        log_fail = np.log1p(-np.minimum(p_accept, 1.0))[:, None]
    return -np.expm1(log_fail * ks[None, :].astype(np.float64))


def _per_accept(p_c: np.ndarray, p_fp: np.ndarray, gain: np.ndarray) -> np.ndarray:
    p_a = p_c + p_fp
    return np.where(p_a > 0, gain / np.where(p_a > 0, p_a, 1.0), 0.0)


def accuracy_matrix(p_c: npt.ArrayLike, p_fp: npt.ArrayLike, ks: npt.ArrayLike) -> np.ndarray:
    """(P, K) closed-form accuracy of resample-until-pass with budget k."""
    p_c, p_fp = np.asarray(p_c, dtype=np.float64), np.asarray(p_fp, dtype=np.float64)
    return _accept_within(p_c + p_fp, np.asarray(ks))  * _per_accept(p_c, p_fp, p_c)[:, None]


def ceiling(p_c: npt.ArrayLike, p_fp: npt.ArrayLike) -> np.ndarray:
    """Per-problem limit of accuracy as k -> inf: p_c / (p_c + p_fp) (0 if nothing is accepted)."""
    p_c, p_fp = np.asarray(p_c, dtype=np.float64), np.asarray(p_fp, dtype=np.float64)
    return _per_accept(p_c, p_fp, p_c)


def utility_matrix(p_c: npt.ArrayLike, p_fp: npt.ArrayLike, ks: npt.ArrayLike, cost: float) -> np.ndarray:
    """(P, K) expected utility: +1 correct, -cost wrong, 0 abstain."""
    p_c, p_fp = np.asarray(p_c, dtype=np.float64), np.asarray(p_fp, dtype=np.float64)
    gain = _per_accept(p_c, p_fp, p_c - cost * p_fp)
    return _accept_within(p_c + p_fp, np.asarray(ks)) * gain[:, None]


# Utility curves approach their supremum exponentially; "optimal k" is the smallest k within this
# of the maximum over the grid, not the k where float rounding happens to peak.
UTILITY_TOL = 1e-6


def _first_near_max(curves: np.ndarray) -> np.ndarray:
    """Row-wise index of the first value within UTILITY_TOL of the row's maximum."""
    return np.argmax(curves >= curves.max(axis=1, keepdims=True) - UTILITY_TOL, axis=1)


def _saturates(curves: np.ndarray) -> np.ndarray:
    """Row-wise: the curve never decreases on the grid (no interior optimum to report)."""
    return np.all(np.diff(curves, axis=1) >= -1e-12, axis=1)


def k_grid(pool_n: int, k_max: int, extrapolate: bool) -> tuple[np.ndarray, bool]:
    """Budgets 1..min(k_max, N), or 1..k_max when extrapolating; and whether k goes past N."""
    top = k_max if extrapolate else min(k_max, pool_n)
    return np.arange(1, max(top, 1) + 1, dtype=np.int64), top > pool_n


def default_k_grid(k_max: int = 1000) -> np.ndarray:
    return np.arange(1, k_max + 1, dtype=np.int64)


def analyze_limits(
    counts: pl.DataFrame,
    costs: list[float],
    ks: npt.ArrayLike | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    extrapolated: bool = False,
) -> dict[str, object]:
    """Accuracy curve, ceiling, utility curves and optimal k per cost, with bootstrap intervals.

    Returns {"accuracy": frame(k, accuracy, ci_low, ci_high), "utility": UTILITY_CURVE frame,
    "optimal": frame(cost, k_opt, k_opt_ci_low, k_opt_ci_high, utility, utility_at_1, saturates,
    extrapolated), "ceiling": dict(value, ci_low, ci_high)}. ``k_opt`` and its interval are null
    when the utility saturates; the interval is over the replicates that have an optimum.
    """
    p_c, p_fp = rates(counts)
    k_arr = default_k_grid() if ks is None else np.asarray(ks, dtype=np.int64)
    n_problems = p_c.size
    w = resample_weights(n_problems, max(n_boot, 1), seed)

    def mean_ci(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        point = matrix.mean(axis=0)
        if n_boot == 0:
            return point, point, point
        reps = w @ matrix / n_problems
        low, high = percentile_interval(reps, ci)
        return point, low, high

    acc = mean_ci(accuracy_matrix(p_c, p_fp, k_arr))
    ceil = mean_ci(ceiling(p_c, p_fp)[:, None])
    utility_frames, optimal_rows = [], []
    for cost in costs:  # loop over the params list of costs
        util = utility_matrix(p_c, p_fp, k_arr, cost)
        point, low, high = mean_ci(util)
        utility_frames.append(pl.DataFrame({"cost": float(cost), "k": k_arr, "utility": point, "ci_low": low, "ci_high": high}))
        reps = w @ util / n_problems
        k_reps = k_arr[_first_near_max(reps)][~_saturates(reps)].astype(np.float64)
        best = int(_first_near_max(point[None, :])[0])
        saturates = bool(_saturates(point[None, :])[0])
        if saturates:
            k_opt, k_low, k_high = None, None, None
        else:
            k_opt = int(k_arr[best])
            k_low, k_high = (map(float, percentile_interval(k_reps, ci)) if n_boot and k_reps.size
                             else (float(k_opt), float(k_opt)))
        optimal_rows.append(
            {"cost": float(cost), "k_opt": k_opt, "k_opt_ci_low": k_low, "k_opt_ci_high": k_high,
             "utility": float(point[-1] if saturates else point[best]), "utility_at_1": float(point[0]),
             "saturates": saturates, "extrapolated": bool(extrapolated)}
        )
    return {
        "accuracy": pl.DataFrame({"k": k_arr, "accuracy": acc[0], "ci_low": acc[1], "ci_high": acc[2]}),
        "utility": pl.concat(utility_frames).select([pl.col(c).cast(t) for c, t in UTILITY_CURVE.items()])
        if utility_frames else pl.DataFrame(schema=UTILITY_CURVE),
        "optimal": pl.DataFrame(optimal_rows, schema=OPTIMAL),
        "ceiling": {"value": float(ceil[0][0]), "ci_low": float(ceil[1][0]), "ci_high": float(ceil[2][0])},
    }


def simulate_resample_until_pass(
    p_c: npt.ArrayLike, p_fp: npt.ArrayLike, k: int, trials: int, seed: int, cost: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo of the procedure itself: per problem, ``trials`` runs of up to k draws.

    Each draw is correct-and-accepted (p_c), wrong-but-accepted (p_fp) or rejected; the first
    accepted draw is submitted. Returns per-problem mean (accuracy, utility). Used to check the
    closed forms; not used by the analysis.
    """
    p_c, p_fp = np.asarray(p_c, dtype=np.float64), np.asarray(p_fp, dtype=np.float64)
    rng = np.random.default_rng(seed)
    u = rng.random((p_c.size, trials, k))
    outcome = np.where(u < p_c[:, None, None], 1, np.where(u < (p_c + p_fp)[:, None, None], 2, 0))
    accepted = outcome > 0
    first = np.argmax(accepted, axis=2)
    any_acc = accepted.any(axis=2)
    chosen = np.take_along_axis(outcome, first[..., None], axis=2)[..., 0]
    correct = any_acc & (chosen == 1)
    wrong = any_acc & (chosen == 2)
    return correct.mean(axis=1), (correct.astype(np.float64) - cost * wrong).mean(axis=1)
