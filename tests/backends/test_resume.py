"""A generate run killed with SIGKILL mid-way resumes to the table of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from stages.io import write_table
from stages.schemas import PROBLEMS
from tests.backends.fake_server import FakeServer
from tests.backends.problem_rows import as_problems

ROOT = Path(__file__).resolve().parents[2]
N_PROBLEMS, N_SAMPLES = 30, 8


def workdir(base: Path, url: str) -> Path:
    base.mkdir()
    probs = pl.DataFrame(
        {
            "problem_id": [f"R/{i:02d}" for i in range(N_PROBLEMS)],
            "kind": ["code"] * N_PROBLEMS,
            "prompt": [f"def r{i}(x):\n" for i in range(N_PROBLEMS)],
            "program_prefix": [f"def r{i}(x):\n" for i in range(N_PROBLEMS)],
        }
    )
    write_table(as_problems(probs), base / "problems.parquet", PROBLEMS, "problems")
    gen = {
        "backend": "sglang",
        "model": "fake/test-model",
        "n_samples": N_SAMPLES,
        "sglang": {"url": url, "batch_size": 2, "concurrency": 2, "backoff_s": 0.01},
    }
    (base / "params.yaml").write_text(yaml.safe_dump({"base": {"seed": 5}, "generate": gen}))
    return base


def command(base: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stages.generate",
        "--params",
        str(base / "params.yaml"),
        "--problems",
        str(base / "problems.parquet"),
        "--out",
        str(base / "samples.parquet"),
        "--truth-out",
        str(base / "truth.parquet"),
        "--run-out",
        str(base / "run.json"),
        "--shards",
        str(base / "shards"),
        "--flush-rows",
        "1",
    ]


def parts(base: Path) -> list[Path]:
    return sorted((base / "shards").glob("*/part-*.parquet"))


def requested(server: FakeServer) -> int:
    return sum(len(body["text"]) for path, body in server.requests if path == "/generate")


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_gives_the_uninterrupted_table(tmp_path: Path) -> None:
    from stages import generate as stage

    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFSCALE_PROGRESS": "0"}
    with FakeServer(delay_s=0.02) as srv:
        whole = workdir(tmp_path / "whole", srv.url)
        stage.main(command(whole)[3:])  # in-process: only the killed run needs its own process
        total = requested(srv)
        assert total == N_PROBLEMS * N_SAMPLES

        killed = workdir(tmp_path / "killed", srv.url)
        proc = subprocess.Popen(
            command(killed),
            env=env,
            cwd=killed,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(parts(killed)) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert not (killed / "samples.parquet").exists()
        on_disk = pl.concat([pl.read_parquet(p) for p in parts(killed)])
        assert 0 < on_disk.height < N_PROBLEMS * N_SAMPLES

        before = requested(srv)
        stage.main(command(killed)[3:])
        asked_again = requested(srv) - before

    resumed = pl.read_parquet(killed / "samples.parquet")
    assert resumed.equals(pl.read_parquet(whole / "samples.parquet"))  # identical, latency included
    assert resumed.select("problem_id", "sample_idx").is_unique().all()
    assert asked_again == N_PROBLEMS * N_SAMPLES - on_disk.height  # only what was missing
    assert not (killed / "shards").exists() or not parts(killed)  # cleaned up after success
    run = json.loads((killed / "run.json").read_text())
    assert (
        run["model"] == "fake/test-model" and run["model_info"]["model_path"] == "fake/test-model"
    )
    assert run["resumed_samples"] == on_disk.height and run["error_rows"] == 0
