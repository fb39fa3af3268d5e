"""How wrong a judge is where gold exists: TPR, FPR, precision and calibration, with intervals.

A judge's false positives (it accepts a wrong answer) cap best-of-n the way weak unit tests do:
with false-positive rate f and a pool where wrong answers outnumber right ones, the accepted
sample is increasingly likely to be a wrong one as n grows (Stroebl, Kapoor & Narayanan 2024,
"Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect Verifiers"). So the rate
is reported with its uncertainty.

Truth is the gold verifier (math: ``math_answer`` correct; ``no_answer``/``unparseable`` count
as not correct). Judge rows in ``schemas.NO_JUDGMENT`` (judge_error, judge_unparseable, gen_error) are left out of the
rates and counted, never read as a "no". Calibration of the judge's P(yes) (``score``): the
Brier score and the expected calibration error over equal-width bins (Guo et al. 2017, "On
Calibration of Modern Neural Networks"), with reliability-diagram data.

Intervals are percentile bootstrap intervals over problems (samples of one problem are
correlated), computed for all replicates at once from per-problem sums with the (B, P) weight
matrix of ``stages.stats.bootstrap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.schemas import ACCEPTED, NO_JUDGMENT
from stages.stats.bootstrap import percentile_interval, resample_weights

JUDGE_FAILURES = NO_JUDGMENT  # a failed judge call or generation judged nothing


def paired_judgments(judge: pl.DataFrame, gold: pl.DataFrame) -> pl.DataFrame:
    """(problem_id, sample_idx, said_yes, p_yes, truth, failed) for samples with both verdicts.

    ``p_yes`` falls back to 1/0 from the verdict when the judge gave no score.
    """
    j = judge.select(
        "problem_id", "sample_idx",
        v=pl.col("verdict").cast(pl.String), s=pl.col("score"),
    )
    g = gold.select("problem_id", "sample_idx",
                    truth=pl.col("verdict").cast(pl.String).is_in(list(ACCEPTED)))
    said_yes = pl.col("v").is_in(list(ACCEPTED))
    return j.join(g, on=["problem_id", "sample_idx"], how="inner").select(
        "problem_id", "sample_idx",
        said_yes=said_yes,
        p_yes=pl.col("s").fill_null(said_yes.cast(pl.Float64)).clip(0.0, 1.0),
        truth="truth",
        failed=pl.col("v").is_in(list(JUDGE_FAILURES)),
    )


def per_problem_sums(pairs: pl.DataFrame, bins: int) -> tuple[list[str], np.ndarray]:
    """(problems, P x (6 + 3*bins) matrix) of sums that every statistic is a ratio of.

    Columns: tp, fp, fn, tn, squared error, n scored; then per bin: count, sum p_yes, sum truth.
    """
    ok = pairs.filter(~pl.col("failed")).with_columns(
        bin=(pl.col("p_yes") * bins).floor().clip(0, bins - 1).cast(pl.Int64),
        t=pl.col("truth").cast(pl.Float64),
        y=pl.col("said_yes").cast(pl.Float64),
    )
    problems = pairs["problem_id"].unique().sort().to_list()
    base = ok.group_by("problem_id").agg(
        tp=(pl.col("y") * pl.col("t")).sum(),
        fp=(pl.col("y") * (1 - pl.col("t"))).sum(),
        fn=((1 - pl.col("y")) * pl.col("t")).sum(),
        tn=((1 - pl.col("y")) * (1 - pl.col("t"))).sum(),
        se=((pl.col("p_yes") - pl.col("t")) ** 2).sum(),
        n=pl.len().cast(pl.Float64),
    )
    per_bin = ok.group_by("problem_id", "bin").agg(
        c=pl.len().cast(pl.Float64), sp=pl.col("p_yes").sum(), st=pl.col("t").sum()
    )
    index = {p: i for i, p in enumerate(problems)}
    x = np.zeros((len(problems), 6 + 3 * bins))
    for row in base.iter_rows():
        x[index[row[0]], :6] = row[1:]
    for pid, b, c, sp, st in per_bin.iter_rows():
        x[index[pid], 6 + 3 * b : 9 + 3 * b] = (c, sp, st)
    return problems, x


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def statistics(totals: np.ndarray, bins: int) -> dict[str, np.ndarray]:
    """Every rate from summed columns (works on one row or a (B, m) matrix of replicates)."""
    t = np.atleast_2d(totals)
    tp, fp, fn, tn, se, n = (t[:, i] for i in range(6))
    binned = t[:, 6:].reshape(t.shape[0], bins, 3)
    ece = _ratio(np.abs(binned[:, :, 1] - binned[:, :, 2]).sum(axis=1), n)
    return {
        "tpr": _ratio(tp, tp + fn),
        "fpr": _ratio(fp, fp + tn),
        "precision": _ratio(tp, tp + fp),
        "accuracy": _ratio(tp + tn, n),
        "brier": _ratio(se, n),
        "ece": ece,
    }


def reliability(totals: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Reliability-diagram data: per bin, count, mean P(yes) and observed share correct."""
    binned = totals[6:].reshape(bins, 3)
    out = []
    for b, (c, sp, st) in enumerate(binned):
        out.append({"bin_low": b / bins, "bin_high": (b + 1) / bins, "count": float(c),
                    "mean_p_yes": float(sp / c) if c else float("nan"),
                    "share_correct": float(st / c) if c else float("nan")})
    return out


