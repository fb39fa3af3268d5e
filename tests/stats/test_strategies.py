"""Selection-strategy estimators against brute-force enumeration of every subset."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from stages.stats.majority import majority_accuracy_exact
from stages.stats.strategies import STRATEGIES, strategy_curves, strategy_matrices

THRESHOLD = 0.4


def _pool(seed: int, problems: int = 6, pool_n: int = 7, with_nulls: bool = True) -> pl.DataFrame:
    """Small pools with ties in clusters and scores, mixed correctness, some null scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(problems):
        n_clusters = int(rng.integers(1, 4))
        for i in range(pool_n):
            score = float(rng.integers(0, 4))  # integer scores: exact ties, exact float sums
            rows.append(
                {
                    "problem_id": f"p{p}",
                    "sample_idx": i,
                    "cluster": f"c{rng.integers(0, n_clusters)}",
                    "score": None if with_nulls and rng.random() < 0.15 else score,
                    "weak_pass": bool(rng.random() < 0.6),
                    "correct": bool(rng.random() < 0.5),
                }
            )
    return pl.DataFrame(rows)


def _top_share(members: list[dict], key) -> float:
    """Expected correctness of a uniform pick among members with the best key."""
    best = max(key(m) for m in members)
    tied = [m for m in members if key(m) == best]
    return float(np.mean([m["correct"] for m in tied]))


def _vote(sub: list[dict], weight) -> float:
    totals: dict[str, float] = {}
    for m in sub:
        totals[m["cluster"]] = totals.get(m["cluster"], 0.0) + weight(m)
    best = max(totals.values())
    winners = [c for c, v in totals.items() if v == best]
    return float(np.mean([np.mean([m["correct"] for m in sub if m["cluster"] == c]) for c in winners]))


def _brute(sub: list[dict], strategy: str) -> float:
    score = lambda m: -math.inf if m["score"] is None else m["score"]
    accepted = [m for m in sub if m["weak_pass"]]
    if strategy == "oracle":
        return float(any(m["correct"] for m in sub))
    if strategy == "majority_vote":
        return _vote(sub, lambda m: 1.0)
    if strategy == "weighted_majority":
        return _vote(sub, lambda m: 0.0 if m["score"] is None else m["score"])
    if strategy == "best_of_n":
        return _top_share(sub, score)
    if strategy == "best_of_majority":
        counts = {c: sum(m["cluster"] == c for m in sub) for c in {m["cluster"] for m in sub}}
        need = max(1, math.ceil(THRESHOLD * len(sub) - 1e-12))
        keep = {c for c, v in counts.items() if v >= need or v == max(counts.values())}
        return _top_share([m for m in sub if m["cluster"] in keep], score)
    if strategy == "resample_until_weak_pass":
        return float(np.mean([m["correct"] for m in accepted])) if accepted else 0.0
    if strategy == "surprisal_guided":
        low = lambda m: -math.inf if m["score"] is None else -m["score"]
        return _top_share(accepted, low) if accepted else 0.0
    raise AssertionError(strategy)


def _brute_matrix(pool: pl.DataFrame, strategy: str, ns: np.ndarray) -> np.ndarray:
    out = []
    for _, part in pool.sort("problem_id", "sample_idx").group_by("problem_id", maintain_order=True):
        rows = part.to_dicts()
        out.append([np.mean([_brute(list(s), strategy) for s in itertools.combinations(rows, n)]) for n in ns])
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_estimators_equal_brute_force(seed: int) -> None:
    pool = _pool(seed)
    ns = np.arange(1, 8)
    mats = strategy_matrices(pool, ns, seed=seed, bom_threshold=THRESHOLD)
    for name, (acc, _, method) in mats.items():
        if method == "exact":
            np.testing.assert_allclose(acc, _brute_matrix(pool, name, ns), atol=1e-12, err_msg=name)


def test_exact_methods_cover_majority_and_order_statistics() -> None:
    mats = strategy_matrices(_pool(0), np.arange(1, 8))
    exact = {name for name, (_, _, method) in mats.items() if method == "exact"}
    assert exact == {"oracle", "majority_vote", "best_of_n", "resample_until_weak_pass", "surprisal_guided"}


@pytest.mark.parametrize("seed", [0, 1])
def test_monte_carlo_estimators_agree_with_brute_force_within_error(seed: int) -> None:
    pool = _pool(seed)
    ns = np.arange(1, 8)
    mats = strategy_matrices(pool, ns, replicates=2000, seed=seed, bom_threshold=THRESHOLD)
    for name, (acc, mc_var, method) in mats.items():
        if method != "monte_carlo":
            continue
        truth = _brute_matrix(pool, name, ns)
        se = np.sqrt(mc_var.sum(axis=0)) / acc.shape[0]
        err = acc.mean(axis=0) - truth.mean(axis=0)
        assert np.all(np.abs(err) <= 4 * se + 1e-9), (name, err, se)


