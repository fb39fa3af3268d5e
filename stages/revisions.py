"""Git revisions, the one place infscale asks git: which commit a run came from.

MLflow tags (``flows/tracking.py``), ``infscale reproduce`` and a dataset read at
``base.dataset_rev`` (:mod:`stages.datasets.provenance`) all name commits; one helper keeps them
answering the same way (a full sha, or nothing outside a git checkout).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=False)


def resolve(rev: str, repo: Path) -> str | None:
    """The full commit sha ``rev`` (a tag, branch or sha) names in ``repo``; None if none."""
    try:
        done = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or not a checkout (an installed package)
    return done.stdout.strip() if done.returncode == 0 else None


def head(repo: Path) -> tuple[str | None, bool]:
    """(HEAD's commit or None, whether tracked files have uncommitted changes)."""
    commit = resolve("HEAD", repo)
    if commit is None:
        return None, False
    try:
        status = _git(repo, "status", "--porcelain", "--untracked-files=no").stdout
    except (OSError, subprocess.SubprocessError):
        return commit, False
    return commit, bool(status.strip())
