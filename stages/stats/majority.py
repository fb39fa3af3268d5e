"""Exact accuracy of majority vote over all size-n subsets of a sample pool.

Majority vote (self-consistency; Wang et al. 2023, "Self-Consistency Improves Chain of Thought
Reasoning in Language Models") submits the most frequent answer cluster. For a pool of N samples
in clusters of sizes m_1..m_C, of which k_j in cluster j are correct, we want the expectation
over a uniformly random subset of size n (and over a uniformly random tie-break among the tied
top clusters, and a uniformly random member of the winning cluster as the submitted sample):

    acc(n) = sum_subsets sum_{j tied on top} (1 / T) * k_j / m_j  /  C(N, n).

Counting by generating functions (hypergeometric counting over clusters): if cluster j wins with
x drawn members, every other cluster i contributes

    g_i(z) = sum_{y < x} C(m_i, y) z^y + u * C(m_i, x) z^x,

where u marks a tie. The coefficient of z^n in C(m_j, x) z^x prod_{i != j} g_i(z) is a polynomial
in u whose coefficient of u^t counts subsets where t other clusters tie with j; the tie weight
1/(t + 1) equals the integral of u^t over [0, 1], which Gauss-Legendre quadrature with
ceil(C / 2) nodes computes exactly (t <= C - 1). Summing over the winner j is done in one pass
over clusters with two layers (winner not yet chosen / chosen), so the cost is O(N) polynomial
shifts on a (nodes, x, degree) array -- exact, and used while the pool is at most 300 samples
(binomial coefficients of larger pools approach float64 overflow) and the work stays within
``EXACT_WORK_BUDGET``; other pools use Monte Carlo.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

EXACT_MAX_POOL = 300  # C(300, 150) ~ 1e89: far from float64 overflow
# Work of the DP ~ nodes x largest cluster x (N + 1) x (N + clusters) multiply-adds; above this
# (about 0.1 s per problem) the strategies module switches majority vote to Monte Carlo.
EXACT_WORK_BUDGET = 10_000_000


def exact_work(sizes: np.ndarray) -> int:
    """Multiply-adds of :func:`majority_accuracy_exact` for these cluster sizes."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    return max(1, (sizes.size + 1) // 2) * int(sizes.max()) * (total + 1) * (total + sizes.size)


def exact_feasible(sizes: np.ndarray) -> bool:
    """Pool small enough for float64 and for the work budget."""
    return int(np.sum(sizes)) <= EXACT_MAX_POOL and exact_work(sizes) <= EXACT_WORK_BUDGET


def _log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = (b >= 0) & (b <= a)
    out = gammaln(a + 1) - gammaln(np.where(ok, b, 0) + 1) - gammaln(np.where(ok, a - b, 0) + 1)
    return np.where(ok, out, -np.inf)


def majority_accuracy_exact(sizes: np.ndarray, correct: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Expected correctness of majority vote for each subset size in ``ns`` (one problem).

    ``sizes[j]`` samples in cluster j, ``correct[j]`` of them correct (strong verifier).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    correct = np.asarray(correct, dtype=np.float64)
    ns = np.asarray(ns, dtype=np.int64)
    total = int(sizes.sum())
    if total > EXACT_MAX_POOL:
        raise ValueError(f"exact majority vote supports pools up to {EXACT_MAX_POOL} samples, got {total}")
    if ns.size and (ns.min() < 1 or ns.max() > total):
        raise ValueError(f"subset sizes must lie in 1..{total}")
    n_clusters = sizes.size
    x_max = int(sizes.max())
    degree = total + 1
    nodes, node_w = np.polynomial.legendre.leggauss(max(1, (n_clusters + 1) // 2))
    u = (nodes + 1.0) / 2.0  # Gauss-Legendre on [0, 1]
    node_w = node_w / 2.0
    xs = np.arange(1, x_max + 1)
    rows = np.arange(x_max)[:, None]
    free = np.zeros((u.size, x_max, degree))  # layer A: winner not yet chosen
    free[:, :, 0] = 1.0
    won = np.zeros_like(free)  # layer B: winner chosen, weighted by its correct share
    for m, k in zip(sizes.tolist(), correct.tolist()):
        ys = np.arange(min(m, x_max) + 1)
        comb_y = np.exp(_log_comb(np.full(ys.size, m), ys))  # C(m, y)
        g = np.where(ys[None, :] < xs[:, None], comb_y[None, :], 0.0)  # (X, Y)
        g = np.broadcast_to(g, (u.size, *g.shape)).copy()
        tie = ys[None, :] == xs[:, None]
        g[:, tie] = (u[:, None] * comb_y[None, :].repeat(x_max, 0)[tie][None, :])
        # winner transition: this cluster has exactly x drawn members, weight (k/m) C(m, x)
        win_coef = np.where(xs <= m, (k / m) * np.exp(_log_comb(np.full(x_max, m), xs)), 0.0)
        shifted = np.zeros_like(free)
        src = np.arange(degree)[None, :]
        dst = src + xs[:, None]
        ok = dst < degree
        shifted[:, np.broadcast_to(rows, ok.shape)[ok], dst[ok]] = (
            free[:, np.broadcast_to(rows, ok.shape)[ok], np.broadcast_to(src, ok.shape)[ok]]
            * np.broadcast_to(win_coef[:, None], ok.shape)[ok][None, :]
        )
        new_free = np.zeros_like(free)
        new_won = shifted
        for y in ys:  # polynomial product by g: one shift per degree of g (<= m + 1 of them)
            coef = g[:, :, y, None]
            if not np.any(coef):
                continue
            new_free[:, :, y:] += coef * free[:, :, : degree - y]
            new_won[:, :, y:] += coef * won[:, :, : degree - y]
        free, won = new_free, new_won
    per_n = np.einsum("q,qxs->s", node_w, won)  # integrate over u, sum over winner count x
    return per_n[ns] / np.exp(_log_comb(np.full(ns.size, total), ns))
