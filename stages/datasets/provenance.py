"""Which dataset bytes a run read: the DVC md5 of ``data/dataset`` and its content hash.

For MLflow tags (``flows/tracking.py``) and ``infscale reproduce``; and :func:`open_dataset`, the
tracked file at any git revision through ``dvc.api`` (what a flow or a nightly pinned to a
dataset revision reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import yaml

from stages.datasets import custom
from stages.datasets.mirror import DATASET_DIR, find, sha256_file

FETCH_STAGE = "fetch"


def dataset_hash(name: str, project: Path) -> str:
    """The ``dataset_hash`` the problems table gets from the project's tracked copy.

    The same value as ``load_dataset(name, root=...)["dataset_hash"]`` without building the
    problems (EvalPlus's expected outputs would run the reference solutions).
    """
    root = project / DATASET_DIR
    if custom.is_custom(name):
        return sha256_file(custom.fetched_path(name, root))
    from stages.datasets import evalplus
    from stages.datasets.fetch import pins

    path, pin = find(pins(name), root)
    if name in evalplus.PINS:
        return evalplus.read_records(path)[1]  # sha256 of the uncompressed records
    return pin.sha256


def lock_md5(project: Path, stage: str = FETCH_STAGE, out: str = str(DATASET_DIR)) -> str:
    """The md5 ``dvc.lock`` records for ``out`` of ``stage`` ("" when not locked yet)."""
    lock = project / "dvc.lock"
    if not lock.is_file():
        return ""
    entry = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {}).get(stage, {})
    return next((o.get("md5", "") for o in entry.get("outs", []) if o.get("path") == out), "")


def dataset_tags(project: Path) -> dict[str, str]:
    """MLflow tags naming the dataset bytes of a run: the DVC md5 of ``data/dataset`` (as
    ``dvc.lock`` records it; ``dvc pull``/``dvc checkout`` restore exactly these bytes) and the
    file(s) in it. The git commit and the content hash are ``infscale.git_commit`` and
    ``infscale.dataset_hash`` already."""
    root = project / DATASET_DIR
    files = sorted(p.relative_to(project).as_posix() for p in root.rglob("*") if p.is_file()) \
        if root.is_dir() else []
    return {"infscale.dataset.dvc_md5": lock_md5(project), "infscale.dataset.path": ",".join(files)}


def open_dataset(relpath: str, rev: str | None = None, repo: str | Path = ".", mode: str = "rb") -> IO[Any]:
    """The tracked file ``data/dataset/<relpath>`` as of git revision ``rev`` (None: the work
    tree), from the DVC cache or remote: ``dvc.api.open`` over the fetch stage's output."""
    import dvc.api

    return dvc.api.open(f"{DATASET_DIR.as_posix()}/{relpath}", repo=str(repo), rev=rev, mode=mode)
