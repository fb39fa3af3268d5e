"""Seeded Monte Carlo accuracy of selection strategies that have no cheap exact form.

For each problem we draw R uniformly random orderings of its pool; the first n entries of an
ordering are a uniformly random subset of size n, for every n at once. Walking the orderings once,
segment by segment between consecutive n of the grid, we keep per (replicate, cluster) running
counts, score-weight sums, correct counts and the best score key -- so each sample is touched once
per replicate (O(R N) per problem), not once per n. The strategies are then decided on these
(R, C) summaries at each n. The estimate is the mean over replicates -- unbiased for the
subset-average that the exact estimators compute -- with standard error sqrt(sum_p var_p / R) / P
reported alongside. Loops run over problems and subset sizes, never over samples.

Ties are broken uniformly at random (a fresh uniform key per replicate); for vote-based
strategies the submitted sample is a uniformly random drawn member of the winning cluster, and
we score its *expected* correctness (the winning cluster's correct share in the subset), which is
unbiased and has lower variance than drawing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class SubsetState:
    """Per (replicate, cluster) summaries of the first n samples of each ordering."""

    n: int
    count: np.ndarray  # (R, C) drawn members
    weight: np.ndarray  # (R, C) summed vote weights
    good: np.ndarray  # (R, C) strongly correct members
    top_key: np.ndarray  # (R, C) best score key among drawn members (-inf if none)
    correct_of_key: Callable[[np.ndarray], np.ndarray]  # (R,) key -> correctness of that sample


Rule = Callable[[SubsetState, np.random.Generator], np.ndarray]


def _pick_random_max(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax with ties broken uniformly at random."""
    top = values == values.max(axis=1, keepdims=True)
    return np.argmax(np.where(top, rng.random(values.shape), -1.0), axis=1)


def _vote(state: SubsetState, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    win = _pick_random_max(np.where(state.count > 0, weight, -np.inf), rng)
    rows = np.arange(weight.shape[0])
    return state.good[rows, win] / state.count[rows, win]


def plain_vote(state: SubsetState, rng: np.random.Generator) -> np.ndarray:
    """Majority vote (every sample weight 1): the Monte Carlo fallback for large pools."""
    return _vote(state, state.count, rng)


def weighted_vote(state: SubsetState, rng: np.random.Generator) -> np.ndarray:
    """Cluster with the largest total weight among those drawn; expected correctness of a member."""
    return _vote(state, state.weight, rng)


def best_of_majority_rule(threshold: float) -> Rule:
    """Best-of-Majority (Di et al. 2025, arXiv:2510.03199) for one submission (k = 1).

    Keep clusters whose frequency in the subset is at least ``threshold * n`` (the modal cluster
    always qualifies, so the set is never empty), then submit the top-scored sample among them.
    """

    def rule(state: SubsetState, rng: np.random.Generator) -> np.ndarray:
        need = max(1.0, np.ceil(threshold * state.n - 1e-12))
        keep = (state.count >= need) | (state.count == state.count.max(axis=1, keepdims=True))
        best = np.where(keep & (state.count > 0), state.top_key, -np.inf).max(axis=1)
        return state.correct_of_key(best)

    return rule


def monte_carlo_problem(
    clusters: np.ndarray,
    weights: np.ndarray,
    score_rank: np.ndarray,
    correct: np.ndarray,
    ns: np.ndarray,
    rules: dict[str, Rule],
    replicates: int,
    rng: np.random.Generator,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and variance over replicates of each rule's correctness, for each n (one problem).

    ``score_rank`` is the dense rank of the score within the pool (nulls lowest); adding a random
    fraction in [0, 0.5) breaks score ties at random without reordering distinct scores.
    """
    pool = clusters.size
    if score_rank.max() >= 2**16:
        raise ValueError("Monte Carlo selection supports pools of up to 65,535 distinct scores")
    n_clusters = int(clusters.max()) + 1
    order = rng.permuted(np.tile(np.arange(pool), (replicates, 1)), axis=1)
    cl = clusters[order]
    # key = rank + tie-break fraction in [0, 0.5); the fraction's lowest bit carries the sample's
    # correctness, so the best key tells whether the chosen sample is correct without a lookup.
    # Exact in float64 for ranks < 2**16; two tied samples share a 34-bit tie-break with
    # probability 2**-34, the only (negligible) departure from a uniform tie-break.
    tie = rng.integers(0, 2**34, size=(replicates, pool), dtype=np.int64)
    key = score_rank[order] + (tie * 2 + correct[order]) / 2.0**36

    def correct_of_key(best: np.ndarray) -> np.ndarray:
        frac = best - np.floor(best)
        return (np.round(frac * 2.0**36).astype(np.int64) & 1).astype(np.float64)

    cells = replicates * n_clusters
    cell = cl + (np.arange(replicates) * n_clusters)[:, None]
    w, good = weights[order], correct[order].astype(np.float64)
    count, wsum, gsum = np.zeros(cells), np.zeros(cells), np.zeros(cells)
    top = np.full(cells, -np.inf)
    out = {name: (np.empty(ns.size), np.empty(ns.size)) for name in rules}
    prev = 0
    for j, n in enumerate(ns.tolist()):  # grid of subset sizes; each sample visited once
        idx = cell[:, prev:n].ravel()
        count += np.bincount(idx, minlength=cells)
        wsum += np.bincount(idx, weights=w[:, prev:n].ravel(), minlength=cells)
        gsum += np.bincount(idx, weights=good[:, prev:n].ravel(), minlength=cells)
        np.maximum.at(top, idx, key[:, prev:n].ravel())
        prev = n
        shape = (replicates, n_clusters)
        state = SubsetState(n, count.reshape(shape), wsum.reshape(shape), gsum.reshape(shape),
                            top.reshape(shape), correct_of_key)
        for name, rule in rules.items():
            vals = rule(state, rng)
            out[name][0][j] = vals.mean()
            out[name][1][j] = vals.var(ddof=1) if replicates > 1 else 0.0
    return out
