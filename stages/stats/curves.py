"""pass@k / coverage curves for every k <= N with bootstrap intervals over problems.

Coverage at k (Brown et al. 2024, "Large Language Monkeys: Scaling Inference Compute with
Repeated Sampling") is the fraction of problems solved by at least one of k samples; its
unbiased estimate from n >= k samples is the mean over problems of the unbiased pass@k of Chen et
al. (2021). So one (P, K) matrix of per-problem pass@k values gives the whole curve, and the
bootstrap over problems is a resampled row mean: ``W @ M / P`` with ``W`` the (B, P) multinomial
weights (see :mod:`stages.stats.bootstrap`).

The matrix is :func:`stages.stats.passk.pass_at_k_matrix` (the one hypergeometric helper).

Input is either verdict rows (VERDICTS_SCHEMA: one row per sample and verifier) or per-problem
counts (COUNTS: problem_id, verifier, n, c) -- several papers publish only the counts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from stages.schemas import COUNTS, CURVE, conform
from stages.stats.bootstrap import percentile_interval, resample_weights
from stages.stats.passk import counts_from_verdicts, pass_at_k_matrix

# Columns of the bootstrap matrix handled at once: bounds memory at B x chunk float64.
_K_CHUNK = 2048


def as_counts(table: pl.DataFrame) -> pl.DataFrame:
    """Per-problem counts from verdict rows or from a counts table (COUNTS schema).

    A counts table without a ``verifier`` column (as papers publish them) gets ``"counts"``.
    """
    if "verdict" in table.columns:
        return counts_from_verdicts(table)
    if "verifier" not in table.columns:
        table = table.with_columns(pl.lit("counts").alias("verifier"))
    out = conform(table, COUNTS, "counts")
    bad = out.filter((pl.col("c") < 0) | (pl.col("c") > pl.col("n")) | (pl.col("n") < 1))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(
            f"counts: need 1 <= n and 0 <= c <= n; problem '{row['problem_id']}' "
            f"(verifier '{row['verifier']}') has n={row['n']}, c={row['c']}"
        )
    dup = out.group_by("verifier", "problem_id").len().filter(pl.col("len") > 1)
    if dup.height:
        row = dup.row(0, named=True)
        raise ValueError(f"counts: problem '{row['problem_id']}' appears twice for verifier '{row['verifier']}'")
    return out.sort("verifier", "problem_id")


def default_ks(n_min: int) -> np.ndarray:
    """Every k from 1 to the smallest per-problem sample count."""
    return np.arange(1, n_min + 1, dtype=np.int64)


def log_spaced_ks(k_max: int, points: int = 40) -> np.ndarray:
    """Distinct integers spaced evenly in log k from 1 to k_max (for fits and plots)."""
    grid = np.unique(np.round(np.geomspace(1, max(k_max, 1), num=points)).astype(np.int64))
    return grid[(grid >= 1) & (grid <= k_max)]


def curve_arrays(
    n: npt.ArrayLike,
    c: npt.ArrayLike,
    ks: npt.ArrayLike,
    n_boot: int,
    ci: float,
    seed: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean pass@k over problems and its percentile interval, for each k in ``ks``."""
    k_arr = np.asarray(ks, dtype=np.int64)
    matrix = pass_at_k_matrix(n, c, k_arr)
    if np.isnan(matrix).any():
        raise ValueError(f"k up to {int(k_arr.max())} exceeds the smallest n={int(np.min(n))}")
    point = matrix.mean(axis=0)
    if n_boot == 0:
        return point, point.copy(), point.copy()
    w = resample_weights(matrix.shape[0], n_boot, seed) if weights is None else weights
    low = np.empty_like(point)
    high = np.empty_like(point)
    for start in range(0, k_arr.size, _K_CHUNK):  # chunks over k bound memory (B x chunk)
        cols = slice(start, start + _K_CHUNK)
        reps = (w @ matrix[:, cols]) / matrix.shape[0]
        low[cols], high[cols] = percentile_interval(reps, ci)
    return point, low, high


def curve(
    counts: pl.DataFrame,
    ks: npt.ArrayLike | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pl.DataFrame:
    """pass@k (= coverage at k) with bootstrap intervals, per verifier (CURVE schema).

    ``counts`` is verdict rows or COUNTS. ``ks`` defaults to every k <= the verifier's smallest
    n; k values above that are dropped for that verifier (pass@k is not identified there).
    Verifiers share the seed, so their resamplings are paired.
    """
    table = as_counts(counts)
    frames = []
    for verifier in table.get_column("verifier").unique(maintain_order=True).to_list():
        part = table.filter(pl.col("verifier") == verifier)
        n = part.get_column("n").to_numpy()
        c = part.get_column("c").to_numpy()
        k_arr = default_ks(int(n.min())) if ks is None else np.asarray(ks, dtype=np.int64)
        k_arr = k_arr[(k_arr >= 1) & (k_arr <= n.min())]
        point, low, high = curve_arrays(n, c, k_arr, n_boot, ci, seed)
        frames.append(
            pl.DataFrame(
                {"verifier": verifier, "k": k_arr, "pass_at_k": point, "ci_low": low, "ci_high": high}
            )
        )
    if not frames:
        return pl.DataFrame(schema=CURVE)
    return conform(pl.concat(frames), CURVE, "curve")
