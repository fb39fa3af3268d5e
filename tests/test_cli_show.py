"""``infscale show <problem_id>``: the inspection rows of one problem, in the terminal."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stages.cli import app
from stages.io import write_table
from stages.schemas import PROBLEMS, SAMPLES, VERDICTS_SCHEMA, conform
from tests.test_inspection import _frames


def test_show_prints_the_false_positive_and_rejects_an_unknown_problem(tmp_path: Path) -> None:
    import polars as pl

    problems, samples, verdicts = _frames()
    samples = samples.with_columns(*(pl.lit(None).alias(c) for c in SAMPLES if c not in samples.columns))
    verdicts = verdicts.with_columns(*(pl.lit(None).alias(c) for c in VERDICTS_SCHEMA if c not in verdicts.columns))
    write_table(conform(problems, PROBLEMS, "problems"), tmp_path / "data/problems.parquet", PROBLEMS, "problems")
    write_table(samples, tmp_path / "data/samples.parquet", SAMPLES, "samples")
    write_table(verdicts, tmp_path / "data/verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    runner = CliRunner()
    out = runner.invoke(app, ["show", "P/0", "--run-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "P/0 sample 0  [false_positive, disagreement]" in out.output and "first failing input: [2]" in out.output
    assert "sample 1" not in out.output
    assert runner.invoke(app, ["show", "P/0", "--run-dir", str(tmp_path), "--all"]).output.count("── P/0") == 3
    bad = runner.invoke(app, ["show", "P/9", "--run-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "no problem 'P/9'" in bad.output
