"""Math-run metrics end to end on a small synthetic pool (offline stand-ins only)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from stages.backends.synthetic_math import sample_math
from stages.datasets.math_prompts import math_problems_frame
from stages.params import VerifyParams
from stages.stats.math_metrics import math_metrics
from stages.verifiers.math_suite import verify_math_problems

GOLDS = ["\\frac{1}{2}", "18", "(3,4]", "2\\sqrt{2}", "-7"]


@pytest.fixture(scope="module")
def run() -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = math_problems_frame([
        {"problem_id": f"p{i}", "dataset": "t", "kind": "math", "prompt": "q", "answer": g,
         "reference": f"We find 3 and then 5, so \\boxed{{{g}}}.", "dataset_hash": "x"}
        for i, g in enumerate(GOLDS)
    ])
    rng = np.random.default_rng(0)
    rows = [(f"p{i}", j, sample_math(r, rng, correct=j < 3 + i), -1.0 - 0.01 * j)
            for i, r in enumerate(problems.iter_rows(named=True)) for j in range(8)]
    samples = pl.DataFrame(rows, schema=["problem_id", "sample_idx", "completion", "mean_logprob"],
                           orient="row")
    verdicts, _ = verify_math_problems(problems, samples, VerifyParams(judge="synthetic", workers=1))
    return verdicts, samples


def test_verify_suite_gives_gold_and_judge_rows(run):
    verdicts, samples = run
    assert set(verdicts["verifier"]) == {"math_answer", "judge:synthetic"}
    assert verdicts.height == 2 * samples.height
    gold = verdicts.filter(pl.col("verifier") == "math_answer")
    assert (gold["verdict"].cast(pl.String) == "correct").sum() == sum(3 + i for i in range(5))


def test_metrics_report_accuracy_majority_and_judge_fpr(run):
    verdicts, samples = run
    metrics, curves, quality = math_metrics(verdicts, samples, n_boot=50, workers=1,
                                            strategies=("oracle", "majority_vote"))
    expected = np.mean([(3 + i) / 8 for i in range(5)])
    assert metrics["math/answer_accuracy"] == pytest.approx(expected)
    assert metrics["judge_synthetic/fpr_ci_low"] <= metrics["judge_synthetic/fpr"] <= metrics["judge_synthetic/fpr_ci_high"]
    assert "math/majority_vote@8" in metrics
    assert set(curves["strategy"]) == {"oracle", "majority_vote"}
    assert quality["judge:synthetic"]["n_judged"] == samples.height


def test_analyze_stage_reports_math_metrics_and_judge_quality(run):
    """run_analysis (the analyze stage) on a math run with a judge: accuracy, majority, judge FPR."""
    from stages.params import AnalyzeParams
    from stages.stats.analysis import run_analysis

    verdicts, samples = run
    result = run_analysis(verdicts, AnalyzeParams(bootstrap=50, strategy_replicates=20), seed=0, samples=samples)
    math = result.metrics["math"]
    assert math["answer_accuracy"] == pytest.approx(np.mean([(3 + i) / 8 for i in range(5)]))
    judge = math["judge_synthetic"]
    assert judge["fpr_ci_low"] <= judge["fpr"] <= judge["fpr_ci_high"]
    assert "majority_vote@8" in math
    assert result.metrics["false_positives"]["weak"] == "judge:synthetic"
    assert result.metrics["false_positives"]["strong"] == "math_answer"
    assert {"judge_quality", "judge_reliability", "strategies"} <= set(result.tables)
    assert set(result.tables["judge_quality"]["stat"]) >= {"tpr", "fpr", "precision", "brier", "ece"}


def test_analyze_stage_votes_over_equivalence_classes_without_a_judge():
    """No judge: the gold verifier alone still gets majority-vote curves, and 1/2 == 0.5 == \\frac{1}{2}.

    Pool of one problem (gold 1/2): three equivalent correct answers in three spellings and two
    identical wrong ones. By strings the wrong answer is the plurality (2 votes vs 1); by classes
    the correct one wins (3 vs 2), so majority vote over all 5 samples must be correct.
    """
    from stages.params import AnalyzeParams
    from stages.stats.analysis import run_analysis

    answers = ["\\frac{1}{2}", "0.5", "1/2", "3", "3"]
    verdicts = pl.DataFrame({
        "problem_id": "half", "sample_idx": list(range(5)), "verifier": "math_answer",
        "verdict": ["correct"] * 3 + ["incorrect"] * 2, "answer": answers,
    })
    result = run_analysis(verdicts, AnalyzeParams(bootstrap=0, strategy_replicates=20), seed=0)
    assert "pair" not in result.metrics.get("skipped", {})
    assert result.metrics["math"]["majority_vote@5"] == pytest.approx(1.0)
    assert "judge_quality" not in result.tables
