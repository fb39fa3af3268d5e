"""Comparing two runs on shared problems: equal compute, crossover, paired tests.

* **Accuracy at equal compute.** A budget B per problem buys floor(B / cost_per_sample) samples
  of a model; compute is counted in tokens, or in FLOPs ~= 2 * parameters * tokens per sample
  (the forward-pass approximation of Kaplan et al. 2020, "Scaling Laws for Neural Language
  Models"). Accuracies beyond a run's measured N are not extrapolated here (NaN): use the fits.
* **Crossover.** The smallest n at which the small model's accuracy with n samples reaches the
  large model's accuracy with one sample (Brown et al. 2024 report such crossovers for coverage),
  with a percentile interval from the paired bootstrap over problems.
* **Paired bootstrap tests** over shared problems for any difference a report claims
  (:func:`stages.stats.bootstrap.paired_bootstrap`); :func:`paired_pass_at_k` is the one
  implementation of "pass@k of run a vs run b", used by ``stages/compare.py`` and by the nightly
  regression check (``flows/regression.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from stages.schemas import COUNTS, conform
from stages.stats.bootstrap import (
    PairedResult,
    paired_bootstrap,
    percentile_interval,
    resample_weights,
)
from stages.stats.passk import pass_at_k_matrix


def flops_per_sample(parameters: float, tokens_per_sample: float) -> float:
    """Forward-pass FLOPs of one sample: 2 * parameters * tokens."""
    return 2.0 * parameters * tokens_per_sample


def align(a: pl.DataFrame, b: pl.DataFrame, value: str, on: str = "problem_id") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-problem values of two runs on their shared problems (sorted by ``on``)."""
    joined = a.select(on, pl.col(value).alias("a")).join(b.select(on, pl.col(value).alias("b")), on=on, how="inner")
    if joined.height == 0:
        raise ValueError("the two runs share no problems; a paired comparison is impossible")
    joined = joined.sort(on)
    return joined.get_column("a").to_numpy(), joined.get_column("b").to_numpy(), joined.get_column(on).to_list()


