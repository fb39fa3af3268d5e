"""Fixtures of the orchestration tests: a private MLflow store, a small run made by the task
functions without Prefect, and ONE Prefect temporary server for the whole session (it costs
13-24 s to start here, so Prefect-level tests are few and share it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.config import RunConfig, load_config, load_raw

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50}


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private sqlite store (never the project's mlflow.db)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def small_config() -> RunConfig:
    return load_config(ROOT / "params.yaml", SMALL)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory, small_config: RunConfig) -> Path:
    """A run directory made by the task functions called plainly (``.fn``), as tests should."""
    from prefect.logging import disable_run_logger

    from flows import tasks

    run_dir = str(tmp_path_factory.mktemp("run"))
    c = small_config
    with disable_run_logger():  # tasks may log with get_run_logger(); .fn has no run context
        problems = tasks.prepare_task.fn(c.base, c.prepare, c.augment, run_dir)
        samples = tasks.generate_task.fn(problems, c.base, c.generate, run_dir)
        names = tasks.verifier_names(problems)
        chunk = tasks.verify_chunk_task.fn(problems, samples, ["HumanEval/0", "HumanEval/1", "HumanEval/2",
                                                              "HumanEval/3"], names, c.verify, run_dir)
        verdicts = tasks.merge_verdicts_task.fn([chunk], run_dir, c.generate.n_samples)
        params_ref = tasks.write_run_params(run_dir, load_raw(ROOT / "params.yaml", SMALL))
        analysis = tasks.analyze_task.fn(verdicts, samples, params_ref, run_dir)
        tasks.report_task.fn(analysis, run_dir)
    return Path(run_dir)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
