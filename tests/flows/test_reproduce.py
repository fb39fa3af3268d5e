"""`infscale reproduce`: provenance checks, params restored, metrics side by side (DVC replaced by
a stand-in runner that copies the recorded outputs, so the test does not re-run the pipeline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from flows.config import load_raw
from flows.reproduce import reproduce
from flows.tracking import log_record, record_from_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tracked(small_run: Path, mlflow_uri: str) -> tuple[str, dict, str]:
    raw = load_raw(ROOT / "params.yaml", {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50})
    record = record_from_files(raw_params=raw, root=small_run, source="test")
    return log_record(record, experiment="infscale-test"), raw, record.tags["infscale.dataset_hash"]


def _copy_outputs(src: Path):
    def runner(project: Path) -> int:
        shutil.copytree(src / "metrics", project / "metrics", dirs_exist_ok=True)
        return 0
    return runner


def test_mismatched_commit_stops_unless_forced(tracked, small_run: Path, tmp_path: Path, capsys) -> None:
    run_id, raw, data_hash = tracked
    (tmp_path / "params.yaml").write_text("base: {seed: 1}\n")
    # tmp_path is not a git repository: its commit is "unknown", unlike the run's.
    rc = reproduce(run_id, tmp_path, runner=_copy_outputs(small_run), dataset_hash=lambda _d: data_hash)
    assert rc == 3 and "git commit" in capsys.readouterr().err
    assert (tmp_path / "params.yaml").read_text() == "base: {seed: 1}\n"  # untouched

    rc = reproduce(run_id, tmp_path, force=True, runner=_copy_outputs(small_run),
                   dataset_hash=lambda _d: data_hash)
    out = capsys.readouterr().out
    assert rc == 0 and yaml.safe_load((tmp_path / "params.yaml").read_text()) == raw
    assert (tmp_path / "params.yaml.before-reproduce").read_text() == "base: {seed: 1}\n"
    line = next(x for x in out.splitlines() if x.startswith("weak_assert/pass_at_1 "))
    assert line.split()[-1] == "+0.000000"  # same outputs, same numbers, side by side


def test_mismatched_dataset_hash_stops(tracked, small_run: Path, tmp_path: Path, capsys) -> None:
    run_id, _raw, _hash = tracked
    rc = reproduce(run_id, tmp_path, runner=_copy_outputs(small_run), dataset_hash=lambda _d: "0" * 64)
    assert rc == 3 and "dataset hash" in capsys.readouterr().err
