"""Stage report: one figure per analysis table present; stale plots removed."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from stages import report
from stages.params import AnalyzeParams
from stages.stats.analysis import run_analysis

sys.path.insert(0, str(Path(__file__).parent / "stats"))
from test_analysis import simulated_run


def test_every_figure_for_a_verifier_pair() -> None:
    verdicts, samples = simulated_run(problems=10, n=16)
    result = run_analysis(verdicts, AnalyzeParams(bootstrap=50, utility_k_max=30, strategy_replicates=10), 0, samples)
    made = report.figures(result.tables, result.metrics)
    assert set(made) == set(report.PLOT_NAMES)


def test_counts_only_draws_coverage_and_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    counts = pl.DataFrame({"problem_id": ["a", "b", "c"], "n": [16] * 3, "c": [1, 5, 0]})
    result = run_analysis(counts, AnalyzeParams(bootstrap=20), 0)
    Path("data/analysis").mkdir(parents=True)
    for name, frame in result.tables.items():
        frame.write_parquet(f"data/analysis/{name}.parquet")
    result.tables["curve"].write_parquet("data/curve.parquet")
    Path("plots").mkdir()
    Path("plots/strategies.png").write_bytes(b"stale")
    report.main(["--metrics", "missing.json"])
    for name in report.PLOT_NAMES:  # every declared output exists; none is stale
        assert Path(f"plots/{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert set(report.figures(result.tables, {})) == set(report.PLOT_NAMES)
