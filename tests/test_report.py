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


@pytest.fixture(autouse=True)
def _close_figures():
    """``report.figures`` hands its figures to the caller (``main`` saves and closes them); a
    test that only inspects them closes them here, so no test run holds dozens of figures."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_every_figure_for_a_verifier_pair() -> None:
    verdicts, samples = simulated_run(problems=10, n=16)
    result = run_analysis(verdicts, AnalyzeParams(bootstrap=50, utility_k_max=30, strategy_replicates=10), 0, samples)
    made = report.figures(result.tables, result.metrics)
    assert set(made) == set(report.PLOT_NAMES)
    drawn = {name for name, fig in made.items() if not report.is_placeholder(fig)}
    # a code run with a verifier pair and token counts draws every plot but the judge's
    assert drawn == set(report.PLOT_NAMES) - {"judge_reliability"}
    strategies = {t.get_text().split(" (")[0] for t in made["strategies"].axes[0].get_legend().get_texts()}
    assert strategies == set(result.tables["strategies"]["strategy"])


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


def test_judge_reliability_is_drawn_from_a_math_run_with_a_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reliability figure uses the judge tables; without them the PNG says what is missing."""
    import matplotlib.pyplot as plt

    quality = pl.DataFrame({"judge": ["judge:synthetic"], "stat": ["ece"], "value": [0.05],
                            "ci_low": [0.01], "ci_high": [0.09]})
    bins = pl.DataFrame({"judge": ["judge:synthetic"] * 2, "bin_low": [0.0, 0.9], "bin_high": [0.1, 1.0],
                         "count": [10.0, 30.0], "mean_p_yes": [0.05, 0.95], "share_correct": [0.1, 0.9]})
    drawn = report.figures({"curve": _curve(), "judge_quality": quality, "judge_reliability": bins}, {})
    texts = [t.get_text() for t in drawn["judge_reliability"].axes[0].get_legend().get_texts()]
    assert any("judge:synthetic (ECE 0.050)" in t for t in texts)
    missing = report.figures({"curve": _curve()}, {})["judge_reliability"]
    assert "not available" in missing.axes[0].texts[0].get_text()
    plt.close("all")


def _report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdicts: pl.DataFrame,
            samples: pl.DataFrame | None) -> dict:
    """analyze tables -> files -> ``python -m stages.report``; every PNG must exist and be a PNG."""
    import json

    monkeypatch.chdir(tmp_path)
    params = AnalyzeParams(bootstrap=20, utility_k_max=30, strategy_replicates=10, backtest_repeats=1,
                           backtest_bootstrap=0)
    result = run_analysis(verdicts, params, 0, samples)
    Path("data/analysis").mkdir(parents=True)
    for name, frame in result.tables.items():
        frame.write_parquet(f"data/analysis/{name}.parquet")
    result.tables["curve"].write_parquet("data/curve.parquet")
    Path("metrics").mkdir()
    Path("metrics/metrics.json").write_text(json.dumps(result.metrics))
    report.main([])
    for name in report.PLOT_NAMES:
        assert Path(f"plots/{name}.png").read_bytes()[:4] == b"\x89PNG", name
    return result.metrics


def test_report_when_no_sample_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cost-of-pass is infinite: no finite point for the log axes; an empty-state panel."""
    verdicts, samples = simulated_run(problems=6, n=8)
    verdicts = verdicts.with_columns(pl.lit("fail").alias("verdict"))
    _report(tmp_path, monkeypatch, verdicts, samples)
    fig = report.figures({n: pl.read_parquet(f"data/analysis/{n}.parquet") for n in ("cost_of_pass", "frontier")}
                         | {"curve": pl.read_parquet("data/curve.parquet")}, {})["cost_of_pass"]
    assert report.is_placeholder(fig) and "accuracy" in fig.axes[0].texts[0].get_text()


def test_report_with_one_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts, samples = simulated_run(problems=1, n=8)
    _report(tmp_path, monkeypatch, verdicts, samples)


def test_report_with_one_sample_per_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts, samples = simulated_run(problems=6, n=1)
    _report(tmp_path, monkeypatch, verdicts, samples)


def test_report_without_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts, samples = simulated_run(problems=6, n=8)
    verdicts = verdicts.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    samples = samples.with_columns(pl.lit(None, dtype=pl.Float64).alias("mean_logprob"))
    metrics = _report(tmp_path, monkeypatch, verdicts, samples)
    assert "skipped" in metrics["strategies"]["best_of_n"]


def test_report_with_a_single_verifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts, samples = simulated_run(problems=6, n=8)
    _report(tmp_path, monkeypatch, verdicts.filter(pl.col("verifier") == "strong_io"), samples)
    assert report.is_placeholder(report.figures({"curve": pl.read_parquet("data/curve.parquet")}, {})["utility"])


def _curve() -> pl.DataFrame:
    counts = pl.DataFrame({"problem_id": ["a", "b"], "n": [4, 4], "c": [1, 3]})
    return run_analysis(counts, AnalyzeParams(bootstrap=0), 0).tables["curve"]
