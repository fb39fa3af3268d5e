"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").

For a problem with n samples of which c are correct, the probability that at least one of k
samples drawn without replacement is correct is

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i).

The product form avoids the huge binomial coefficients of the ratio form (C(1000, 500) overflows
float64); we evaluate it in log space, vectorised over problems and all k at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from stages.schemas import ACCEPTED, COUNTS, conform


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> np.ndarray:
    """Unbiased pass@k per problem; n, c arrays of equal shape, k <= min(n)."""
    n_arr = np.asarray(n, dtype=np.int64)
    c_arr = np.asarray(c, dtype=np.int64)
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n for every problem")
    if k < 1 or np.any(k > n_arr):
        raise ValueError(f"k={k} must satisfy 1 <= k <= n for every problem")
    return pass_at_k_matrix(n_arr, c_arr, np.array([k]))[:, 0]


def pass_at_k_matrix(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """pass@k for every problem (rows) and every k in ``ks`` (columns), in log space.

    log(C(n-c, k) / C(n, k)) = sum_{i=0}^{c-1} log(1 - k / (n - i)), which is -inf when
    n - c < k (some correct sample is certain to be drawn).
    """
    n = np.asarray(n, dtype=np.float64)[:, None]
    c = np.asarray(c, dtype=np.float64)[:, None]
    ks = np.asarray(ks, dtype=np.float64)[None, :]
    # Using lgamma: log C(a, k) = lgamma(a+1) - lgamma(k+1) - lgamma(a-k+1).
    from scipy.special import gammaln

    a = n - c
    feasible = a >= ks
    with np.errstate(invalid="ignore"):
        log_ratio = (
            gammaln(a + 1) - gammaln(np.where(feasible, a - ks, 0) + 1)
            - gammaln(n + 1) + gammaln(n - ks + 1)
        )
    fail_all = np.where(feasible, np.exp(log_ratio), 0.0)
    return np.clip(1.0 - fail_all, 0.0, 1.0)


def counts_from_verdicts(verdicts: pl.DataFrame) -> pl.DataFrame:
    """Per (problem, verifier): n samples and c accepted ones (the sufficient statistic)."""
    out = verdicts.group_by("problem_id", "verifier").agg(
        pl.len().alias("n"),
        pl.col("verdict").cast(pl.String).is_in(list(ACCEPTED)).sum().alias("c"),
    )
    return conform(out.sort("verifier", "problem_id"), COUNTS, "counts")
