"""Wall time and peak memory of the analysis on 164 problems x 10,000 samples (simulated verdicts).

Scenario ``single``: 1.64 M verdict rows of one verifier -> counts, pass@k for every k = 1..N
with 1,000 bootstrap replicates, power-law and Beta fits with bootstrap bands, backtest
(``stages.stats.analysis.run_analysis``; the pair parts are skipped: one verifier).
Scenario ``pair`` (``--pair``): the same samples judged by a weak and a strong verifier
(3.28 M rows) -> additionally false positives, fLaws utility and every selection strategy.

Anchor, measured in the same run: the first analyze stage's approach to the same curve
(``passk.pass_at_k_matrix`` via log-gamma + bootstrap weights built with ``np.add.at``).
Verdicts are SIMULATED (p_i ~ Beta(0.6, 1.2), false positives at rate 0.1): this measures the
analysis, not any model.

    .venv/bin/python benchmarks/analysis_speed.py [--pair] [--problems 164] [--samples 10000]
    .venv/bin/python benchmarks/analysis_speed.py --run-dir /tmp/million/project   # real verdicts
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import polars as pl

from stages.io import read_table
from stages.params import AnalyzeParams, BaseParams, load_section
from stages.schemas import SAMPLES, VERDICTS_SCHEMA, VerdictEnum
from stages.stats.analysis import run_analysis
from stages.stats.passk import counts_from_verdicts, pass_at_k_matrix


def simulated_verdicts(problems: int, samples: int, pair: bool, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 1.2, problems)
    correct = rng.random((problems, samples)) < p[:, None]
    pid = pl.Series("problem_id", [f"p{i:03d}" for i in range(problems)]).gather(np.repeat(np.arange(problems), samples))
    base = pl.DataFrame({"problem_id": pid, "sample_idx": np.tile(np.arange(samples), problems)})
    # answers: the correct class, or one of 4 wrong output signatures
    wrong = rng.integers(0, 4, (problems, samples))
    answer = pl.Series(np.where(correct, 4, wrong).ravel()).cast(pl.String)

    def rows(name: str, ok: np.ndarray) -> pl.DataFrame:
        return base.with_columns(
            pl.lit(name).alias("verifier"),
            pl.Series("verdict", np.where(ok.ravel(), "pass", "fail")).cast(VerdictEnum),
            answer.alias("answer"),
            pl.lit(None, dtype=pl.Float64).alias("score"),
        )

    if not pair:
        return rows("strong_io", correct)
    weak = correct | (rng.random((problems, samples)) < 0.1)
    return pl.concat([rows("weak_io", weak), rows("strong_io", correct)])


def anchor(verdicts: pl.DataFrame, n_boot: int, seed: int) -> float:
    """The first analyze stage's curve computation on the same verdicts (reference timing)."""
    start = time.perf_counter()
    counts = counts_from_verdicts(verdicts)
    for (_,), group in counts.group_by("verifier"):
        n, c = group["n"].to_numpy(), group["c"].to_numpy()
        per_problem = pass_at_k_matrix(n, c, np.arange(1, int(n.min()) + 1))
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(n), size=(n_boot, len(n)))
        weights = np.zeros((n_boot, len(n)))
        np.add.at(weights, (np.arange(n_boot)[:, None], idx), 1.0 / len(n))
        np.quantile(weights @ per_problem, [0.025, 0.975], axis=0)
    return time.perf_counter() - start


def run_dir_analysis(run_dir: Path) -> None:
    """``run_analysis`` on a finished run's verdicts and samples with its own analyze params:
    wall and CPU time of the analysis alone (the stage adds reading, Great Expectations, writing)."""
    base = load_section("base", run_dir / "params.yaml", BaseParams)
    params = load_section("analyze", run_dir / "params.yaml", AnalyzeParams)
    verdicts = read_table(run_dir / "data/verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    samples_path = run_dir / "data/samples.parquet"
    samples = read_table(samples_path, SAMPLES, "samples") if samples_path.exists() else None
    print(f"verdict rows: {verdicts.height:,} from {run_dir} ({verdicts['problem_id'].n_unique()} problems, "
          f"verifiers {', '.join(sorted(verdicts['verifier'].unique()))}); bootstrap replicates: {params.bootstrap}; "
          f"{os.cpu_count()} cores")
    cpu0, start = time.process_time(), time.perf_counter()
    result = run_analysis(verdicts, params, base.seed, samples=samples)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(f"tables: {', '.join(sorted(result.tables))}")
    print(f"analysis wall time: {wall:.2f} s   (target < 10 s); CPU time of the process meanwhile: {cpu:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--pair", action="store_true", help="weak + strong verifier: every analysis part")
    ap.add_argument("--run-dir", type=Path, default=None,
                    help="a run's project directory instead (its data/verdicts.parquet, data/samples.parquet "
                         "and params.yaml, e.g. benchmarks/million.py's): real verdicts, not simulated")
    args = ap.parse_args()
    if args.run_dir is not None:
        return run_dir_analysis(args.run_dir)
    verdicts = simulated_verdicts(args.problems, args.samples, args.pair)
    params = AnalyzeParams(bootstrap=args.bootstrap)
    print(f"verdict rows: {verdicts.height:,} ({args.problems} problems x {args.samples} samples"
          f"{' x 2 verifiers' if args.pair else ''}); bootstrap replicates: {args.bootstrap}")

    anchor_s = anchor(verdicts.filter(pl.col("verifier") == "strong_io"), args.bootstrap, 0)
    start = time.perf_counter()
    result = run_analysis(verdicts, params, seed=0)
    wall = time.perf_counter() - start
    tracemalloc.start()
    run_analysis(verdicts, params, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"tables: {', '.join(sorted(result.tables))}")
    print(f"analysis wall time: {wall:.2f} s   (target < 10 s)")
    print(f"anchor (first-stage curve only, same verdicts): {anchor_s:.2f} s; analysis / anchor = {wall / anchor_s:.2f}")
    print(f"peak traced memory of one analysis (tracemalloc): {peak / 2**20:.0f} MiB")
    print(f"peak RSS of the process (incl. simulated data): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
