"""The evaluate flow on a real local Dask cluster, set up as a new user would (issue 16).

A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, started from another
directory with an environment that holds nothing but PATH and HOME (no Prefect settings), and
``python -m flows.evaluate --dask ...`` run as its own process without ``PREFECT_API_URL`` (so on
Prefect's temporary server). Checked: the verification chunks ran on both workers, their task
runs and logs are in the flow's Prefect database, no worker started a Prefect server of its
own, and the merged verdicts equal a local verification of the same samples byte for byte.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cluster import shared_prefect_api, worker_name
from flows.config import load_config
from stages.io import read_table, write_table
from stages.schemas import PROBLEMS, SAMPLES, VERDICTS_SCHEMA
from stages.verifiers import make_executor
from stages.verify import verify

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SMALL = {"prepare.limit": 6, "generate.n_samples": 4, "analyze.bootstrap": 20}

pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, Path]]]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bare = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(elsewhere)}
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs, logs = [], {}
    try:
        with open(elsewhere / "scheduler.log", "wb") as out:
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                 address.rsplit(":", 1)[1], "--no-dashboard"],
                cwd=elsewhere, env=bare, stdout=out, stderr=subprocess.STDOUT))
        for name in ("w1", "w2"):
            logs[name] = elsewhere / f"{name}.log"
            with open(logs[name], "wb") as out:
                procs.append(subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, "--name", name, "--nthreads", "1",
                     "--no-dashboard"],
                    cwd=elsewhere, env=bare, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while not all("Registered to" in p.read_text() for p in logs.values()):
            assert time.monotonic() < deadline, "the local Dask workers did not register"
            assert all(p.poll() is None for p in procs), "a Dask process exited"
            time.sleep(0.5)
        yield address, logs
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            p.wait(30)


@pytest.mark.timeout(1500)
def test_evaluate_on_a_local_dask_cluster_matches_a_local_run(
        cluster: tuple[str, dict[str, Path]], tmp_path: Path) -> None:
    address, worker_logs = cluster
    run_dir, home = tmp_path / "run", tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    # A fresh PREFECT_HOME migrates its database first: minutes on a loaded 2-core machine.
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600",
               INFSCALE_PROGRESS="0")
    sets = [arg for k, v in SMALL.items() for arg in ("--set", f"{k}={v}")]
    flow = subprocess.run(
        [sys.executable, "-m", "flows.evaluate", "--dask", address, "--run-dir", str(run_dir),
         "--no-track", *sets],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert flow.returncode == 0, flow.stdout[-3000:] + flow.stderr[-3000:]

    # Both workers verified chunks, and neither started a Prefect server of its own.
    for name, log in worker_logs.items():
        text = log.read_text()
        assert f"on dask worker {name}" in text, text[-2000:]
        assert "Starting temporary server" not in text
    # The chunks' task runs and their log lines are in the flow's own Prefect database.
    with sqlite3.connect(home / "prefect.db") as db:
        chunk_runs = db.execute(
            "select count(*) from task_run where name like 'verify_chunk_task%'").fetchone()[0]
        worker_lines = db.execute(
            "select message from log where message like '%on dask worker%'").fetchall()
    assert chunk_runs == 6 and len(worker_lines) == 6
    assert {m.rsplit(" ", 1)[1] for (m,) in worker_lines} == {"w1", "w2"}

    # The same samples verified locally, in one process, give the same bytes.
    config = load_config(ROOT / "params.yaml", SMALL)
    problems = read_table(run_dir / "data/problems.parquet", PROBLEMS, "problems")
    samples = read_table(run_dir / "data/samples.parquet", SAMPLES, "samples")
    with make_executor(config.verify) as executor:
        local, _ = verify(problems, samples, config.verify, executor)
    local = local.sort("problem_id", "sample_idx", "verifier")
    flow_verdicts = read_table(run_dir / "data/verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    assert local.to_dicts() == flow_verdicts.to_dicts()  # readable diff first, then the bytes
    write_table(local, tmp_path / "local.parquet", VERDICTS_SCHEMA, "verdicts")
    assert (tmp_path / "local.parquet").read_bytes() == (run_dir / "data/verdicts.parquet").read_bytes()


def test_worker_name_is_none_outside_a_dask_worker() -> None:
    assert worker_name() is None


def test_shared_prefect_api_keeps_an_api_url_that_is_set() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}),
          shared_prefect_api() as url):
        assert url == "http://127.0.0.1:4200/api" == PREFECT_API_URL.value()
