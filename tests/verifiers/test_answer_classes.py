"""Equivalence classes and majority voting against brute force on small pools."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import polars as pl
import pytest

from stages.verifiers.answer_classes import (
    answer_classes,
    apply_classes,
    majority_vote,
    selection_frame,
)
from stages.verifiers.math_answer import equivalent, parse_answer
from stages.verifiers.math_extract import tidy

POOL = {  # problem -> answers of its samples (None: no answer extracted)
    "half": ["\\frac{1}{2}", "0.5", "1/2", "3", "3.0", None, "\\dfrac{1}{2}", "2/6"],
    "root": ["2\\sqrt{2}", "\\sqrt{8}", "2.83", "(3,4]", "(3, 4]", "\\sqrt{8}", "4"],
    "text": ["\\text{east}", "east", "\\text{west}", ")(", ")(", "\\text{(C)}"],
}


def _frame() -> pl.DataFrame:
    rows = [(p, i, a) for p, answers in POOL.items() for i, a in enumerate(answers)]
    return pl.DataFrame(rows, schema=["problem_id", "sample_idx", "answer"], orient="row")


def _same(a: str, b: str) -> bool:
    """Brute-force equality of two answers: identical text, or math-verify either way."""
    if a == b:
        return True
    pa, pb = parse_answer(tidy(a)), parse_answer(tidy(b))
    readable = all(any(not isinstance(x, str) for x in p) for p in (pa, pb))
    return readable and bool(equivalent(pa, pb) or equivalent(pb, pa))


@pytest.fixture(scope="module")
def classes() -> pl.DataFrame:
    return answer_classes(_frame(), workers=1)


def test_equal_answers_share_a_class_and_unequal_do_not(classes):
    for pid, answers in POOL.items():
        labels = classes.filter(pl.col("problem_id") == pid).sort("sample_idx")["cluster"].to_list()
        for (i, a), (j, b) in itertools.combinations(enumerate(answers), 2):
            if a is None or b is None:
                continue
            assert (labels[i] == labels[j]) == _same(a, b), (pid, a, b)
        assert all((lab is None) == (a is None) for lab, a in zip(labels, answers))


def test_labels_are_ordered_by_class_size(classes):
    sizes = classes.drop_nulls("cluster").group_by("problem_id", "cluster").len()
    for pid in POOL:
        s = sizes.filter(pl.col("problem_id") == pid).sort("cluster")["len"].to_list()
        assert s == sorted(s, reverse=True)


def test_majority_vote_equals_brute_force(classes):
    """Brute force: each sample's votes = samples with an equal answer; the top answer wins."""
    winners = majority_vote(classes)
    for pid, answers in POOL.items():
        present = [a for a in answers if a is not None]
        votes = {a: sum(_same(a, b) for b in present) for a in present}
        best = max(votes.values())
        row = winners.filter(pl.col("problem_id") == pid).row(0, named=True)
        assert row["votes"] == best
        members = classes.filter((pl.col("problem_id") == pid) & (pl.col("cluster") == row["cluster"]))
        assert all(votes[answers[i]] == best for i in members["sample_idx"].to_list())


def test_weighted_vote_sums_the_weight_column(classes):
    weighted = classes.with_columns(w=pl.when(pl.col("sample_idx") == 3).then(10.0).otherwise(1.0))
    half = majority_vote(weighted, weight="w").filter(pl.col("problem_id") == "half").row(0, named=True)
    assert half["votes"] == 11.0  # the class of "3" (samples 3, 4) outweighs the four halves


def test_majority_estimator_with_these_classes_equals_subset_enumeration(classes):
    """The analysis's majority-vote estimator, fed our clusters, against all n-subsets."""
    strategies = pytest.importorskip("stages.stats.strategies")
    pid = "half"
    cl = classes.filter(pl.col("problem_id") == pid).sort("sample_idx")
    correct = [a is not None and _same(a, "\\frac{1}{2}") for a in POOL[pid]]
    verdicts = cl.select("problem_id", "sample_idx", verdict=pl.Series(
        ["correct" if c else "incorrect" for c in correct]))
    samples = cl.select("problem_id", "sample_idx", mean_logprob=pl.lit(-1.0))
    pool = selection_frame(verdicts, cl, samples)
    labels, n_all = pool["cluster"].to_list(), pool.height
    for n in range(1, n_all + 1):
        total = 0.0
        subsets = list(itertools.combinations(range(n_all), n))
        for sub in subsets:
            counts = Counter(labels[i] for i in sub)
            top = max(counts.values())
            tied = [c for c, k in counts.items() if k == top]
            # uniform tie break among top clusters, then a uniform member of the winner
            total += np.mean([np.mean([correct[i] for i in sub if labels[i] == c]) for c in tied])
        brute = total / len(subsets)
        got = strategies.strategy_curves(pool, ns=np.array([n]), n_boot=0, strategies=("majority_vote",))
        assert got["accuracy"][0] == pytest.approx(brute, abs=1e-9), n