def test_exact_majority_counts_ties_once() -> None:
    # all members correct: whichever cluster wins, the answer is right, for every n
    acc = majority_accuracy_exact(np.array([3, 3, 2, 1]), np.array([3, 3, 2, 1]), np.arange(1, 10))
    np.testing.assert_allclose(acc, 1.0, atol=1e-12)


def test_two_equal_clusters_split_evenly() -> None:
    acc = majority_accuracy_exact(np.array([2, 2]), np.array([2, 0]), np.array([4]))
    assert acc[0] == pytest.approx(0.5)


def test_curves_frame_has_every_strategy_and_interval_contains_point() -> None:
    frame = strategy_curves(_pool(3, problems=12), n_boot=200, bom_threshold=THRESHOLD, replicates=100)
    assert set(frame.get_column("strategy")) == set(STRATEGIES)
    assert frame.filter((pl.col("ci_low") > pl.col("accuracy") + 1e-12) | (pl.col("ci_high") < pl.col("accuracy") - 1e-12)).height == 0


def test_oracle_bounds_every_strategy() -> None:
    mats = strategy_matrices(_pool(4), np.arange(1, 8), replicates=500)
    oracle = mats["oracle"][0]
    for name, (acc, _, method) in mats.items():
        if method == "exact":
            assert np.all(acc <= oracle + 1e-12), name


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="weak_pass"):
        strategy_matrices(_pool(0).drop("weak_pass"), np.arange(1, 3))


def test_subset_size_above_pool_is_rejected() -> None:
    with pytest.raises(ValueError, match="1..7"):
        strategy_matrices(_pool(0), np.arange(1, 9))


def test_large_pools_fall_back_to_monte_carlo_for_majority() -> None:
    rng = np.random.default_rng(0)
    pool = pl.DataFrame({"problem_id": "p", "sample_idx": np.arange(400), "cluster": rng.integers(0, 3, 400).astype(str),
                         "score": rng.random(400), "weak_pass": rng.random(400) < 0.5, "correct": rng.random(400) < 0.5})
    mats = strategy_matrices(pool, np.array([1, 50, 400]), strategies=("majority_vote",), replicates=50)
    assert mats["majority_vote"][2] == "monte_carlo"


def test_scored_strategies_are_skipped_without_any_score() -> None:
    """No scores: best_of_n would be pass@1 and weighted majority plain majority under new names."""
    from stages.stats.strategies import SCORED, split_available

    pool = _pool(5).with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    kept, skipped = split_available(pool)
    assert set(skipped) == set(SCORED) and not set(kept) & set(SCORED)
    frame = strategy_curves(pool, n_boot=0, replicates=20)
    assert set(frame.get_column("strategy")) == set(STRATEGIES) - set(SCORED)


def test_with_scores_the_scored_strategies_give_distinct_numbers() -> None:
    frame = strategy_curves(_pool(6, problems=12, with_nulls=False), n_boot=0, replicates=200)
    at = {r["strategy"]: r["accuracy"] for r in frame.filter(pl.col("n") == 7).iter_rows(named=True)}
    assert at["best_of_n"] != pytest.approx(frame.filter((pl.col("strategy") == "oracle") & (pl.col("n") == 1))["accuracy"][0])
    assert at["surprisal_guided"] != pytest.approx(at["resample_until_weak_pass"])
    assert at["weighted_majority"] != pytest.approx(at["majority_vote"])


def test_resample_until_weak_pass_draws_the_expected_number_of_samples() -> None:
    """E[min(T, n)] by enumerating every ordering of a pool of 6 with 2 weak passes."""
    from stages.stats.strategies import expected_draws

    flags = [True, True, False, False, False, False]
    pool = pl.DataFrame({"problem_id": "p", "sample_idx": range(6), "weak_pass": flags})
    orders = list(itertools.permutations(range(6)))
    for n in range(1, 7):
        truth = np.mean([min(next(i for i, s in enumerate(o) if flags[s]) + 1, n) for o in orders])
        assert expected_draws(pool, np.array([n]), "resample_until_weak_pass")[0] == pytest.approx(truth, abs=1e-12)
    assert expected_draws(pool, np.array([3]), "majority_vote")[0] == 3.0
