"""Suite adequacy: mutants of the reference, which suite kills which, scores, greedy reduction."""

from __future__ import annotations

import random

import polars as pl
import pytest

from stages.augment import augment_problems
from stages.params import AugmentParams
from stages.stats.suite_adequacy import (
    KILLS_SCHEMA,
    greedy_cover,
    kill_coverage,
    kills,
    mutant_samples,
    mutation_scores,
    problem_mutants,
)
from stages.verifiers.sandbox import SandboxExecutor


def test_mutants_differ_from_the_reference_and_are_capped() -> None:
    prefix, reference = "def f(a, b):\n", "    if a < b:\n        return a + 1\n    return b\n"
    all_ = problem_mutants(prefix, reference, 100, random.Random(0))
    assert len(all_) >= 5 and len({t for _, t in all_}) == len(all_)
    assert all(t.strip() != reference.strip() for _, t in all_)
    capped = problem_mutants(prefix, reference, 3, random.Random(0))
    assert len(capped) == 3 and capped == problem_mutants(prefix, reference, 3, random.Random(0))


def _table(rows: list[tuple[str, int, str, bool]]) -> pl.DataFrame:
    return pl.DataFrame([{"problem_id": p, "sample_idx": i, "suite": s, "verdict": "x", "killed": k}
                         for p, i, s, k in rows], schema=KILLS_SCHEMA)


def test_scores_and_coverage() -> None:
    table = _table([("P", 0, "weak", False), ("P", 0, "strong", True),
                    ("P", 1, "weak", True), ("P", 1, "strong", True),
                    ("P", 2, "weak", False), ("P", 2, "strong", False)])  # 2: equivalent mutant
    scores = {r["suite"]: r for r in mutation_scores(table).iter_rows(named=True)}
    assert scores["weak"]["score"] == pytest.approx(1 / 3)
    assert scores["strong"]["score_killable"] == pytest.approx(1.0)
    assert kill_coverage(table, "weak", "strong") == pytest.approx(0.5)


def test_greedy_cover_keeps_required_and_covers_union() -> None:
    sets = [{0}, {1, 2, 3}, {3, 4}, {4}, set()]
    assert greedy_cover(sets) == [0, 1, 2]
    assert greedy_cover(sets, must_keep=[4]) == [0, 1, 2, 4]
    assert greedy_cover([]) == []


def test_stronger_suite_kills_more_in_the_sandbox(humaneval: pl.DataFrame) -> None:
    problems = humaneval.head(3)
    augmented, _ = augment_problems(problems, AugmentParams(max_inputs=20), 1234, cache_dir=None)
    mutants = mutant_samples(problems, 8, 0)
    with SandboxExecutor(cache_dir=None) as ex:
        table = kills({"weak_assert": (problems, "weak_assert"), "augmented_io": (augmented, "strong_io")},
                      mutants, ex, {p: 3.0 for p in problems["problem_id"]})
    assert table.height == 2 * mutants.height
    scores = dict(mutation_scores(table).select("suite", "score").iter_rows())
    assert 0.5 < scores["augmented_io"] <= 1.0


def test_adequacy_labels_an_augmented_strong_suite(humaneval: pl.DataFrame) -> None:
    from stages.stats.suite_adequacy import adequacy

    problems, _ = augment_problems(humaneval.head(2), AugmentParams(max_inputs=10), 1, cache_dir=None)
    with SandboxExecutor(cache_dir=None) as ex:
        scores, entry = adequacy(problems, ex, per_problem=4)
    assert set(scores["suite"]) == {"weak_assert", "augmented_io"}
    assert set(entry["mutation_score"]) == {"weak_assert", "augmented_io"} and entry["mutants"] >= 1
