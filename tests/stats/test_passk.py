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


def _verdicts_with_errors(rng: np.random.Generator, p: np.ndarray, n: int, error_rate: float) -> pl.DataFrame:
    """One verifier's rows: each sample correct with p_i; a share fails at the server (gen_error)."""
    ok = rng.random((p.size, n)) < p[:, None]
    err = rng.random((p.size, n)) < error_rate
    verdict = np.where(err, "gen_error", np.where(ok, "pass", "empty"))
    return pl.DataFrame({"problem_id": np.repeat([f"p{i:03d}" for i in range(p.size)], n),
                         "sample_idx": np.tile(np.arange(n), p.size), "verifier": "v",
                         "verdict": verdict.ravel()})


def test_twenty_percent_server_errors_leave_pass_at_k_unbiased() -> None:
    """300 replicates, 40 problems x 20 samples, 20% gen_error: mean estimate within 3 SE of the truth.

    Reading the error rows as failures (the old counting) is biased low by several SE; the test
    checks that too, so it fails on the old code.
    """
    rng = np.random.default_rng(7)
    p = rng.beta(0.6, 1.2, 40)
    ks = np.array([1, 5])
    truth = (1 - (1 - p[:, None]) ** ks[None, :]).mean(axis=0)
    est, naive = [], []
    for _ in range(300):
        v = _verdicts_with_errors(rng, p, 20, 0.2)
        counts = counts_from_verdicts(v)
        assert counts["n"].max() <= 20 and counts["n"].min() >= ks.max()
        est.append(pass_at_k_matrix(counts["n"].to_numpy(), counts["c"].to_numpy(), ks).mean(axis=0))
        naive.append(pass_at_k_matrix(np.full(p.size, 20), counts["c"].to_numpy(), ks).mean(axis=0))
    est, naive = np.array(est), np.array(naive)
    se = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(axis=0) - truth) <= 3 * se), (est.mean(axis=0), truth, se)
    assert np.all(truth - naive.mean(axis=0) > 10 * se)  # errors read as wrong answers


def test_failure_report_counts_failed_rows_and_lists_problems_short_of_k() -> None:
    from stages.stats.passk import failure_report

    v = pl.DataFrame({"problem_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 2, "sample_idx": [0, 1, 2, 3] * 2 + [0, 1],
                      "verifier": "v", "verdict": ["pass", "fail", "gen_error", "judge_error",
                                                   "pass", "pass", "pass", "fail", "gen_error", "gen_error"]})
    counts = counts_from_verdicts(v)
    assert counts.rows() == [("a", "v", 2, 1), ("b", "v", 4, 3)]
    report = failure_report(v, counts, [1, 3])["v"]
    assert report["n_failed"] == 4
    assert report["problems_without_judged_samples"] == ["c"]
    assert set(report["skipped"]) == {"pass@3"} and "a" in report["skipped"]["pass@3"]
