"""Task plumbing as plain functions: chunking, and the cache key part that notices a deleted run dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from flows.tasks import RunDirToken, problem_chunks


def test_chunks_cover_every_problem_once_in_order() -> None:
    ids = pl.DataFrame({"problem_id": [f"P{i}" for i in range(10)]})
    chunks = problem_chunks(ids, 4)
    assert [len(c) for c in chunks] == [3, 3, 2, 2]
    assert [p for c in chunks for p in c] == ids["problem_id"].to_list()
    assert problem_chunks(ids.head(2), 8) == [["P0"], ["P1"]]


def test_deleting_the_run_dir_changes_the_cache_key(tmp_path: Path) -> None:
    policy = RunDirToken()
    run_dir = str(tmp_path / "run")
    first = policy.compute_key(None, {"run_dir": run_dir}, {})
    assert first and policy.compute_key(None, {"run_dir": run_dir}, {}) == first
    shutil.rmtree(run_dir)
    assert policy.compute_key(None, {"run_dir": run_dir}, {}) != first
    assert policy.compute_key(None, {"x": 1}, {}) is None
