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
    for name in ("stages", "flows", "datasets"):
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
    # The project's remote config: ../infscale-dvc-remote, shared by sibling copies (as clones).
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    return dest


def _env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["INFSCALE_PROGRESS"] = "0"
    env.setdefault("GIT_AUTHOR_NAME", "t")
    env.setdefault("GIT_AUTHOR_EMAIL", "t@t")
    return env


def _dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=_env(cwd), check=False,
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


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=_env(cwd), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _summary(cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "stages.cli", "summary"], cwd=cwd, env=_env(cwd), check=False,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_teammate_pulls_results_instead_of_recomputing(tmp_path: Path) -> None:
    """Clone A runs and pushes to the default remote; a fresh clone B of the same commit pulls,
    and then `dvc repro` is a no-op and `infscale summary` prints the same numbers."""
    a = _project_copy(tmp_path / "a", limit=4, n=4)
    _dvc(a, "repro")
    assert "pushed" in _dvc(a, "push")
    assert (tmp_path / "infscale-dvc-remote" / "files" / "md5").is_dir()  # ../infscale-dvc-remote
    _git(a, "add", "-A")
    _git(a, "commit", "-qm", "run")
    assert _git(a, "status", "--porcelain") == ""

    _git(tmp_path, "clone", "-q", str(a), "b")
    b = tmp_path / "b"
    assert not (b / "data" / "samples.parquet").exists()
    _dvc(b, "pull")
    out = _dvc(b, "repro")
    assert "Running stage" not in out and "Data and pipelines are up to date" in out
    for rel in ("data/dataset/humaneval/HumanEval.jsonl.gz", *OUTPUTS, "data/counts.parquet"):
        assert _digest(a / rel) == _digest(b / rel), rel
    assert _summary(a) == _summary(b) and "pass@1" in _summary(b)
    assert _git(b, "status", "--porcelain") == ""

    # A changed dataset shows in `dvc status`; `dvc checkout` brings the locked bytes back.
    tracked = b / "data/dataset/humaneval/HumanEval.jsonl.gz"
    tracked.chmod(0o644)
    tracked.write_bytes(b"changed")
    assert "fetch" in _dvc(b, "status") and "modified" in _dvc(b, "status")
    _dvc(b, "checkout", "--force")
    assert _digest(tracked) == _digest(a / "data/dataset/humaneval/HumanEval.jsonl.gz")


def test_bring_your_own_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    """A `dvc add`-ed JSONL file under datasets/ named by base.dataset runs through every stage."""
    a = _project_copy(tmp_path / "a", limit=4, n=4)
    rows = [
        {"id": "inc", "kind": "code", "prompt": "def inc(x):\n", "program_prefix": "def inc(x):\n",
         "entry_point": "inc", "reference": "    return x + 1\n",
         "tests": [{"input": [1], "output": 2}, {"input": [5], "output": 6}]},
        {"id": "dbl", "kind": "code", "prompt": "Write dbl(x).", "entry_point": "dbl",
         "reference": "def dbl(x):\n    return 2 * x\n",
         "test": "def check(candidate):\n    assert candidate(2) == 4\n"},
    ]
    import json

    (a / "datasets" / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _dvc(a, "add", "datasets/mine.jsonl")
    params = yaml.safe_load((a / "params.yaml").read_text())
    params["base"]["dataset"] = "datasets/mine.jsonl"
    (a / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = _dvc(a, "repro")
    assert "Running stage 'fetch'" in out and "Running stage 'analyze'" in out
    import polars as pl

    problems = pl.read_parquet(a / "data/problems.parquet")
    assert problems["problem_id"].to_list() == ["inc", "dbl"] and set(problems["dataset"]) == {"mine"}
    assert (a / "data/dataset/custom/mine.jsonl").read_bytes() == (a / "datasets/mine.jsonl").read_bytes()
    lock = yaml.safe_load((a / "dvc.lock").read_text())["stages"]["fetch"]
    assert lock["params"]["params.yaml"]["base.dataset"] == "datasets/mine.jsonl"
    # Editing the benchmark re-runs from fetch.
    (a / "datasets" / "mine.jsonl").write_text(json.dumps(rows[0]) + "\n")
    _dvc(a, "add", "datasets/mine.jsonl")
    assert "Running stage 'fetch'" in _dvc(a, "repro")
    assert pl.read_parquet(a / "data/problems.parquet")["problem_id"].to_list() == ["inc"]
