"""stages.revisions: the one git helper behind MLflow's commit tag and base.dataset_rev."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stages import revisions


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_tags_and_head_resolve_to_full_commits_and_edits_make_it_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    _git(tmp_path, "tag", "v1")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    assert revisions.resolve("v1", tmp_path) == sha and len(sha) == 40
    assert revisions.head(tmp_path) == (sha, False)
    (tmp_path / "a.txt").write_text("two\n")
    assert revisions.head(tmp_path) == (sha, True)


def test_unknown_revisions_and_non_checkouts_name_no_commit(tmp_path: Path) -> None:
    assert revisions.resolve("no-such-tag", tmp_path) is None
    assert revisions.head(tmp_path) == (None, False)
