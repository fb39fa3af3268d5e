"""Stage ``prepare``: a dataset -> the problems table, with strong suites where none exist.

Reads ``base`` (dataset), ``prepare`` (limit) and ``augment`` from params.yaml and the dataset's
DVC-tracked copy ``data/dataset/`` (the ``fetch`` stage's output), and writes
``data/problems.parquet``. Every dataset module returns rows in ``schemas.PROBLEMS``; rows without
any test are kept (the verify stage gives them an ``error`` verdict, never a dropped row).
Code problems without a strong suite (plain HumanEval) get one by EvalPlus-style test
augmentation (``stages.augment``), so every code sample is judged by a weak and a strong suite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.augment import augment_problems, write_report
from stages.contracts import validate_table
from stages.datasets import load_dataset
from stages.datasets.mirror import DATASET_DIR
from stages.entry import run_entry
from stages.io import write_table
from stages.params import AugmentParams, BaseParams, PrepareParams, load_section
from stages.schemas import PROBLEMS, conform

OUT = Path("data/problems.parquet")
AUGMENT_REPORT = Path("metrics/augment.json")


def prepare(raw: pl.DataFrame, limit: int | None = None) -> pl.DataFrame:
    """Conform a dataset's rows to the problems schema, in a stable order, optionally the first N."""
    df = conform(raw, PROBLEMS, "problems")
    dupes = df.filter(pl.col("problem_id").is_duplicated())["problem_id"].unique().to_list()
    if dupes:
        raise ValueError(f"problems: duplicate problem_id(s): {dupes[:3]}")
    return df.head(limit) if limit else df


def prepare_problems(
    base: BaseParams, own: PrepareParams, augment: AugmentParams, root: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The problems table of ``base.dataset`` and the augmentation report (inputs added per problem).

    Shared by the DVC entry and the Prefect task, so both make the same table. ``root``: the
    fetch stage's DVC-tracked copy (``data/dataset``); None reads the dataset file in place.
    """
    # The limit goes to the loader too: it picks the problems before any expensive work.
    problems = prepare(load_dataset(base.dataset, own.shots, root, own.limit), own.limit)
    return augment_problems(problems, augment, base.seed)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.prepare", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        own = load_section("prepare", args.params, PrepareParams)
        augment = load_section("augment", args.params, AugmentParams)
        problems, report = prepare_problems(base, own, augment, DATASET_DIR)
        validate_table("problems", problems)  # Great Expectations contract (stages/contracts.py)
        write_table(problems, args.out, PROBLEMS, "problems")
        write_report(report, AUGMENT_REPORT)
        print(f"prepare: {problems.height} problems of {base.dataset} -> {args.out}")
        if report.height:
            print(f"  augmented strong suites: {int(report['added'].sum())} inputs added over "
                  f"{report.height} problems ({AUGMENT_REPORT})")

    run_entry("prepare", body)


if __name__ == "__main__":
    main()
