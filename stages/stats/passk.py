"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").

For a problem with n samples of which c are correct, the probability that at least one of k
samples drawn without replacement is correct is

    pass@k = 1 - C(n - c, k) / C(n, k).

The one hypergeometric helper of the project is :func:`log_miss`: log C(N - m, n) / C(N, n), the
log-probability that a uniformly random n-subset of N items misses m given ones. It is evaluated
with log-gamma (``scipy.special.gammaln``): C(1000, 500) overflows float64, its logarithm does
not, and gammaln is exact to ~1e-13 relative for every argument used here. pass@k
(:func:`pass_at_k_matrix`), the curves, the order-statistic strategy estimators and the expected
draws of sequential strategies all call it; nothing else in ``stages/stats`` evaluates a binomial
ratio.

Rows whose generation, sandbox harness or judge failed carry no judgment of the candidate
(``schemas.NO_JUDGMENT``): :func:`counts_from_verdicts` leaves them out of n (pass@k stays
unbiased for any n_i >= k when failures are independent of correctness) and
:func:`failed_counts` counts them per verifier.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.special import gammaln

from stages.schemas import ACCEPTED, COUNTS, NO_JUDGMENT, conform


def log_miss(pool: npt.ArrayLike, given: npt.ArrayLike, draws: npt.ArrayLike) -> np.ndarray:
    """log C(N - m, n) / C(N, n), broadcast over (N, m, n); -inf where N - m < n (a hit is certain).

    Undefined (NaN) where n > N: the caller must not ask for more draws than the pool holds.
    """
    big_n = np.asarray(pool, dtype=np.float64)
    m = np.asarray(given, dtype=np.float64)
    n = np.asarray(draws, dtype=np.float64)
    a = big_n - m
    ok = a >= n
    safe_a = np.where(ok, a, n)
    with np.errstate(invalid="ignore"):
        val = gammaln(safe_a + 1) - gammaln(safe_a - n + 1) - gammaln(big_n + 1) + gammaln(big_n - n + 1)
    return np.where(ok, val, -np.inf)


def pass_at_k_matrix(n: npt.ArrayLike, c: npt.ArrayLike, ks: npt.ArrayLike) -> np.ndarray:
    """(P, K) unbiased pass@k for every problem (rows) and every k in ``ks`` (columns).

    Entries with k > n_i are NaN: pass@k is not identified from fewer than k samples.
    """
    n_arr = np.asarray(n, dtype=np.float64)[:, None]
    c_arr = np.asarray(c, dtype=np.float64)[:, None]
    k_arr = np.asarray(ks, dtype=np.float64)[None, :]
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n for every problem")
    if np.any(k_arr < 1):
        raise ValueError("every k must be >= 1")
    out = 1.0 - np.exp(log_miss(n_arr, c_arr, np.minimum(k_arr, n_arr)))
    return np.where(k_arr <= n_arr, np.clip(out, 0.0, 1.0), np.nan)


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> np.ndarray:
    """Unbiased pass@k per problem; n, c arrays of equal shape, 1 <= k <= min(n)."""
    n_arr = np.asarray(n, dtype=np.int64)
    if k < 1 or np.any(k > n_arr):
        raise ValueError(f"k={k} must satisfy 1 <= k <= n for every problem")
    return pass_at_k_matrix(n_arr, c, np.array([k]))[:, 0]


def judged() -> pl.Expr:
    """True for rows that judge the candidate (not a generation, harness or judge failure)."""
    return ~pl.col("verdict").cast(pl.String).is_in(list(NO_JUDGMENT))


def counts_from_verdicts(verdicts: pl.DataFrame) -> pl.DataFrame:
    """Per (problem, verifier): n judged samples and c accepted ones (the sufficient statistic).

    Failure rows (``NO_JUDGMENT``) are not in n; a problem with no judged sample has no row (it
    is listed by :func:`failed_counts`'s caller, never silently dropped).
    """
    out = verdicts.filter(judged()).group_by("problem_id", "verifier").agg(
        pl.len().alias("n"),
        pl.col("verdict").cast(pl.String).is_in(list(ACCEPTED)).sum().alias("c"),
    )
    return conform(out.sort("verifier", "problem_id"), COUNTS, "counts")


def failed_counts(verdicts: pl.DataFrame) -> pl.DataFrame:
    """Per (problem, verifier): rows and failure rows (columns problem_id, verifier, rows, n_failed)."""
    return (
        verdicts.group_by("problem_id", "verifier")
        .agg(pl.len().alias("rows"), (~judged()).sum().cast(pl.Int64).alias("n_failed"))
        .sort("verifier", "problem_id")
    )


def failure_report(verdicts: pl.DataFrame, counts: pl.DataFrame, ks: list[int]) -> dict[str, dict]:
    """Per verifier: ``n_failed`` rows, problems left without a judged sample, and the problems
    that fall short of each headline k (whose pass@k is then not reported: :func:`short_of_k`)."""
    failed = failed_counts(verdicts)
    out: dict[str, dict] = {}
    for (verifier,), part in failed.group_by("verifier", maintain_order=True):
        judged_n = counts.filter(pl.col("verifier") == verifier).select("problem_id", "n")
        empty = part.join(judged_n, on="problem_id", how="anti").get_column("problem_id").sort().to_list()
        out[str(verifier)] = {"n_failed": int(part.get_column("n_failed").sum()),
                              "problems_without_judged_samples": empty,
                              **short_of_k(judged_n, ks)}
    return out


def short_of_k(counts: pl.DataFrame, ks: list[int]) -> dict[str, dict]:
    """{"skipped": {"pass@k": reason}} for each k that some problem has fewer judged samples for.

    The curve stops at the smallest n_i (the same problems at every k keep it a curve); a k past
    that is reported as skipped, naming the problems, never averaged over a silently smaller set.
    """
    skipped = {}
    for k in ks:
        short = counts.filter(pl.col("n") < k).get_column("problem_id").sort().to_list()
        if short and len(short) == counts.height:  # past the run's N: nothing to name
            skipped[f"pass@{k}"] = f"k exceeds every problem's judged samples (at most {counts['n'].max()})"
        elif short:
            skipped[f"pass@{k}"] = (f"{len(short)} problem(s) have fewer than {k} judged samples: "
                                    + ", ".join(short[:20]) + (" ..." if len(short) > 20 else ""))
    return {"skipped": skipped} if skipped else {}
