"""Selection strategies on one sample pool: accuracy vs n (1 <= n <= N) with intervals.

Every estimate is the expected strong-verifier correctness of the submitted sample when the
strategy sees a uniformly random subset of n of the N pooled samples -- the pass@k idea (Chen et
al. 2021) applied to selection: unbiased for the strategy's accuracy with n fresh samples, and
far less noisy than using one fixed subset per n. Averaged over problems, with bootstrap
intervals over problems.

Input: one row per sample, columns problem_id, sample_idx, cluster (behaviour/answer class:
code clustered by outputs on the weak tests' inputs, math by equivalent answers), score
(float or null: judge, reward or mean logprob; higher = more confident), weak_pass and correct
(strong verifier), all bool.

Strategies and their estimators (ties are always broken uniformly at random, in expectation):

* ``oracle`` -- pass@n itself (any correct sample counts): the ceiling for every strategy. Exact.
* ``majority_vote`` -- most frequent cluster, a random member submitted. Exact by
  hypergeometric counting over clusters (:mod:`stages.stats.majority`) when every problem's
  pool is within its size and work limits (``exact_feasible``); seeded Monte Carlo otherwise.
* ``weighted_majority`` -- cluster with the largest summed score (scores < 0 are read as
  log-probabilities and weighted by exp(score); null scores weigh 0, and a pool without any
  score votes with weight 1, i.e. plain majority). Monte Carlo.
* ``best_of_n`` -- highest score (nulls lowest). Exact by order statistics: the top group g
  (samples tied at one score, with a_g samples scored above it) is the subset's best with
  probability [C(N - a_g, n) - C(N - a_g - s_g, n)] / C(N, n).
* ``best_of_majority`` -- Di et al. 2025 ("Best-of-Majority: Minimax-Optimal Strategy for
  Pass@k Inference Scaling", arXiv:2510.03199), k = 1: clusters with frequency >= threshold*n
  (the modal one always kept), then the top score among them. Monte Carlo.
* ``resample_until_weak_pass`` -- submit the first sample the weak verifier accepts, abstain
  (scored wrong) if none is accepted. In a random order, the first accepted sample is a uniform
  accepted one, so accuracy = [1 - C(N - A, n) / C(N, n)] * T / A (A accepted, T of them correct).
  Exact. (The infinite-pool, with-replacement version is :mod:`stages.stats.verifier_limits`.)
* ``surprisal_guided`` -- among weakly accepted samples, the least confident (lowest score,
  nulls least preferred); abstain if none accepted. Exact, same order statistics as best_of_n.

Strategies that rank or weigh by score (``SCORED``) are **skipped** with the reason when the pool
carries no score at all: with every score null, best-of-n is a uniform pick (= pass@1),
weighted majority is plain majority and surprisal-guided is resample-until-weak-pass, so their
numbers would be other strategies' results under another name (:func:`split_available`).

``mean_draws`` is the expected number of samples a strategy generates at budget n: n for the
ones that look at the whole subset, and for ``resample_until_weak_pass``, which stops at the
first weak pass, E[min(T, n)] = sum_{j=0}^{n-1} C(N - A, j) / C(N, j) (T = position of the first
accepted sample in a random order). Cost-of-pass charges it (:mod:`stages.stats.costs`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Final

import numpy as np
import polars as pl

from stages.stats.bootstrap import percentile_interval, resample_weights
from stages.stats.curves import log_spaced_ks
from stages.stats.majority import exact_feasible, majority_accuracy_exact
from stages.stats.montecarlo import (
    best_of_majority_rule,
    monte_carlo_problem,
    plain_vote,
    weighted_vote,
)
from stages.stats.passk import log_miss, pass_at_k_matrix

STRATEGIES: Final[tuple[str, ...]] = (
    "oracle",
    "majority_vote",
    "weighted_majority",
    "best_of_n",
    "best_of_majority",
    "resample_until_weak_pass",
    "surprisal_guided",
)
POOL: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "cluster": pl.String(),
    "score": pl.Float64(),
    "weak_pass": pl.Boolean(),
    "correct": pl.Boolean(),
}
STRATEGY_CURVE: Final[dict[str, pl.DataType]] = {
    "strategy": pl.String(),
    "n": pl.Int64(),
    "accuracy": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "mc_se": pl.Float64(),  # Monte Carlo standard error; 0 for exact estimators
    "method": pl.String(),  # exact | monte_carlo
    "mean_draws": pl.Float64(),  # expected samples generated per problem at budget n
}
# Strategies that rank or weigh samples by their score: meaningless without any score.
SCORED: Final[tuple[str, ...]] = ("weighted_majority", "best_of_n", "best_of_majority", "surprisal_guided")
# Strategies that stop drawing early (their cost is the expected number of draws, not n).
SEQUENTIAL: Final[tuple[str, ...]] = ("resample_until_weak_pass",)
NO_SCORES = "needs per-sample scores (mean_logprob or a judge score); every score in this pool is null"


def split_available(pool: pl.DataFrame, strategies: tuple[str, ...] = STRATEGIES) -> tuple[tuple[str, ...], dict[str, str]]:
    """(strategies this pool supports, {skipped strategy: reason})."""
    has_score = "score" in pool.columns and pool.select(pl.col("score").cast(pl.Float64).is_finite().any()).item()
    skipped = {} if has_score else {name: NO_SCORES for name in strategies if name in SCORED}
    return tuple(name for name in strategies if name not in skipped), skipped


def prepare_pool(pool: pl.DataFrame) -> pl.DataFrame:
    """Conform the per-sample frame and add integer codes (problem, cluster, score rank)."""
    missing = [c for c in POOL if c not in pool.columns]
    if missing:
        raise ValueError(f"selection pool is missing column(s): {', '.join(missing)}")
    out = pool.select([pl.col(c).cast(t) for c, t in POOL.items()])
    for col in ("problem_id", "cluster", "weak_pass", "correct"):
        nulls = out.filter(pl.col(col).is_null())
        if nulls.height:
            row = nulls.row(0, named=True)
            raise ValueError(f"selection pool: null '{col}' at problem '{row['problem_id']}' sample {row['sample_idx']}")
    return out.sort("problem_id", "sample_idx").with_columns(
        (pl.col("problem_id").rank("dense") - 1).cast(pl.Int64).alias("p"),
        (pl.col("cluster").rank("dense").over("problem_id") - 1).cast(pl.Int64).alias("cl"),
        pl.col("score").fill_null(-np.inf).rank("dense").over("problem_id").cast(pl.Int64).alias("score_rank"),
        pl.len().over("problem_id").alias("pool_n"),
    )


def preference_accuracy(
    frame: pl.DataFrame, eligible: pl.Expr, key: pl.Expr, n_problems: int, ns: np.ndarray
) -> np.ndarray:
    """(P, len(ns)) exact accuracy of "submit the eligible sample with the highest key".

    Abstains (scores 0) when the subset holds no eligible sample. Key ties form groups; a group
    is on top when the subset avoids every eligible sample keyed above it and hits the group;
    the submitted member is uniform within the group, so it contributes the group's correct share.
    """
    groups = (
        frame.filter(eligible)
        .with_columns(key.fill_null(-np.inf).fill_nan(-np.inf).alias("key"))
        .group_by("p", "key")
        .agg(pl.len().alias("size"), pl.col("correct").sum().alias("good"), pl.col("pool_n").first())
        .sort(["p", "key"], descending=[False, True])
        .with_columns((pl.col("size").cum_sum().over("p") - pl.col("size")).alias("above"))
    )
    p = groups.get_column("p").to_numpy()
    size = groups.get_column("size").to_numpy().astype(np.float64)
    share = groups.get_column("good").to_numpy() / size
    above = groups.get_column("above").to_numpy().astype(np.float64)
    pool_n = groups.get_column("pool_n").to_numpy().astype(np.float64)
    out = np.zeros((n_problems, ns.size))
    for j, n in enumerate(ns.tolist()):  # loop over subset sizes only
        top = np.exp(log_miss(pool_n, above, n)) - np.exp(log_miss(pool_n, above + size, n))
        out[:, j] = np.bincount(p, weights=top * share, minlength=n_problems)
    return out


def _majority_exact(frame: pl.DataFrame, n_problems: int, ns: np.ndarray) -> np.ndarray:
    sizes = (
        frame.group_by("p", "cl").agg(pl.len().alias("m"), pl.col("correct").sum().alias("k")).sort("p", "cl")
    )
    p = sizes.get_column("p").to_numpy()
    bounds = np.searchsorted(p, np.arange(n_problems + 1))
    m, k = sizes.get_column("m").to_numpy(), sizes.get_column("k").to_numpy()
    return np.stack(
        [majority_accuracy_exact(m[lo:hi], k[lo:hi], ns) for lo, hi in pairwise(bounds)]
    )


def _vote_weights(score: np.ndarray) -> np.ndarray:
    finite = np.isfinite(score)
    if not finite.any():  # no scores in this pool: weighted majority is plain majority
        return np.ones_like(score)
    if np.any(score[finite] < 0):  # log-probabilities: weigh by probability
        return np.where(finite, np.exp(np.where(finite, score, 0.0)), 0.0)
    return np.where(finite, score, 0.0)


def strategy_matrices(
    pool: pl.DataFrame,
    ns: np.ndarray,
    strategies: tuple[str, ...] = STRATEGIES,
    replicates: int = 200,
    seed: int = 0,
    bom_threshold: float = 0.2,
) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Per strategy: (P, len(ns)) per-problem accuracy, (P, len(ns)) MC variance/R, method."""
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown}; known: {', '.join(STRATEGIES)}")
    frame = prepare_pool(pool)
    n_problems = int(frame.get_column("p").max()) + 1
    counts = frame.group_by("p").agg(pl.len().alias("n"), pl.col("correct").sum().alias("c")).sort("p")
    pool_sizes = counts.get_column("n").to_numpy()
    ns = np.asarray(ns, dtype=np.int64)
    if ns.size == 0 or np.any(np.diff(ns) <= 0):
        raise ValueError("subset sizes must be a non-empty, strictly increasing list")
    if ns.min() < 1 or ns.max() > pool_sizes.min():
        raise ValueError(f"subset sizes must lie in 1..{pool_sizes.min()} (the smallest pool)")
    zero = np.zeros((n_problems, ns.size))
    out: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    cluster_sizes = frame.group_by("p", "cl").len().sort("p", "cl")
    exact_majority = all(
        exact_feasible(part.get_column("len").to_numpy()) for part in cluster_sizes.partition_by("p")
    )
    if "oracle" in strategies:
        out["oracle"] = (pass_at_k_matrix(pool_sizes, counts.get_column("c").to_numpy(), ns), zero, "exact")
    if "best_of_n" in strategies:
        out["best_of_n"] = (preference_accuracy(frame, pl.lit(True), pl.col("score"), n_problems, ns), zero, "exact")
    if "resample_until_weak_pass" in strategies:
        acc = preference_accuracy(frame, pl.col("weak_pass"), pl.lit(0.0), n_problems, ns)
        out["resample_until_weak_pass"] = (acc, zero, "exact")
    if "surprisal_guided" in strategies:
        # least confident first: key = -score, and a null score must rank last, not first
        key = pl.when(pl.col("score").is_null()).then(-np.inf).otherwise(-pl.col("score"))
        out["surprisal_guided"] = (preference_accuracy(frame, pl.col("weak_pass"), key, n_problems, ns), zero, "exact")
    if "majority_vote" in strategies and exact_majority:
        out["majority_vote"] = (_majority_exact(frame, n_problems, ns), zero, "exact")
    rules = {}
    if "majority_vote" in strategies and not exact_majority:
        rules["majority_vote"] = plain_vote
    if "weighted_majority" in strategies:
        rules["weighted_majority"] = weighted_vote
    if "best_of_majority" in strategies:
        rules["best_of_majority"] = best_of_majority_rule(bom_threshold)
    if rules:
        out |= _monte_carlo(frame, n_problems, ns, rules, replicates, seed)
    return {name: out[name] for name in strategies}


