"""Stage analyze: pure function on frames, and main() writing every output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from stages import analyze
from stages.params import AnalyzeParams
from stages.schemas import SAMPLES, VERDICTS_SCHEMA, conform

sys.path.insert(0, str(Path(__file__).parent / "stats"))
from test_analysis import simulated_run

PARAMS = AnalyzeParams(bootstrap=100, utility_k_max=50, strategy_replicates=20)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    verdicts, samples = simulated_run(problems=12, n=16)
    verdicts = verdicts.with_columns(pl.lit("").alias("detail"), pl.lit(0.0).alias("duration_s"),
                                     pl.lit("none").alias("sandbox"))
    samples = samples.with_columns(
        pl.lit("").alias("completion"), pl.lit("synthetic").alias("backend"), pl.lit("sim").alias("model"),
        pl.lit("{}").alias("sampling_params"), pl.lit(0).alias("seed"), pl.lit(0.0).alias("latency_s"),
        pl.lit("synthetic").alias("finish_reason"), pl.lit(None, dtype=pl.Float64).alias("sum_logprob"),
        pl.lit(None, dtype=pl.String).alias("error"))
    (tmp_path / "data").mkdir()
    conform(verdicts, VERDICTS_SCHEMA, "verdicts").write_parquet(tmp_path / "data/verdicts.parquet")
    conform(samples, SAMPLES, "samples").write_parquet(tmp_path / "data/samples.parquet")
    (tmp_path / "params.yaml").write_text("analyze:\n  bootstrap: 100\n  utility_k_max: 50\n  strategy_replicates: 20\n")
    return tmp_path / "data/verdicts.parquet", tmp_path / "data/samples.parquet"


def test_main_writes_metrics_curve_and_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    analyze.main([])
    metrics = json.loads(Path("metrics/details.json").read_text())
    assert "pass@1" in metrics["strong_io"] and "false_positives" in metrics
    assert metrics["costs"]["basis"] == "tokens"
    for table in ("strategies", "utility", "extrapolation", "false_positives", "cost_of_pass"):
        assert Path(f"data/analysis/{table}.parquet").exists(), table
    assert Path("metrics/curve.csv").exists() and Path("data/curve.parquet").exists()


def test_counts_input_skips_pair_tables_and_removes_stale_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    analyze.main([])
    pl.DataFrame({"problem_id": ["a", "b"], "verifier": ["v", "v"], "n": [16, 16], "c": [3, 0]}).write_parquet("counts_in.parquet")
    analyze.main(["--counts", "counts_in.parquet"])
    assert not Path("data/analysis/strategies.parquet").exists()
    metrics = json.loads(Path("metrics/details.json").read_text())
    assert set(metrics["v"]) >= {"pass@1", "pass@10"} and "pair" in metrics["skipped"]


def test_analyze_all_is_pure_and_names_the_model() -> None:
    verdicts, samples = simulated_run(problems=8, n=8)
    result = analyze.analyze_all(verdicts, PARAMS, 0, samples.with_columns(pl.lit("m1").alias("model")))
    assert result.tables["cost_of_pass"]["model"].unique().to_list() == ["m1"]


def test_first_stage_interface_still_returns_curve_and_metrics() -> None:
    counts = pl.DataFrame({"problem_id": ["a", "b"], "verifier": ["v", "v"], "n": [10, 10], "c": [2, 0]})
    curve_df, metrics = analyze.analyze(counts, PARAMS, 0)
    assert curve_df["k"].to_list() == list(range(1, 11))
    assert metrics["v"]["pass@1"] == pytest.approx(0.1) and "fits" in metrics


def test_published_counts_csv_without_verifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text("analyze:\n  bootstrap: 20\n")
    Path("paper.csv").write_text("problem_id,n,c\na,16,3\nb,16,0\nc,16,16\n")
    analyze.main(["--counts", "paper.csv"])
    metrics = json.loads(Path("metrics/details.json").read_text())
    assert metrics["counts"]["pass@1"] == pytest.approx((3 / 16 + 1) / 3)
