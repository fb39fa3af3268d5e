"""A flow reads its dataset through DVC, at a pinned git revision when ``base.dataset_rev`` says
so, and its MLflow tags name the DVC md5 and the commit of the bytes it read (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from stages.datasets import custom
from stages.datasets.mirror import DatasetUnavailable
from stages.datasets.provenance import PROVENANCE, dataset_tags, dir_md5, materialize

NAME = "datasets/bench.jsonl"
V1 = {"id": "m/1", "kind": "math", "prompt": "1 + 1 = ?", "answer": 2}
V2 = {"id": "m/1", "kind": "math", "prompt": "2 + 2 = ?", "answer": 4}
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "DVC_NO_ANALYTICS": "1"}


def _run(repo: Path, *cmd: str) -> str:
    return subprocess.run(cmd, cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout.strip()


def _version(repo: Path, row: dict, tag: str) -> str:
    (repo / NAME).write_text(json.dumps(row) + "\n", encoding="utf-8")
    _run(repo, "dvc", "add", NAME)
    _run(repo, "git", "add", f"{NAME}.dvc", "datasets/.gitignore")
    _run(repo, "git", "commit", "-qm", tag)
    _run(repo, "git", "tag", tag)
    return _run(repo, "git", "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "project"
    (repo / "datasets").mkdir(parents=True)
    _run(repo, "git", "init", "-q")
    _run(repo, "dvc", "init", "-q")
    _run(repo, "git", "commit", "-qm", "dvc init")
    return repo, _version(repo, V1, "v1"), _version(repo, V2, "v2")


def test_a_pinned_revision_gives_that_revisions_bytes(repo, tmp_path: Path) -> None:
    """The work tree holds v2; a flow pinned to v1 reads v1 (from the DVC cache), records v1's
    commit and the DVC md5 of what it read, and the MLflow tags carry both."""
    project, v1, v2 = repo
    run = tmp_path / "run"
    record = materialize(NAME, run / "data/dataset", "v1", repo=project)
    problems = custom.load(NAME, run / "data/dataset")
    assert problems["prompt"].to_list() == ["1 + 1 = ?"] and record["commit"] == v1 != v2
    assert record["dvc_md5"] == dir_md5(run / "data/dataset") and record["dvc_md5"].endswith(".dir")
    assert json.loads((run / PROVENANCE).read_text()) == record
    tags = dataset_tags(run)
    assert (tags["infscale.dataset.commit"], tags["infscale.dataset.rev"]) == (v1, "v1")
    assert tags["infscale.dataset.dvc_md5"] == record["dvc_md5"]
    newer = materialize(NAME, tmp_path / "run2/data/dataset", "v2", repo=project)
    assert newer["dvc_md5"] != record["dvc_md5"]
    assert custom.load(NAME, tmp_path / "run2/data/dataset")["prompt"].to_list() == ["2 + 2 = ?"]


def test_an_unknown_revision_or_untracked_dataset_is_one_clear_line(repo, tmp_path: Path) -> None:
    project, _, _ = repo
    with pytest.raises(DatasetUnavailable, match="'nope' is not a git revision"):
        materialize(NAME, tmp_path / "a", "nope", repo=project)
    with pytest.raises(DatasetUnavailable, match="datasets/other.jsonl is not tracked by DVC at v1"):
        materialize("datasets/other.jsonl", tmp_path / "b", "v1", repo=project)


def test_the_dvc_md5_of_a_flows_copy_equals_the_fetch_stages(tmp_path: Path) -> None:
    """Unpinned, a flow fetches as the fetch stage does (HumanEval from the installed package),
    and the md5 it records is the one DVC computes for the same directory."""
    record = materialize("humaneval", tmp_path / "data/dataset", "")
    assert (tmp_path / "data/dataset/humaneval/HumanEval.jsonl.gz").is_file() and record["rev"] == ""
    lock = Path(__file__).resolve().parents[2] / "dvc.lock"
    import yaml

    outs = yaml.safe_load(lock.read_text())["stages"]["fetch"]["outs"]
    assert record["dvc_md5"] == next(o["md5"] for o in outs if o["path"] == "data/dataset")
