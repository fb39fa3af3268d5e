"""Equivalence classes of math answers within a problem: the votes of majority voting.

Self-consistency (Wang et al. 2023, "Self-Consistency Improves Chain of Thought Reasoning")
votes over final answers; counting ``\\frac{1}{2}``, ``0.5`` and ``1/2`` as three different
answers splits the vote of the most common correct answer and understates majority voting.
Classes here are built with the same comparison as the math verifier (math-verify): answers
are merged greedily, each distinct answer joining the first existing class whose
representative it equals (representatives are taken in order of frequency, so the largest
string-identical group anchors its class). An answer math-verify cannot read only joins a
class of identical strings. Samples with no answer get a null cluster and cast no vote.

Cluster labels are per problem, 0 for the largest class, then by size (ties: the class whose
earliest sample comes first). Runs in worker processes like the verifier (``signal.alarm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise
from typing import Any

import polars as pl

from stages.verifiers.math_answer import (
    DEFAULT_TIMEOUT_S,
    EXACT_RANGE,
    EXACT_SEPARATION,
    chunked,
    equivalent,
    exact_verdict,
    parse_answer,
    resolve_workers,
    run_in_processes,
)
from stages.verifiers.math_extract import exact_number, tidy

CLASSES: dict[str, pl.DataType] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "cluster": pl.Int64(),
}

# (problem_id, [distinct answers, most frequent first])
ClassJob = tuple[str, list[str]]


def arithmetic_classes(answers: Sequence[str]) -> list[int] | None:
    """:func:`group_answers`' labels from exact values alone, or None if math-verify is needed.

    When every answer is a plain number and every pair of distinct values is one that
    :func:`math_answer.exact_verdict` settles (two integers; else further apart than 1e-5 and
    below 10^9), equivalence is equality of values: the classes are the distinct values in order
    of first appearance, found in one pass instead of comparing each answer with every class.
    """
    values = [exact_number(a) for a in answers]
    if any(v is None for v in values):
        return None
    distinct = sorted(set(values))
    if any(v.denominator != 1 for v in distinct) and (
        max(abs(distinct[0]), abs(distinct[-1])) >= EXACT_RANGE
        or any(b - a <= EXACT_SEPARATION for a, b in pairwise(distinct))
    ):
        return None
    labels: dict[Fraction, int] = {}
    return [labels.setdefault(v, len(labels)) for v in values]


def group_answers(answers: Sequence[str], timeout_s: int = DEFAULT_TIMEOUT_S) -> list[int]:
    """Class index for each distinct answer (in the given order); call in a main thread.

    Two plain numbers are settled by exact arithmetic first (:func:`math_answer.exact_verdict`,
    the verifier's own shortcut: equal values are equal for math-verify, two different integers
    are not), and an answer is read by math-verify only when a comparison needs it: a GSM8K
    problem's dozens of integer answers cost no sympy at all (issue 16: analyze at 10^6 samples).
    """
    reps: list[str] = []
    readings: dict[str, list[Any]] = {}

    def read(text: str) -> list[Any]:  # math-verify's parse, [] when it cannot read the answer
        if text not in readings:
            parsed = parse_answer(tidy(text), timeout_s)
            readings[text] = parsed if any(not isinstance(p, str) for p in parsed) else []
        return readings[text]

    labels = []
    for ans in answers:
        label = None
        for i, rep in enumerate(reps):
            fast = "correct" if ans == rep else exact_verdict(rep, ans)
            if fast == "correct" or (fast is None and read(ans) and read(rep)
                                     and equivalent(read(rep), read(ans), timeout_s)):
                label = i
                break
        if label is None:
            reps.append(ans)
            label = len(reps) - 1
        labels.append(label)
    return labels


def class_jobs(jobs: Sequence[ClassJob], timeout_s: int = DEFAULT_TIMEOUT_S) -> list[tuple[str, str, int]]:
    """(problem_id, answer, raw class) for a chunk of problems; runs in a worker process."""
    out = []
    for problem_id, answers in jobs:
        for ans, label in zip(answers, group_answers(answers, timeout_s), strict=True):
            out.append((problem_id, ans, label))
    return out


def answer_classes(
    verdicts: pl.DataFrame, workers: int = 0, timeout_s: int = DEFAULT_TIMEOUT_S
) -> pl.DataFrame:
    """Cluster label per sample from math verdict rows (problem_id, sample_idx, answer).

    Returns frame CLASSES; ``cluster`` is null where no answer was extracted.
    """
    rows = verdicts.select("problem_id", "sample_idx", "answer")
    distinct = (
        rows.filter(pl.col("answer").is_not_null())
        .group_by("problem_id", "answer")
        .agg(n=pl.len(), first=pl.col("sample_idx").min())
        .sort("problem_id", "n", "first", descending=[False, True, False])
        .group_by("problem_id", maintain_order=True)
        .agg(pl.col("answer"))
    )
    labelled: list[tuple[str, str, int]] = []
    rest: list[ClassJob] = []  # problems whose answers need math-verify: in worker processes
    for problem_id, answers in distinct.iter_rows():
        labels = arithmetic_classes(answers)
        if labels is None:
            rest.append((problem_id, answers))
        else:
            labelled.extend((problem_id, ans, label) for ans, label in zip(answers, labels, strict=True))
    if rest:
        n = resolve_workers(workers)
        for part in run_in_processes(class_jobs, list(chunked(rest, n * 4 if n > 1 else 1)), n, timeout_s):
            labelled.extend(part)
    raw = pl.DataFrame(labelled, schema={"problem_id": pl.String(), "answer": pl.String(),
                                         "raw": pl.Int64()}, orient="row")
    with_raw = rows.join(raw, on=["problem_id", "answer"], how="left")
    order = (
        with_raw.filter(pl.col("raw").is_not_null())
        .group_by("problem_id", "raw")
        .agg(size=pl.len(), first=pl.col("sample_idx").min())
        .sort("problem_id", "size", "first", descending=[False, True, False])
        .with_columns(cluster=pl.int_range(pl.len(), dtype=pl.Int64).over("problem_id"))
        .select("problem_id", "raw", "cluster")
    )
    out = with_raw.join(order, on=["problem_id", "raw"], how="left").select(list(CLASSES))
    return out.cast(CLASSES).sort("problem_id", "sample_idx")


def majority_vote(classes: pl.DataFrame, weight: str | None = None) -> pl.DataFrame:
    """Winning cluster per problem: (problem_id, cluster, votes); ties go to the lower label.

    ``weight``: a column of ``classes`` to sum instead of counting (e.g. ``exp(mean_logprob)``
    for weighted voting); unweighted by default.
    """
    w = pl.col(weight).sum() if weight else pl.len()
    votes = (
        classes.filter(pl.col("cluster").is_not_null())
        .group_by("problem_id", "cluster")
        .agg(votes=w.cast(pl.Float64))
    )
    return (
        votes.sort("problem_id", "votes", "cluster", descending=[False, True, False])
        .group_by("problem_id", maintain_order=True)
        .first()
    )


def selection_frame(
    math_verdicts: pl.DataFrame, classes: pl.DataFrame, samples: pl.DataFrame,
    weak: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The input of the selection strategies (stages/stats/strategies.py) for a math run.

    Columns: problem_id, sample_idx, cluster, score (the sample's mean logprob), weak_pass (the
    judge's acceptance when ``weak`` verdicts are given, else the math verdict) and correct
    (the math-answer verifier, which has gold).
    """
    correct = math_verdicts.select(
        "problem_id", "sample_idx", correct=pl.col("verdict").cast(pl.String) == "correct"
    )
    out = (
        classes.join(correct, on=["problem_id", "sample_idx"], how="left")
        .join(samples.select("problem_id", "sample_idx", score=pl.col("mean_logprob")),
              on=["problem_id", "sample_idx"], how="left")
    )
    if weak is not None:
        passes = weak.select("problem_id", "sample_idx",
                             weak_pass=pl.col("verdict").cast(pl.String).is_in(["pass", "correct"]))
        out = out.join(passes, on=["problem_id", "sample_idx"], how="left").with_columns(
            pl.col("weak_pass").fill_null(False)
        )
    else:
        out = out.with_columns(weak_pass=pl.col("correct"))
    # The strategies need a label for every sample: one without an answer is its own class
    # (it can only win a vote of singletons, and then counts as wrong: an abstention).
    label = pl.when(pl.col("cluster").is_null()).then(
        pl.format("no_answer:{}", pl.col("sample_idx"))
    ).otherwise(pl.col("cluster").cast(pl.String))
    return out.with_columns(cluster=label, correct=pl.col("correct").fill_null(False)).select(
        "problem_id", "sample_idx", "cluster", "score", "weak_pass", "correct"
    )


def apply_classes(pool: pl.DataFrame, classes: pl.DataFrame) -> pl.DataFrame:
    """Put equivalence classes into an existing selection pool (``cluster`` column).

    For pools built elsewhere (``stages.stats.false_positives.selection_pool`` clusters math by
    the extracted answer *string*): samples with a class get ``class:<label>``; the others keep
    the pool's own cluster.
    """
    labels = classes.select(
        "problem_id", "sample_idx", _class=pl.format("class:{}", pl.col("cluster"))
    )
    return (
        pool.join(labels, on=["problem_id", "sample_idx"], how="left")
        .with_columns(cluster=pl.coalesce(pl.col("_class"), pl.col("cluster")))
        .drop("_class")
    )
