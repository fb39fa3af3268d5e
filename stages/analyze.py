"""Stage ``analyze``: verdicts -> metrics (pass@k and coverage for every k <= N).

Reads the verdicts (or per-problem counts published by a paper: ``--counts``), computes the
unbiased pass@k of Chen et al. (2021) for every k from 1 to N with bootstrap intervals over
problems, and writes DVC metrics (JSON, headline numbers) and the curve (CSV for ``dvc plots``,
parquet for everything else).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.entry import run_entry
from stages.io import read_table, write_json, write_table
from stages.params import AnalyzeParams, BaseParams, load_section
from stages.schemas import COUNTS, CURVE, VERDICTS_SCHEMA, conform
from stages.stats.passk import counts_from_verdicts, pass_at_k_matrix

METRICS_OUT = Path("metrics/metrics.json")
CURVE_CSV = Path("metrics/curve.csv")
CURVE_OUT = Path("data/curve.parquet")
COUNTS_OUT = Path("data/counts.parquet")


def curve(counts: pl.DataFrame, n_boot: int, ci: float, seed: int) -> pl.DataFrame:
    """pass@k for k = 1..min(n) per verifier, with percentile bootstrap intervals over problems."""
    rng = np.random.default_rng(seed)
    frames = []
    for (verifier,), group in counts.group_by("verifier", maintain_order=True):
        n, c = group["n"].to_numpy(), group["c"].to_numpy()
        ks = np.arange(1, int(n.min()) + 1)
        per_problem = pass_at_k_matrix(n, c, ks)  # (P, K)
        mean = per_problem.mean(axis=0)
        if n_boot > 0:
            idx = rng.integers(0, len(n), size=(n_boot, len(n)))
            weights = np.zeros((n_boot, len(n)))
            np.add.at(weights, (np.arange(n_boot)[:, None], idx), 1.0 / len(n))
            boot = weights @ per_problem  # (B, K)
            alpha = (1 - ci) / 2
            low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)
        else:
            low = high = np.full_like(mean, np.nan)
        frames.append(pl.DataFrame({"verifier": verifier, "k": ks, "pass_at_k": mean,
                                    "ci_low": low, "ci_high": high}))
    return conform(pl.concat(frames), CURVE, "curve")


def headline(curve_df: pl.DataFrame, counts: pl.DataFrame, ks: list[int]) -> dict[str, Any]:
    """The numbers DVC shows: pass@k for the headline ks that exist, and coverage@N."""
    out: dict[str, Any] = {}
    for (verifier,), group in curve_df.group_by("verifier", maintain_order=True):
        n_max = int(group["k"].max())
        entry: dict[str, Any] = {}
        for k in ks:
            if k <= n_max:
                row = group.filter(pl.col("k") == k).row(0, named=True)
                entry[f"pass@{k}"] = round(row["pass_at_k"], 6)
                entry[f"pass@{k}_ci"] = [round(row["ci_low"], 6), round(row["ci_high"], 6)]
        entry[f"coverage@{n_max}"] = round(group.filter(pl.col("k") == n_max)["pass_at_k"][0], 6)
        out[verifier] = entry
    out["n_problems"] = counts["problem_id"].n_unique()
    out["n_samples"] = int(counts["n"].max()) if counts.height else 0
    return out


def analyze(counts: pl.DataFrame, params: AnalyzeParams, seed: int) -> tuple[pl.DataFrame, dict]:
    counts = conform(counts, COUNTS, "counts")
    curve_df = curve(counts, params.bootstrap, params.ci, seed)
    return curve_df, headline(curve_df, counts, params.headline_k)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.analyze", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--verdicts", type=Path, default=Path("data/verdicts.parquet"))
    ap.add_argument("--counts", type=Path, default=None,
                    help="per-problem counts (problem_id, verifier, n, c) instead of verdicts")
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        own = load_section("analyze", args.params, AnalyzeParams)
        if args.counts is not None:
            counts = read_table(args.counts, COUNTS, "counts")
        else:
            counts = counts_from_verdicts(read_table(args.verdicts, VERDICTS_SCHEMA, "verdicts"))
        curve_df, metrics = analyze(counts, own, base.seed)
        write_table(counts, COUNTS_OUT, COUNTS, "counts")
        write_table(curve_df, CURVE_OUT, CURVE, "curve")
        CURVE_CSV.parent.mkdir(parents=True, exist_ok=True)
        curve_df.write_csv(CURVE_CSV, float_precision=6)
        write_json(metrics, METRICS_OUT)
        print(f"analyze: metrics -> {METRICS_OUT}, curve -> {CURVE_CSV}")

    run_entry("analyze", body)


if __name__ == "__main__":
    main()
