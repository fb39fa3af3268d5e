"""Metrics of a math run: answer accuracy, majority-vote accuracy vs n, and each judge's quality.

Gold is the ``math_answer`` verifier. Majority voting counts equivalent answers as one vote
(``stages.verifiers.answer_classes``); the selection strategies of ``stages.stats.strategies``
are run on that pool, with the first judge (if any) as the weak verifier, so that
resample-until-the-judge-accepts shows what the judge's false positives cost. Each judge's
TPR/FPR/precision/calibration come from ``stages.stats.judge_quality``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from stages.stats.bootstrap import mean_estimate
from stages.stats.judge_quality import judge_quality
from stages.stats.strategies import strategy_curves
from stages.verifiers.answer_classes import answer_classes, selection_frame

GOLD = "math_answer"
HEADLINE = ("tpr", "fpr", "precision", "brier", "ece")


def math_metrics(
    verdicts: pl.DataFrame, samples: pl.DataFrame, n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0, workers: int = 0, strategies: tuple[str, ...] | None = None,
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, dict[str, Any]]]:
    """(flat metrics for metrics.json, strategy curve frame, full judge-quality dicts per judge).

    Flat keys: ``math/answer_accuracy`` (+ ``_ci_low``/``_ci_high``), ``math/no_answer_rate``,
    ``math/unparseable_rate``, ``math/majority_vote@<N>``, and per judge
    ``judge_<model>/<stat>`` (+ interval) for tpr, fpr, precision, brier, ece.
    """
    gold = verdicts.filter(pl.col("verifier") == GOLD)
    if gold.height == 0:
        raise ValueError(f"math_metrics: no '{GOLD}' verdicts to measure against")
    v = gold.with_columns(pl.col("verdict").cast(pl.String))
    per_problem = v.group_by("problem_id").agg((pl.col("verdict") == "correct").mean().alias("acc"))
    est = mean_estimate(per_problem["acc"].to_numpy(), n_boot, ci, seed)
    out: dict[str, Any] = est.as_dict("math/answer_accuracy")
    out["math/no_answer_rate"] = float((v["verdict"] == "no_answer").mean())
    out["math/unparseable_rate"] = float((v["verdict"] == "unparseable").mean())

    judges = sorted(n for n in verdicts["verifier"].unique().to_list() if n.startswith("judge:"))
    quality = {}
    for name in judges:
        q = judge_quality(verdicts.filter(pl.col("verifier") == name), gold, n_boot, ci, seed)
        quality[name] = q
        key = name.replace(":", "_")  # metric names: judge_synthetic/fpr (MLflow-safe)
        for stat in HEADLINE:
            for suffix in ("", "_ci_low", "_ci_high"):
                out[f"{key}/{stat}{suffix}"] = q[f"{stat}{suffix}"]
        out[f"{key}/judge_failures"] = q["judge_failures"]

    classes = answer_classes(gold, workers)
    weak = verdicts.filter(pl.col("verifier") == judges[0]) if judges else None
    pool = selection_frame(gold, classes, samples, weak)
    kwargs: dict[str, Any] = {"n_boot": n_boot, "ci": ci, "seed": seed}
    if strategies is not None:
        kwargs["strategies"] = strategies
    curves = strategy_curves(pool, **kwargs)
    majority = curves.filter(pl.col("strategy") == "majority_vote")
    if majority.height:
        last = majority.sort("n").row(-1, named=True)
        out[f"math/majority_vote@{last['n']}"] = last["accuracy"]
        out[f"math/majority_vote@{last['n']}_ci_low"] = last["ci_low"]
        out[f"math/majority_vote@{last['n']}_ci_high"] = last["ci_high"]
    return {k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in out.items()}, curves, quality
