"""Metrics of a math run: answer accuracy, majority-vote accuracy vs n, and each judge's quality.

Gold is the ``math_answer`` verifier (math-verify against the dataset's answer). Majority voting
counts equivalent answers as one vote (``stages.verifiers.answer_classes``: ``\\frac{1}{2}``,
``0.5`` and ``1/2`` are one class); the selection strategies of ``stages.stats.strategies`` run
on that pool, with a judge (if any) as the weak verifier, so that resample-until-the-judge-accepts
shows what the judge's false positives cost (Stroebl et al. 2024, "Inference Scaling fLaws";
Wang et al. 2025, "Examining False Positives under Inference Scaling for Mathematical
Reasoning"). Each judge's TPR/FPR/precision/calibration come from ``stages.stats.judge_quality``.

The analyze stage calls the parts (:func:`answer_metrics`, :func:`judge_metrics`,
:func:`math_pool`) inside ``stages.stats.analysis.run_analysis``; :func:`math_metrics` composes
them for callers that want a math run's figures alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from stages.stats.bootstrap import mean_estimate
from stages.stats.judge_quality import judge_quality
from stages.stats.passk import judged
from stages.stats.strategies import strategy_curves
from stages.verifiers.answer_classes import answer_classes, apply_classes, selection_frame

GOLD = "math_answer"
HEADLINE = ("tpr", "fpr", "precision", "brier", "ece")


def gold_verdicts(verdicts: pl.DataFrame) -> pl.DataFrame:
    """The gold verifier's judged rows; a run without them has no math metrics (a clear error).

    Rows of failed generations (``schemas.NO_JUDGMENT``) say nothing about an answer: left out.
    """
    gold = verdicts.filter((pl.col("verifier") == GOLD) & judged())
    if gold.height == 0:
        raise ValueError(f"math_metrics: no '{GOLD}' verdicts to measure against")
    return gold


def judge_names(verdicts: pl.DataFrame) -> list[str]:
    return sorted(n for n in verdicts["verifier"].unique().to_list() if n.startswith("judge:"))


def answer_metrics(gold: pl.DataFrame, n_boot: int, ci: float, seed: int) -> dict[str, Any]:
    """Answer accuracy (mean over problems, bootstrap interval) and the no-answer/unparseable rates."""
    v = gold.with_columns(pl.col("verdict").cast(pl.String))
    per_problem = v.group_by("problem_id").agg((pl.col("verdict") == "correct").mean().alias("acc"))
    out: dict[str, Any] = mean_estimate(per_problem["acc"].to_numpy(), n_boot, ci, seed).as_dict("math/answer_accuracy")
    out["math/no_answer_rate"] = float((v["verdict"] == "no_answer").mean())
    out["math/unparseable_rate"] = float((v["verdict"] == "unparseable").mean())
    if {"verifier", "detail"} <= set(gold.columns):  # which extraction rule found each answer
        from stages.verifiers.math_answer import extraction_shares

        out |= extraction_shares(gold)
    return out


def judge_metrics(
    verdicts: pl.DataFrame, gold: pl.DataFrame, n_boot: int, ci: float, seed: int
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Flat ``judge_<model>/<stat>`` metrics (+ interval) and the full quality dict per judge."""
    out: dict[str, Any] = {}
    quality: dict[str, dict[str, Any]] = {}
    for name in judge_names(verdicts):
        q = judge_quality(verdicts.filter(pl.col("verifier") == name), gold, n_boot, ci, seed)
        quality[name] = q
        key = name.replace(":", "_")  # metric names: judge_synthetic/fpr (MLflow-safe)
        for stat in HEADLINE:
            for suffix in ("", "_ci_low", "_ci_high"):
                out[f"{key}/{stat}{suffix}"] = q[f"{stat}{suffix}"]
        out[f"{key}/judge_failures"] = q["judge_failures"]
    return out, quality


def quality_tables(quality: dict[str, dict[str, Any]]) -> dict[str, pl.DataFrame]:
    """Per-judge headline rows and reliability-diagram bins, as tables for the report stage."""
    if not quality:
        return {}
    stats = ("tpr", "fpr", "precision", "accuracy", "brier", "ece")
    rows = [{"judge": name, "stat": s, "value": q[s], "ci_low": q[f"{s}_ci_low"], "ci_high": q[f"{s}_ci_high"]}
            for name, q in quality.items() for s in stats]
    bins = [{"judge": name, **b} for name, q in quality.items() for b in q["reliability"]]
    schema = {"judge": pl.String, "stat": pl.String, "value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64}
    return {"judge_quality": pl.DataFrame(rows, schema=schema),
            "judge_reliability": pl.DataFrame(bins).with_columns(pl.exclude("judge").cast(pl.Float64))}


def math_pool(
    verdicts: pl.DataFrame, samples: pl.DataFrame | None, pool: pl.DataFrame | None = None, workers: int = 0,
) -> pl.DataFrame:
    """The selection pool of a math run with equivalence classes as the vote clusters.

    With ``pool`` (built from a (judge, gold) verifier pair) its string clusters are replaced by
    classes; without one, the pool is built from the gold verdicts (weak = gold: no judge).
    """
    gold = gold_verdicts(verdicts)
    classes = answer_classes(gold, workers)
    if pool is not None:
        return apply_classes(pool, classes)
    if samples is None or "mean_logprob" not in samples.columns:
        keys = gold.select("problem_id", "sample_idx")
        samples = keys.with_columns(mean_logprob=pl.lit(None, dtype=pl.Float64))
    return selection_frame(gold, classes, samples, None)


def majority_headline(curves: pl.DataFrame) -> dict[str, Any]:
    """``math/majority_vote@<N>`` (+ interval) at the largest n of the strategy curves."""
    majority = curves.filter(pl.col("strategy") == "majority_vote")
    if majority.height == 0:
        return {}
    last = majority.sort("n").row(-1, named=True)
    n = last["n"]
    return {f"math/majority_vote@{n}": last["accuracy"], f"math/majority_vote@{n}_ci_low": last["ci_low"],
            f"math/majority_vote@{n}_ci_high": last["ci_high"]}


def math_metrics(
    verdicts: pl.DataFrame, samples: pl.DataFrame, n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0, workers: int = 0, strategies: tuple[str, ...] | None = None,
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, dict[str, Any]]]:
    """(flat metrics, strategy curve frame, full judge-quality dicts per judge) of a math run.

    Flat keys: ``math/answer_accuracy`` (+ ``_ci_low``/``_ci_high``), ``math/no_answer_rate``,
    ``math/unparseable_rate``, ``math/majority_vote@<N>``, and per judge
    ``judge_<model>/<stat>`` (+ interval) for tpr, fpr, precision, brier, ece.
    """
    gold = gold_verdicts(verdicts)
    out = answer_metrics(gold, n_boot, ci, seed)
    judged, quality = judge_metrics(verdicts, gold, n_boot, ci, seed)
    out |= judged
    judges = judge_names(verdicts)
    weak = verdicts.filter(pl.col("verifier") == judges[0]) if judges else None
    pool = selection_frame(gold, answer_classes(gold, workers), samples, weak)
    kwargs: dict[str, Any] = {"n_boot": n_boot, "ci": ci, "seed": seed}
    if strategies is not None:
        kwargs["strategies"] = strategies
    curves = strategy_curves(pool, **kwargs)
    out |= majority_headline(curves)
    return {k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in out.items()}, curves, quality
