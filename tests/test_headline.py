"""Headline metrics: a few dozen keys for DVC (metrics.json), everything in details.json."""

from __future__ import annotations

import json
from pathlib import Path

from stages.headline import headline, is_headline, read_details, write_split

FULL = {
    "n_problems": 164, "n_samples": 100,
    "strong_io": {"pass@1": 0.3, "pass@1_ci": [0.2, 0.4], "pass@10": 0.6, "pass@2": 0.4, "coverage@100": 0.9,
                  "skipped": {"pass@100": "too few samples"}},
    "false_positives": {"weak": "weak_assert", "strong": "strong_io", "fp_share_of_weak_passes": 0.1,
                        "fp_share_of_weak_passes_ci_low": 0.05, "weak_fail_strong_pass": 0.0},
    "fits": {"strong_io": {"default": "zi_beta", "power_law": {"a": 1.0, "b": -0.8, "b_ci_low": -1.0},
                           "zi_beta": {"alpha": 1.3}}},
    "strategies": {"majority": {"n=10": 0.5}},
}


def test_headline_keeps_the_comparison_numbers_only() -> None:
    head = headline(FULL)
    assert head == {
        "n_problems": 164, "n_samples": 100,
        "strong_io": {"pass@1": 0.3, "pass@1_ci": [0.2, 0.4], "pass@10": 0.6, "coverage@100": 0.9},
        "false_positives": {"weak": "weak_assert", "strong": "strong_io", "fp_share_of_weak_passes": 0.1,
                            "fp_share_of_weak_passes_ci_low": 0.05},
        "fits": {"strong_io": {"default": "zi_beta", "power_law": {"b": -0.8, "b_ci_low": -1.0}}},
    }
    assert is_headline("weak_io/pass@100") and not is_headline("strategies/majority/n=10")


def test_split_writes_headline_and_details(tmp_path: Path) -> None:
    write_split(FULL, tmp_path / "metrics.json", tmp_path / "details.json")
    assert json.loads((tmp_path / "details.json").read_text()) == FULL
    assert json.loads((tmp_path / "metrics.json").read_text()) == headline(FULL)
    assert read_details(tmp_path / "metrics.json") == FULL
    (tmp_path / "details.json").unlink()
    assert read_details(tmp_path / "metrics.json") == headline(FULL)  # an old run: metrics.json only
