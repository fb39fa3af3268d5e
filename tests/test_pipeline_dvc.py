"""End to end through DVC on a small configuration, in a throw-away copy of the project.

Checks the reproducibility promises: `dvc repro` runs everything, a second `dvc repro` does
nothing, changing `generate.n_samples` re-runs from generate (not prepare), and two fresh runs
with the same seed give byte-identical samples, verdicts and metrics.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _project_copy(dest: Path, limit: int, n: int) -> Path:
    dest.mkdir(parents=True)
    for name in ("stages", "flows"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", dest / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["prepare"]["limit"] = limit
    params["generate"]["n_samples"] = n
    params.setdefault("track", {})
    if "track" in params and isinstance(params["track"], dict) and "mlflow" in params["track"]:
        params["track"]["mlflow"] = False
    elif not params["track"]:
        del params["track"]
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = _env(dest)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True, env=env)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=dest, check=True, env=env)
    return dest


def _env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["INFSCALE_PROGRESS"] = "0"
    env.setdefault("GIT_AUTHOR_NAME", "t")
    env.setdefault("GIT_AUTHOR_EMAIL", "t@t")
    return env


def _dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=_env(cwd),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OUTPUTS = ("data/samples.parquet", "data/verdicts.parquet", "data/synthetic_truth.parquet",
           "metrics/metrics.json", "metrics/curve.csv")


def test_repro_is_reproducible_and_incremental(tmp_path: Path) -> None:
    a = _project_copy(tmp_path / "a", limit=6, n=4)
    out = _dvc(a, "repro")
    for stage in ("prepare", "generate", "verify", "analyze", "report"):
        assert f"Running stage '{stage}'" in out
    assert "Data and pipelines are up to date" in _dvc(a, "repro")

    b = _project_copy(tmp_path / "b", limit=6, n=4)
    _dvc(b, "repro")
    for rel in OUTPUTS:
        assert _digest(a / rel) == _digest(b / rel), f"{rel} differs between two fresh runs"

    params = yaml.safe_load((a / "params.yaml").read_text())
    params["generate"]["n_samples"] = 5
    (a / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = _dvc(a, "repro")
    assert "Running stage 'prepare'" not in out
    assert "Running stage 'generate'" in out
    metrics = _dvc(a, "metrics", "show", "--json")
    assert '"pass@1"' in metrics
