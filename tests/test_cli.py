"""`infscale summary`: the k a run has, n_failed, and the FP share under its one name."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stages.cli import app, summary_lines


def _metrics(n: int) -> dict:
    return {"n_problems": 3, "n_samples": n,
            "weak_io": {"pass@1": 0.5, "pass@1_ci": [0.4, 0.6], f"coverage@{n}": 0.8, "n_failed": 2,
                        "skipped": {"pass@10": "3 problem(s) have fewer than 10 judged samples: a, b, c"}},
            "strong_io": {"pass@1": 0.4, "pass@1_ci": [0.3, 0.5], f"coverage@{n}": 0.7, "n_failed": 0},
            "false_positives": {"weak": "weak_io", "strong": "strong_io", "fp_share_of_weak_passes": 0.2,
                                "fp_share_of_weak_passes_ci_low": 0.1, "fp_share_of_weak_passes_ci_high": 0.3}}


def test_summary_shows_the_k_that_exist_when_n_is_below_ten() -> None:
    columns, rows, notes = summary_lines(_metrics(4))
    assert columns == ["pass@1", "coverage@4"]
    assert rows[0] == ["weak_io", "0.500 [0.400, 0.600]", "0.800", "2"]
    assert any("FP share of weak passes" in line and "0.200" in line for line in notes)
    assert any("pass@10 skipped" in line for line in notes)


def test_summary_command_prints_n_failed(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_metrics(4)))
    out = CliRunner().invoke(app, ["summary", "--path", str(path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "n_failed" in out.output and "coverage@4" in out.output and "pass@10 [" not in out.output
