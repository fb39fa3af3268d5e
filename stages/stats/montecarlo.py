"""Seeded Monte Carlo accuracy of selection strategies that have no cheap exact form.

For each problem we draw R uniformly random orderings of its pool; the first n entries of an
ordering are a uniformly random subset of size n, for every n at once. Walking the orderings once,
segment by segment between consecutive n of the grid, we keep per (replicate, cluster) running
counts and correct counts, and -- only for the rules that read them (``Rule.uses``) -- score-weight
sums and the best score key, so each sample is touched once per replicate (O(R N) per problem),
not once per n. The strategies are then decided on these (R, C) summaries at each n. The
estimate is the mean over replicates -- unbiased for the subset-average that the exact
estimators compute -- with standard error sqrt(sum_p var_p / R) / P reported alongside. Loops run
over problems and subset sizes, never over samples.

Ties are broken uniformly at random: vote ties by a uniform priority per (replicate, cluster),
drawn once per problem (at each n it is a uniform pick among the tied clusters, independent of
the subset), score ties by a uniform key per (replicate, sample). For vote-based strategies the
submitted sample is a uniformly random drawn member of the winning cluster, and we score its
*expected* correctness (the winning cluster's correct share in the subset), which is unbiased
and has lower variance than drawing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

WEIGHT, TOP_KEY = "weight", "top_key"  # the optional summaries a rule may read


@dataclass
class SubsetState:
    """Per (replicate, cluster) summaries of the first n samples of each ordering."""

    n: int
    count: np.ndarray  # (R, C) drawn members
    good: np.ndarray  # (R, C) strongly correct members
    priority: np.ndarray  # (R, C) uniform in [0, 0.5): the vote tie-break
    weight: np.ndarray | None  # (R, C) summed vote weights (rules that use WEIGHT)
    top_key: np.ndarray | None  # (R, C) best score key among drawn members, -inf if none (TOP_KEY)
    correct_of_key: Callable[[np.ndarray], np.ndarray]  # (R,) key -> correctness of that sample


@dataclass(frozen=True)
class Rule:
    """A selection rule decided on the subset summaries; ``uses``: the optional ones it reads."""

    decide: Callable[[SubsetState], np.ndarray]  # (R,) expected correctness of the submission
    uses: frozenset[str] = field(default_factory=frozenset)


def _share(state: SubsetState, win: np.ndarray) -> np.ndarray:
    rows = np.arange(win.size)
    return state.good[rows, win] / state.count[rows, win]


def _plain(state: SubsetState) -> np.ndarray:
    # integer counts + a priority below 0.5: the argmax is a uniform pick among the modal clusters
    return _share(state, np.argmax(state.count + state.priority, axis=1))


def _weighted(state: SubsetState) -> np.ndarray:
    votes = np.where(state.count > 0, state.weight, -np.inf)
    top = votes == votes.max(axis=1, keepdims=True)
    return _share(state, np.argmax(np.where(top, state.priority, -1.0), axis=1))


plain_vote = Rule(_plain)
"""Majority vote (every sample weight 1): the Monte Carlo fallback for large pools."""
weighted_vote = Rule(_weighted, frozenset({WEIGHT}))
"""Cluster with the largest total weight among those drawn; expected correctness of a member."""


def best_of_majority_rule(threshold: float) -> Rule:
    """Best-of-Majority (Di et al. 2025, arXiv:2510.03199) for one submission (k = 1).

    Keep clusters whose frequency in the subset is at least ``threshold * n`` (the modal cluster
    always qualifies, so the set is never empty), then submit the top-scored sample among them.
    """

    def decide(state: SubsetState) -> np.ndarray:
        need = max(1.0, np.ceil(threshold * state.n - 1e-12))
        keep = (state.count >= need) | (state.count == state.count.max(axis=1, keepdims=True))
        best = np.where(keep & (state.count > 0), state.top_key, -np.inf).max(axis=1)
        return state.correct_of_key(best)

    return Rule(decide, frozenset({TOP_KEY}))


def random_orders(pool: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(R, pool) uniformly random orderings of ``range(pool)``, one per row.

    Each row sorts i.i.d. random integers with the index packed into their low bits: one int64
    sort, about twice as fast as ``Generator.permuted``. Two keys of a row coincide with
    probability below pool^2 / 2^(64 - bits) (an 800-sample pool: 4e-11), the only (negligible)
    departure from a uniform ordering.
    """
    bits = max(1, int(pool - 1).bit_length())
    packed = rng.integers(0, 1 << (63 - bits), size=(replicates, pool), dtype=np.int64) << bits
    packed |= np.arange(pool)
    packed.sort(axis=1)
    return packed & ((1 << bits) - 1)


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
    uses = frozenset().union(*(rule.uses for rule in rules.values()))
    n_clusters = int(clusters.max()) + 1
    order = random_orders(pool, replicates, rng)
    priority = rng.random((replicates, n_clusters)) * 0.5
    cells = replicates * n_clusters
    # one bincount per segment counts (cluster, correct) pairs: cell = 2 * cluster + correct
    pair = (2 * clusters + correct)[order] + (2 * n_clusters * np.arange(replicates))[:, None]
    pairs = np.zeros(2 * cells)
    key = w = top = wsum = None  # set below for the rules that read them
    if TOP_KEY in uses:
        # key = rank + tie-break fraction in [0, 0.5); the fraction's lowest bit carries the
        # sample's correctness, so the best key tells whether the chosen sample is correct without
        # a lookup. Exact in float64 for ranks < 2**16; two tied samples share a 34-bit tie-break
        # with probability 2**-34, the only (negligible) departure from a uniform tie-break.
        tie = rng.integers(0, 2**34, size=(replicates, pool), dtype=np.int64)
        key = score_rank[order] + (tie * 2 + correct[order]) / 2.0**36
        top = np.full(cells, -np.inf)
    if WEIGHT in uses:
        w, wsum = weights[order], np.zeros(cells)

    def correct_of_key(best: np.ndarray) -> np.ndarray:
        frac = best - np.floor(best)
        return (np.round(frac * 2.0**36).astype(np.int64) & 1).astype(np.float64)

    shape = (replicates, n_clusters)
    vals = {name: np.empty((ns.size, replicates)) for name in rules}
    prev = 0
    for j, n in enumerate(ns.tolist()):  # grid of subset sizes; each sample visited once
        seg = pair[:, prev:n].ravel()
        pairs += np.bincount(seg, minlength=2 * cells)
        if uses:
            idx = seg >> 1  # (replicate, cluster) cell, for the optional summaries only
            if wsum is not None:
                wsum += np.bincount(idx, weights=w[:, prev:n].ravel(), minlength=cells)
            if top is not None:
                np.maximum.at(top, idx, key[:, prev:n].ravel())
        prev = n
        by_pair = pairs.reshape(replicates, n_clusters, 2)
        state = SubsetState(n, by_pair[:, :, 0] + by_pair[:, :, 1], by_pair[:, :, 1], priority,
                            None if wsum is None else wsum.reshape(shape),
                            None if top is None else top.reshape(shape), correct_of_key)
        for name, rule in rules.items():
            vals[name][j] = rule.decide(state)
    return {name: (v.mean(axis=1), v.var(axis=1, ddof=1) if replicates > 1 else np.zeros(ns.size))
            for name, v in vals.items()}
