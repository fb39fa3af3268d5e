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
