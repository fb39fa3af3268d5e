"""``python -m stages.compare RUN_A RUN_B``: compare two analyzed runs on their shared problems.

Reads each run's ``data/counts.parquet`` (written by ``analyze``) and, for the cost of a sample,
its ``data/samples.parquet`` (mean prompt + completion tokens) or FLOPs = 2 x parameters x tokens
when ``--params-a/--params-b`` give the model sizes (Kaplan et al. 2020). Reports paired
bootstrap differences of pass@k (a - b) over shared problems, the crossover n at which one
run with n samples reaches the other with one, and accuracy at equal compute
(:mod:`stages.stats.compare`). Writes ``compare.json`` and ``compare.csv`` to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.entry import run_entry
from stages.io import read_table, write_json
from stages.schemas import COUNTS, SAMPLES
from stages.stats.analysis import finite
from stages.stats.compare import compare_counts, flops_per_sample


def tokens_per_sample(run: Path) -> float:
    samples = read_table(run / "data/samples.parquet", SAMPLES, "samples")
    total = samples.select((pl.col("prompt_tokens").fill_null(0) + pl.col("completion_tokens").fill_null(0)).mean()).item()
    if not total:
        raise ValueError(f"{run}/data/samples.parquet: no token counts to cost a sample with")
    return float(total)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.compare", description=__doc__)
    ap.add_argument("run_a", type=Path, help="project directory of run a (e.g. the smaller model)")
    ap.add_argument("run_b", type=Path, help="project directory of run b")
    ap.add_argument("--verifier", default="strong_io", help="verifier whose verdicts count as correct")
    ap.add_argument("--params-a", type=float, default=None, help="parameters of model a (FLOPs basis)")
    ap.add_argument("--params-b", type=float, default=None, help="parameters of model b (FLOPs basis)")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("metrics"))
    args = ap.parse_args(argv)

    def body() -> None:
        counts_a = read_table(args.run_a / "data/counts.parquet", COUNTS, "counts")
        counts_b = read_table(args.run_b / "data/counts.parquet", COUNTS, "counts")
        cost_a, cost_b = tokens_per_sample(args.run_a), tokens_per_sample(args.run_b)
        basis = "tokens"
        if args.params_a is not None and args.params_b is not None:
            cost_a, cost_b = flops_per_sample(args.params_a, cost_a), flops_per_sample(args.params_b, cost_b)
            basis = "flops"
        metrics, table = compare_counts(counts_a, counts_b, args.verifier, cost_a, cost_b, args.ks,
                                        args.bootstrap, 0.95, args.seed)
        metrics |= {"cost_basis": basis, "cost_per_sample_a": cost_a, "cost_per_sample_b": cost_b}
        write_json(finite(metrics), args.out / "compare.json")
        args.out.mkdir(parents=True, exist_ok=True)
        table.write_csv(args.out / "compare.csv", float_precision=6)
        print(f"compare: {metrics['shared_problems']} shared problems -> {args.out / 'compare.json'}")

    run_entry("compare", body)


if __name__ == "__main__":
    main()