def paired_difference(a: pl.DataFrame, b: pl.DataFrame, value: str, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> PairedResult:
    """Paired bootstrap of mean(a.value) - mean(b.value) over the problems both runs scored."""
    x, y, _ = align(a, b, value)
    return paired_bootstrap(x, y, n_boot, ci, seed)


def equal_compute(
    accuracy_a: npt.ArrayLike,
    accuracy_b: npt.ArrayLike,
    cost_a: float,
    cost_b: float,
    budgets: npt.ArrayLike,
) -> pl.DataFrame:
    """Accuracy of each model at each per-problem budget.

    ``accuracy_x[i]`` is the accuracy with i + 1 samples (a full curve for n = 1..N, e.g.
    pass@k or a strategy). Budgets below one sample or above N samples give NaN for that model.
    """
    acc_a, acc_b = np.asarray(accuracy_a, dtype=np.float64), np.asarray(accuracy_b, dtype=np.float64)
    bud = np.asarray(budgets, dtype=np.float64)

    def at(acc: np.ndarray, cost: float) -> tuple[np.ndarray, np.ndarray]:
        if cost <= 0:
            raise ValueError("cost per sample must be > 0")
        n = np.floor(bud / cost + 1e-9).astype(np.int64)
        ok = (n >= 1) & (n <= acc.size)
        return n, np.where(ok, acc[np.clip(n, 1, acc.size) - 1], np.nan)

    n_a, v_a = at(acc_a, cost_a)
    n_b, v_b = at(acc_b, cost_b)
    return pl.DataFrame({"budget": bud, "n_a": n_a, "accuracy_a": v_a, "n_b": n_b, "accuracy_b": v_b})


def crossover(
    small: np.ndarray, large_at_1: npt.ArrayLike, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Smallest n with mean small accuracy(n) >= mean large accuracy(1), with a paired interval.

    ``small`` is the (P, N) per-problem accuracy of the small model for n = 1..N; ``large_at_1``
    the (P,) per-problem accuracy of the large model with one sample, on the same problems in the
    same order. inf when the small model never catches up within N.
    """
    small = np.asarray(small, dtype=np.float64)
    large = np.asarray(large_at_1, dtype=np.float64)
    if small.shape[0] != large.shape[0]:
        raise ValueError("crossover needs both runs on the same problems (same row order)")

    def first_reach(curves: np.ndarray, target: np.ndarray) -> np.ndarray:
        reach = curves >= target[:, None]
        return np.where(reach.any(axis=1), np.argmax(reach, axis=1) + 1.0, np.inf)

    point = first_reach(small.mean(axis=0)[None, :], np.array([large.mean()]))[0]
    if n_boot == 0:
        return {"n": float(point), "n_ci_low": float(point), "n_ci_high": float(point)}
    w = resample_weights(small.shape[0], n_boot, seed)
    reps = first_reach(w @ small / small.shape[0], w @ large / small.shape[0])
    low, high = percentile_interval(reps, ci) if np.isfinite(reps).all() else _inf_aware(reps, ci)
    return {"n": float(point), "n_ci_low": float(low), "n_ci_high": float(high)}


def _inf_aware(reps: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentiles where inf ('never within N') sorts above every finite n."""
    ordered = np.sort(reps)
    alpha = (1 - ci) / 2
    lo = ordered[int(np.floor(alpha * (ordered.size - 1)))]
    hi = ordered[int(np.ceil((1 - alpha) * (ordered.size - 1)))]
    return float(lo), float(hi)


def shared_counts(counts_a: pl.DataFrame, counts_b: pl.DataFrame, verifier: str) -> pl.DataFrame:
    """One verifier's per-problem counts of two runs on their shared problems: n, c, n_b, c_b."""

    def part(counts: pl.DataFrame, name: str) -> pl.DataFrame:
        rows = conform(counts, COUNTS, f"counts of run {name}").filter(pl.col("verifier") == verifier)
        if rows.height == 0:
            raise ValueError(f"compare: run {name} has no counts for verifier '{verifier}'")
        return rows.select("problem_id", "n", "c")

    joined = part(counts_a, "a").join(part(counts_b, "b"), on="problem_id", how="inner", suffix="_b").sort("problem_id")
    if joined.height == 0:
        raise ValueError("compare: the two runs share no problems; a paired comparison is impossible")
    return joined


def paired_pass_at_k(joined: pl.DataFrame, ks: list[int], n_boot: int = 1000, ci: float = 0.95,
                     seed: int = 0) -> list[dict[str, float]]:
    """Paired bootstrap of pass@k(a) - pass@k(b) over shared problems, for each k both runs reach.

    ``joined`` is :func:`shared_counts`. Each row: k, a, b (means), difference, ci_low, ci_high,
    p_value, n_problems. A k past either run's smallest n is left out (not identified).
    """
    n_a, c_a = joined["n"].to_numpy(), joined["c"].to_numpy()
    n_b, c_b = joined["n_b"].to_numpy(), joined["c_b"].to_numpy()
    reach = int(min(n_a.min(), n_b.min()))
    out = []
    for k in ks:
        if 1 <= k <= reach:
            a = pass_at_k_matrix(n_a, c_a, [k])[:, 0]
            b = pass_at_k_matrix(n_b, c_b, [k])[:, 0]
            res = paired_bootstrap(a, b, n_boot, ci, seed)
            out.append({"k": k, "a": float(a.mean()), "b": float(b.mean()), "difference": res.difference,
                        "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value,
                        "n_problems": res.n_problems})
    return out


def compare_counts(
    counts_a: pl.DataFrame,
    counts_b: pl.DataFrame,
    verifier: str,
    cost_a: float,
    cost_b: float,
    ks: list[int],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[dict[str, object], pl.DataFrame]:
    """Two runs' per-problem counts (COUNTS) for one verifier, on their shared problems.

    Returns metrics -- paired pass@k differences (a - b) for each k both runs reach, the n at
    which run a (the smaller model) with n samples reaches run b with one, and the reverse -- and
    the equal-compute table over budgets of 1..N_a samples of a.
    """
    joined = shared_counts(counts_a, counts_b, verifier)
    n_a, c_a = joined["n"].to_numpy(), joined["c"].to_numpy()
    n_b, c_b = joined["n_b"].to_numpy(), joined["c_b"].to_numpy()
    k_a, k_b = np.arange(1, int(n_a.min()) + 1), np.arange(1, int(n_b.min()) + 1)
    mat_a, mat_b = pass_at_k_matrix(n_a, c_a, k_a), pass_at_k_matrix(n_b, c_b, k_b)
    metrics: dict[str, object] = {"verifier": verifier, "shared_problems": joined.height}
    for row in paired_pass_at_k(joined, ks, n_boot, ci, seed):
        k = row["k"]
        metrics[f"pass@{k}_diff"] = row["difference"]
        metrics[f"pass@{k}_diff_ci"] = [row["ci_low"], row["ci_high"]]
        metrics[f"pass@{k}_diff_p"] = row["p_value"]
    metrics["crossover_a_reaches_b_at_1"] = crossover(mat_a, mat_b[:, 0], n_boot, ci, seed)
    metrics["crossover_b_reaches_a_at_1"] = crossover(mat_b, mat_a[:, 0], n_boot, ci, seed)
    budgets = cost_a * k_a.astype(np.float64)
    table = equal_compute(mat_a.mean(axis=0), mat_b.mean(axis=0), cost_a, cost_b, budgets)
    return metrics, table
