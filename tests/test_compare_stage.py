"""``python -m stages.compare``: two analyzed runs in, paired comparison JSON/CSV out.

The statistics themselves are tested in tests/stats/test_compare.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from stages import compare
from stages.schemas import COUNTS, SAMPLES, conform


def _run(root: Path, p: np.ndarray, n: int, tokens: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    (root / "data").mkdir(parents=True)
    ids = [f"p{i}" for i in range(p.size)]
    counts = pl.DataFrame({"problem_id": ids, "verifier": "strong_io", "n": n, "c": rng.binomial(n, p)})
    conform(counts, COUNTS, "counts").write_parquet(root / "data/counts.parquet")
    samples = conform(pl.DataFrame({
        "problem_id": ids, "sample_idx": 0, "completion": "", "backend": "synthetic", "model": "m",
        "sampling_params": "{}", "seed": 0, "prompt_tokens": tokens, "completion_tokens": tokens,
        "latency_s": 0.0, "finish_reason": "synthetic", "mean_logprob": None, "sum_logprob": None, "error": None,
    }), SAMPLES, "samples")
    samples.write_parquet(root / "data/samples.parquet")
    return root


def test_compare_writes_paired_results(tmp_path: Path) -> None:
    p = np.random.default_rng(0).beta(0.5, 2.0, 40)
    a = _run(tmp_path / "a", p, 20, 100, 1)
    b = _run(tmp_path / "b", np.clip(2 * p, 0, 1), 10, 100, 2)
    compare.main([str(a), str(b), "--params-a", "1e9", "--params-b", "7e9", "--bootstrap", "100",
                  "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out/compare.json").read_text())
    assert result["cost_basis"] == "flops" and result["shared_problems"] == 40
    assert result["cost_per_sample_b"] == pytest.approx(7 * result["cost_per_sample_a"])
    assert "pass@10_diff" in result and (tmp_path / "out/compare.csv").exists()


def test_missing_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        compare.main([str(tmp_path / "nope"), str(tmp_path / "nope2")])