def test_apply_classes_merges_equivalent_strings_in_a_pool(classes):
    pool = _frame().select("problem_id", "sample_idx", cluster=pl.coalesce("answer", pl.lit("verdict:no_answer")))
    merged = apply_classes(pool, classes).filter(pl.col("problem_id") == "half").sort("sample_idx")
    labels = merged["cluster"].to_list()
    assert labels[0] == labels[1] == labels[2] == labels[6] != labels[3]
    assert labels[5] == "verdict:no_answer"  # no class: the pool's own cluster is kept


def test_plain_numbers_are_grouped_without_math_verify(monkeypatch):
    """Integer answers (most of GSM8K) are settled by exact arithmetic, the verifier's own
    shortcut, so math-verify never reads them; a decimal against a fraction still goes to it."""
    import stages.verifiers.answer_classes as ac

    calls: list[str] = []
    real = ac.parse_answer
    monkeypatch.setattr(ac, "parse_answer", lambda text, *a: calls.append(text) or real(text, *a))
    assert ac.group_answers(["12", "7", "12.0", "-7", "0012"]) == [0, 1, 0, 2, 0]
    assert calls == []
    assert ac.group_answers(["\\frac{1}{3}", "0.333333", "3"]) == [0, 0, 1]
    assert calls  # 1/3 against 0.333333: math-verify's rounding decides, so it was asked


def test_the_numeric_shortcut_agrees_with_math_verify_on_what_it_settles():
    """exact_verdict only answers where math-verify would say the same (else None)."""
    from stages.verifiers.math_answer import exact_verdict

    pairs = [("18", "18.0"), ("18", "17"), ("2.5", "3"), ("-18.0", "18"), ("0.5", "\\frac{1}{2}"),
             ("1/3", "0.333333"), ("0.1", "0.100001"), ("2.25", "2.5"), ("50\\%", "50")]
    for gold, pred in pairs:
        fast = exact_verdict(gold, pred)
        if fast is not None:
            slow = bool(equivalent(parse_answer(tidy(gold)), parse_answer(tidy(pred))))
            assert (fast == "correct") == slow, (gold, pred, fast)
    assert exact_verdict("2.5", "3") == "incorrect" and exact_verdict("1/3", "0.333333") is None


@pytest.mark.parametrize("answers", [
    ["12", "7", "12.0", "-7", "0012", "7"],
    ["2.5", "5/2", "\\frac{5}{2}", "3", "2.50", "0.5"],
    ["1,000", "1000", "999", "50\\%", "50"],
    ["\\frac{1}{3}", "0.333333", "3"],  # closer than 1e-5: math-verify decides
    ["2000000000.5", "2000000000"],  # above 10^9 with a fraction: math-verify decides
    ["east", "12"],  # not a number
])
def test_the_arithmetic_classes_are_group_answers_own_wherever_they_answer(answers):
    from stages.verifiers.answer_classes import arithmetic_classes, group_answers

    fast = arithmetic_classes(answers)
    if fast is not None:
        assert fast == group_answers(answers)
    else:
        assert answers[0] in ("\\frac{1}{3}", "2000000000.5", "east")


def test_a_pool_of_plain_numbers_starts_no_process(monkeypatch):
    """GSM8K-like answers are classed in the calling thread: no math-verify process is started
    (issue 16: they were 9 s of a million-sample analysis); others still go to the processes."""
    import stages.verifiers.answer_classes as ac

    started: list[int] = []
    real = ac.run_in_processes
    monkeypatch.setattr(ac, "run_in_processes", lambda fn, chunks, *a: started.append(len(chunks)) or real(fn, chunks, *a))
    frame = pl.DataFrame({"problem_id": ["a"] * 4 + ["b"] * 3, "sample_idx": [0, 1, 2, 3, 0, 1, 2],
                          "answer": ["18", "18.0", "17", None, "5", "5", "7"]})
    got = ac.answer_classes(frame, workers=2)
    assert started == []
    assert got["cluster"].to_list() == [0, 0, 1, None, 0, 0, 1]
    ac.answer_classes(_frame(), workers=1)
    assert started  # fractions against decimals: math-verify's processes
