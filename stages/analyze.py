"""Stage ``analyze``: verdicts -> metrics and tables of inference-time scaling.

Reads the verdicts (or per-problem counts published by a paper: ``--counts``) and, when present,
the samples (token counts for cost-of-pass). All computation is
:func:`stages.stats.analysis.run_analysis` (see docs/statistics.md): pass@k for every k <= N
with bootstrap intervals over problems (Chen et al. 2021), power-law and Beta fits with an
extrapolation band and a backtest (Brown et al. 2024; Schaeffer et al. 2025), and -- when the
verdicts hold a (weak, strong) verifier pair -- false-positive shares, the fLaws accuracy ceiling
and utility curves (Stroebl et al. 2024), selection strategies vs n, and cost-of-pass (Erol et
al. 2025). Writes DVC metrics (JSON, headline numbers), the curve (CSV for ``dvc plots``,
parquet) and every other table as parquet under ``data/analysis/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.contracts import validate_metrics, validate_table
from stages.entry import run_entry
from stages.headline import write_split
from stages.io import InputError, read_table, write_table
from stages.params import AnalyzeParams, BaseParams, load_section
from stages.schemas import COUNTS, CURVE, SAMPLES, VERDICTS_SCHEMA, SchemaError, conform
from stages.stats.analysis import Analysis, run_analysis

METRICS_OUT = Path("metrics/metrics.json")
CURVE_CSV = Path("metrics/curve.csv")
CURVE_OUT = Path("data/curve.parquet")
COUNTS_OUT = Path("data/counts.parquet")
TABLES_DIR = Path("data/analysis")


def analyze_all(table: pl.DataFrame, params: AnalyzeParams, seed: int,
                samples: pl.DataFrame | None = None) -> Analysis:
    """Pure: verdict rows (or COUNTS) and optional samples -> metrics and every table."""
    model = "model"
    if samples is not None and "model" in samples.columns and samples.height:
        model = str(samples.get_column("model")[0])
    return run_analysis(table, params, seed, samples=samples, model=model)


def analyze(counts: pl.DataFrame, params: AnalyzeParams, seed: int) -> tuple[pl.DataFrame, dict]:
    """The first stage's interface (flows and benchmarks call it): counts -> (curve, metrics).

    Metrics include the fits; the verifier-pair parts need verdict rows (:func:`analyze_all`).
    """
    result = analyze_all(counts, params, seed)
    return result.tables["curve"], result.metrics


def write_outputs(result: Analysis, tables_dir: Path = TABLES_DIR) -> None:
    """Counts and curve at their fixed paths, every other table under ``tables_dir``, metrics JSON."""
    write_table(result.tables["counts"], COUNTS_OUT, COUNTS, "counts")
    write_table(result.tables["curve"], CURVE_OUT, CURVE, "curve")
    CURVE_CSV.parent.mkdir(parents=True, exist_ok=True)
    result.tables["curve"].write_csv(CURVE_CSV, float_precision=6)
    rest = {name: frame for name, frame in result.tables.items() if name not in ("counts", "curve")}
    tables_dir.mkdir(parents=True, exist_ok=True)
    for stale in tables_dir.glob("*.parquet"):  # a table this run did not make must not linger
        if stale.stem not in rest:
            stale.unlink()
    for name, frame in rest.items():
        write_table(frame, tables_dir / f"{name}.parquet", dict(frame.schema), name)
    write_split(result.metrics, METRICS_OUT)  # headline (a DVC metric) + metrics/details.json


def read_counts(path: Path) -> pl.DataFrame:
    """Published per-problem counts: parquet or CSV with problem_id, n, c (verifier optional)."""
    if path.suffix.lower() != ".csv":
        try:
            return read_table(path, COUNTS, "counts")
        except SchemaError as exc:
            if "verifier" not in str(exc):
                raise
    if not path.exists():
        raise InputError(f"{path}: counts file not found")
    try:
        raw = pl.read_csv(path) if path.suffix.lower() == ".csv" else pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - polars raises several error types for a bad file
        raise InputError(f"{path}: not a readable counts table: {exc}") from None
    if "verifier" not in raw.columns:  # papers publish one verifier's counts without naming it
        raw = raw.with_columns(pl.lit("counts").alias("verifier"))
    try:
        return conform(raw, COUNTS, "counts")
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.analyze", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--verdicts", type=Path, default=Path("data/verdicts.parquet"))
    ap.add_argument("--samples", type=Path, default=Path("data/samples.parquet"),
                    help="samples with token counts (for cost-of-pass); skipped when absent")
    ap.add_argument("--counts", type=Path, default=None,
                    help="per-problem counts (problem_id, n, c[, verifier]; parquet or CSV) instead of verdicts")
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        own = load_section("analyze", args.params, AnalyzeParams)
        if args.counts is not None:
            table, samples = read_counts(args.counts), None
            validate_table("counts", table)  # published counts: the contract names a bad row first
        else:
            table = read_table(args.verdicts, VERDICTS_SCHEMA, "verdicts")
            samples = read_table(args.samples, SAMPLES, "samples") if args.samples.exists() else None
        result = analyze_all(table, own, base.seed, samples)
        validate_table("counts", result.tables["counts"])  # Great Expectations contracts (stages/contracts.py)
        validate_table("curve", result.tables["curve"])
        validate_metrics(result.metrics)
        write_outputs(result)
        print(f"analyze: metrics -> {METRICS_OUT}, curve -> {CURVE_CSV}, tables -> {TABLES_DIR}/ "
              f"({', '.join(sorted(result.tables))})")

    run_entry("analyze", body)


if __name__ == "__main__":
    main()
