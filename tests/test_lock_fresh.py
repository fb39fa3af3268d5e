"""The committed dvc.lock matches the code and params: else a fresh clone's `make run` re-runs
stages and rewrites dvc.lock (a dirty `git status`). Checks only what git holds (code deps,
params), never data outputs, so it is the same on a fresh clone and on a worked-in tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stale_deps(root: Path) -> list[str]:
    """``stage: path (status)`` for each dependency that is not a stage's output (code, params)
    and whose content differs from what dvc.lock records; DVC computes the hashes (.dvcignore
    respected), without taking the repository lock, so a concurrent `dvc repro` cannot flake it."""
    from dvc.repo import Repo

    stale = []
    with Repo(str(root)) as repo:
        stages = list(repo.index.stages)
        produced = {str(o.def_path) for s in stages for o in s.outs}
        for stage in stages:
            if not getattr(stage, "cmd", None):
                continue  # a .dvc data source (dvc add / import-url): no code to go stale
            for dep in stage.deps:
                if str(dep.def_path) in produced:
                    continue
                for path, why in dep.status().items():
                    stale.append(f"{stage.name}: {path} ({why})")
    return stale


def test_committed_lock_matches_the_code() -> None:
    stale = stale_deps(ROOT)
    assert not stale, ("dvc.lock is stale (run `dvc repro` and commit dvc.lock): " + "; ".join(stale))


def test_the_check_sees_a_changed_code_file(tmp_path: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    run = lambda *a: subprocess.run(a, cwd=tmp_path, env=env, check=True, capture_output=True)
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: cp code.py out.txt\n    deps: [code.py]\n    params: [a]\n    outs: [out.txt]\n")
    run(sys.executable, "-m", "dvc", "repro", "-q")
    assert stale_deps(tmp_path) == []
    (tmp_path / "out.txt").unlink()  # a missing output is not staleness of the lock
    assert stale_deps(tmp_path) == []
    (tmp_path / "code.py").write_text("x = 2\n")
    (tmp_path / "params.yaml").write_text("a: 2\n")
    assert stale_deps(tmp_path) == ["s: code.py (modified)", "s: params.yaml ({'a': 'modified'})"]
