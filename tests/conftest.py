"""Test-wide settings: the quiet offline environment from the brief, and shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

import stages  # noqa: F401  (before numpy loads: the tests' own process runs the OpenBLAS kernels the stages pin)

ROOT = Path(__file__).resolve().parents[1]

for _key, _value in {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_HOME": str(ROOT / ".prefect"),
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "INFSCALE_PROGRESS": "0",
}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def humaneval() -> pl.DataFrame:
    from stages.datasets import load_dataset

    return load_dataset("humaneval")


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline dataset mirror; tests that need it skip, with a reason, when it is absent."""
    from stages.datasets.mirror import mirror_dir as configured

    found = configured()
    if found is None or not found.is_dir():
        pytest.skip("no dataset mirror: set INFSCALE_DATA_MIRROR (CI uses ../shared/data)")
    return found
