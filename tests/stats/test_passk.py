"""pass@k against brute-force enumeration of every k-subset (Chen et al. 2021)."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import polars as pl
import pytest

from stages.stats.passk import counts_from_verdicts, pass_at_k, pass_at_k_matrix


def brute_force(n: int, c: int, k: int) -> float:
    pool = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(pool[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_matches_brute_force_on_every_small_case(n: int) -> None:
    for c in range(n + 1):  # includes c = 0 and c = n
        for k in range(1, n + 1):  # includes k = n
            assert pass_at_k([n], [c], k)[0] == pytest.approx(brute_force(n, c, k), abs=1e-12)


def test_edge_cases_exact() -> None:
    assert pass_at_k([10], [0], 1)[0] == 0.0
    assert pass_at_k([10], [10], 10)[0] == 1.0
    assert pass_at_k([10], [1], 10)[0] == 1.0


def test_stable_for_large_n_where_binomials_overflow_floats() -> None:
    n, c, k = 10_000, 37, 500
    exact = 1 - comb(n - c, k) / comb(n, k)  # Python ints: exact, then one division
    assert pass_at_k([n], [c], k)[0] == pytest.approx(exact, rel=1e-9)


def test_matrix_is_monotone_in_k() -> None:
    rng = np.random.default_rng(0)
    n = np.full(50, 100)
    c = rng.integers(0, 101, size=50)
    m = pass_at_k_matrix(n, c, np.arange(1, 101))
    assert np.all(np.diff(m, axis=1) >= -1e-12)
    assert np.allclose(m[:, 0], c / n)


def test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k([5], [6], 1)
    with pytest.raises(ValueError):
        pass_at_k([5], [1], 6)


def test_counts_from_verdicts_counts_accepted_verdicts_only() -> None:
    verdicts = pl.DataFrame(
        {
            "problem_id": ["a", "a", "a", "b"],
            "sample_idx": [0, 1, 2, 0],
            "verifier": ["v"] * 4,
            "verdict": ["pass", "fail", "timeout", "correct"],
        }
    )
    counts = counts_from_verdicts(verdicts)
    assert counts.rows() == [("a", "v", 3, 1), ("b", "v", 1, 1)]