# Monte Carlo work cap per problem (replicates x pool size): a 10,000-sample pool gets 50
# replicates instead of 200. The standard error reported in ``mc_se`` accounts for it.
MAX_DRAWS_PER_PROBLEM = 500_000
MIN_REPLICATES = 20


def _monte_carlo(frame: pl.DataFrame, n_problems: int, ns: np.ndarray, rules: dict, replicates: int, seed: int):
    """Problems in parallel threads (numpy's array work releases the GIL); each problem has its
    own generator, seeded by (seed, problem), so the numbers do not depend on the number of
    threads or their order."""
    means = {name: np.empty((n_problems, ns.size)) for name in rules}
    var = {name: np.empty((n_problems, ns.size)) for name in rules}
    cols = {c: frame.get_column(c).to_numpy() for c in ("p", "cl", "score", "score_rank", "correct")}
    score = np.where(np.isnan(cols["score"].astype(np.float64)), -np.inf, cols["score"].astype(np.float64))
    bounds = list(pairwise(np.searchsorted(cols["p"], np.arange(n_problems + 1))))

    def problem(i: int) -> tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]]:  # (replicates, results)
        lo, hi = bounds[i]
        reps = int(min(replicates, max(MIN_REPLICATES, MAX_DRAWS_PER_PROBLEM // (hi - lo))))
        res = monte_carlo_problem(cols["cl"][lo:hi], _vote_weights(score[lo:hi]), cols["score_rank"][lo:hi],
                                  cols["correct"][lo:hi], ns, rules, reps, np.random.default_rng([seed, i]))
        return reps, res

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="infscale-mc") as pool:
        for i, (reps, res) in enumerate(pool.map(problem, range(n_problems))):
            for name, (mean, v) in res.items():
                means[name][i], var[name][i] = mean, v / reps
    return {name: (means[name], var[name], "monte_carlo") for name in rules}


def expected_draws(pool: pl.DataFrame, ns: np.ndarray, strategy: str) -> np.ndarray:
    """(P,) -> (len(ns),) mean over problems of the samples generated at each budget n."""
    ns = np.asarray(ns, dtype=np.int64)
    if strategy not in SEQUENTIAL:
        return ns.astype(np.float64)
    per = pool.group_by("problem_id").agg(pl.len().alias("N"), pl.col("weak_pass").sum().alias("A"))
    big_n = per.get_column("N").to_numpy()[:, None]
    accepted = per.get_column("A").to_numpy()[:, None]
    j = np.arange(int(ns.max()))[None, :]
    # P(T > j) = P(the first j draws miss every accepted sample); E[min(T, n)] = sum_{j<n} P(T > j)
    survive = np.cumsum(np.exp(log_miss(big_n, accepted, j)), axis=1)
    return survive[:, ns - 1].mean(axis=0)


def default_ns(pool_n: int, points: int = 30) -> np.ndarray:
    """Every n for small pools, else log-spaced n from 1 to N (always including N)."""
    return np.arange(1, pool_n + 1) if pool_n <= points else np.unique(np.append(log_spaced_ks(pool_n, points), pool_n))


def strategy_curves(
    pool: pl.DataFrame,
    ns: np.ndarray | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    replicates: int = 200,
    bom_threshold: float = 0.2,
    strategies: tuple[str, ...] = STRATEGIES,
) -> pl.DataFrame:
    """Accuracy vs n for each strategy with bootstrap intervals over problems (STRATEGY_CURVE).

    Only the strategies the pool supports (:func:`split_available`); the caller reports the rest.
    """
    if ns is None:
        ns = default_ns(int(pool.group_by("problem_id").len().get_column("len").min()))
    ns = np.asarray(ns, dtype=np.int64)
    strategies, _ = split_available(pool, strategies)
    mats = strategy_matrices(pool, ns, strategies, replicates, seed, bom_threshold) if strategies else {}
    frames = []
    for name, (acc, mc_var, method) in mats.items():
        n_problems = acc.shape[0]
        point = acc.mean(axis=0)
        if n_boot:
            low, high = percentile_interval(resample_weights(n_problems, n_boot, seed) @ acc / n_problems, ci)
        else:
            low, high = point, point
        se = np.sqrt(mc_var.sum(axis=0)) / n_problems
        frames.append(pl.DataFrame({"strategy": name, "n": ns, "accuracy": point, "ci_low": low,
                                    "ci_high": high, "mc_se": se, "method": method,
                                    "mean_draws": expected_draws(pool, ns, name)}))
    if not frames:
        return pl.DataFrame(schema=STRATEGY_CURVE)
    return pl.concat(frames).select([pl.col(c).cast(t) for c, t in STRATEGY_CURVE.items()])