def judge_quality(
    judge: pl.DataFrame, gold: pl.DataFrame, n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0, bins: int = 10,
) -> dict[str, Any]:
    """Judge-vs-gold metrics with bootstrap intervals over problems (JSON-ready dict).

    Keys: ``<stat>``, ``<stat>_ci_low``, ``<stat>_ci_high`` for tpr, fpr, precision, accuracy,
    brier, ece; counts (n, positives, negatives, judge failures); ``reliability`` bins.
    Undefined rates (no positives, say) are None.
    """
    pairs = paired_judgments(judge, gold)
    if pairs.height == 0:
        raise ValueError("judge_quality: judge and gold verdicts share no (problem_id, sample_idx)")
    problems, x = per_problem_sums(pairs, bins)
    totals = x.sum(axis=0)
    point = statistics(totals, bins)
    out: dict[str, Any] = {}
    reps = statistics(resample_weights(len(problems), n_boot, seed) @ x, bins) if n_boot else None
    for name, value in point.items():
        v = float(value[0])
        out[name] = None if np.isnan(v) else v
        if reps is not None:
            finite = reps[name][~np.isnan(reps[name])]
            low, high = percentile_interval(finite, ci) if finite.size else (np.nan, np.nan)
        else:
            low = high = v
        out[f"{name}_ci_low"] = None if np.isnan(low) else float(low)
        out[f"{name}_ci_high"] = None if np.isnan(high) else float(high)
    out.update(
        n_judged=int(totals[5]), n_problems=len(problems),
        positives=int(totals[0] + totals[2]), negatives=int(totals[1] + totals[3]),
        judge_failures=int(pairs["failed"].sum()), bootstrap=n_boot, ci=ci,
        reliability=reliability(totals, bins),
    )
    return out


def plot_reliability(quality: dict[str, Any], path: str | Path, title: str = "judge") -> None:
    """Reliability diagram (PNG): observed share correct against mean P(yes) per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rel = [r for r in quality["reliability"] if r["count"] > 0]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    ax.plot([r["mean_p_yes"] for r in rel], [r["share_correct"] for r in rel], marker="o",
            label=f"{title} (ECE {quality['ece']:.3f})" if quality.get("ece") is not None else title)
    ax.set_xlabel("judge P(yes)")
    ax.set_ylabel("share correct (gold)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
