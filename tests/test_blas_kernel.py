"""Importing ``stages`` first pins OpenBLAS's kernels, so dvc.lock's hashes do not depend on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import stages

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import {first}, json, numpy, threadpoolctl; "
         "print(json.dumps([i.get('architecture') for i in threadpoolctl.threadpool_info() "
         "if i.get('internal_api') == 'openblas']))")


def _kernels(first: str, **env: str) -> list[str]:
    unset = ("OPENBLAS_CORETYPE", "INFSCALE_BLAS_KERNEL")
    clean = {k: v for k, v in os.environ.items() if k not in unset} | env
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], cwd=ROOT, env=clean,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not stages.runs_haswell_kernels(), reason="pins only on x86-64 CPUs with AVX2 and FMA")
@pytest.mark.parametrize("first", ["stages", "flows"])
def test_a_stage_or_flow_process_runs_openblas_haswell_kernels(first: str) -> None:
    assert _kernels(first) == ["Haswell"]


def test_a_kernel_the_user_chose_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    assert stages.pin_blas_kernel() is None
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge"


def test_native_kernels_on_request(monkeypatch) -> None:
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setenv("INFSCALE_BLAS_KERNEL", "native")
    assert stages.pin_blas_kernel() is None
    assert "OPENBLAS_CORETYPE" not in os.environ
