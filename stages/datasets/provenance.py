"""Which dataset bytes a run read: the DVC md5 of ``data/dataset`` and its content hash.

For MLflow tags (``flows/tracking.py``) and ``infscale reproduce``; :func:`open_dataset`, the
tracked file at any git revision through ``dvc.api``; and :func:`materialize`, how a Prefect
flow gets its dataset: the fetch stage's own bytes (no revision), or, with ``base.dataset_rev``,
the DVC-tracked bytes as of that git revision (a nightly pinned to a dataset version), read
through DVC's filesystem from the cache or the remote. Either way the run directory records
the DVC md5 of what it read and the commit it came from (``data/dataset_provenance.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import IO, Any

import yaml

from stages import revisions
from stages.datasets import custom
from stages.datasets.mirror import DATASET_DIR, PROJECT_ROOT, DatasetUnavailable, find, sha256_file

FETCH_STAGE = "fetch"
PROVENANCE = Path("data/dataset_provenance.json")  # in a flow's run directory


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
    ``dvc.lock`` records it, or a flow's ``data/dataset_provenance.json``; ``dvc pull``/``dvc
    checkout`` restore exactly these bytes), the file(s) in it and the git commit they came from
    (a flow pinned by ``base.dataset_rev``: that revision's). The content hash is
    ``infscale.dataset_hash`` already."""
    root = project / DATASET_DIR
    files = sorted(p.relative_to(project).as_posix() for p in root.rglob("*") if p.is_file()) \
        if root.is_dir() else []
    tags = {"infscale.dataset.dvc_md5": lock_md5(project), "infscale.dataset.path": ",".join(files)}
    record = project / PROVENANCE
    if record.is_file():
        got = json.loads(record.read_text(encoding="utf-8"))
        tags.update({"infscale.dataset.dvc_md5": got["dvc_md5"], "infscale.dataset.rev": got["rev"],
                     "infscale.dataset.commit": got["commit"]})
    return tags


def dir_md5(path: Path) -> str:
    """The md5 DVC gives directory ``path`` (``<md5>.dir``, as ``dvc.lock`` records an output):
    computed with DVC's own hashing, so a flow's copy and the fetch stage's output compare."""
    import tempfile

    from dvc.fs import LocalFileSystem
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as tmp:
        _, _, obj = build(HashFileDB(fs, tmp), str(path), fs, "md5")
    return str(obj.hash_info.value)


def materialize(name: str, out: Path, rev: str = "", repo: Path = PROJECT_ROOT) -> dict[str, str]:
    """Put the bytes of dataset ``name`` under ``out`` (laid out as the fetch stage's
    ``data/dataset``) and return their provenance, also written next to ``out``.

    No ``rev``: the fetch stage's own function (pinned bytes from the package, the mirror or the
    URL). With ``rev``: what DVC tracked at that git revision, through ``DVCFileSystem`` (cache,
    else the remote): a custom file by its own ``.dvc`` file (``dvc add datasets/x.jsonl``), a
    built-in by that revision's fetch-stage output in ``dvc.lock``. Built-ins are then still
    checked against their pins; a custom file is whatever that revision holds.
    """
    from stages.datasets.fetch import fetch

    if not rev:
        fetch(name, out)
        commit = revisions.head(repo)[0] or ""  # "" outside a git checkout: no commit to name
    else:
        from dvc.api import DVCFileSystem

        found = revisions.resolve(rev, repo)
        if found is None:
            raise DatasetUnavailable(f"base.dataset_rev: '{rev}' is not a git revision of {repo}")
        commit = found
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        fs = DVCFileSystem(str(repo), rev=commit)
        src = PurePosixPath(name).as_posix() if custom.is_custom(name) else DATASET_DIR.as_posix()
        if not fs.exists(src):
            raise DatasetUnavailable(f"base.dataset_rev: {src} is not tracked by DVC at {rev} ({commit[:12]})")
        try:
            if custom.is_custom(name):
                dest = custom.fetched_path(name, out)
                dest.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(src, str(dest))
            else:
                fs.get(src, str(out), recursive=True)
        except Exception as exc:  # noqa: BLE001 - DVC raises many kinds; all mean "not fetched"
            raise DatasetUnavailable(f"base.dataset_rev: {src} at {rev} ({commit[:12]}) is in neither "
                                     f"the DVC cache nor the remote (`dvc fetch --rev {rev}`): {exc}") from None
    record = {"dataset": name, "rev": rev, "commit": commit, "dvc_md5": dir_md5(out)}
    (out.parent / PROVENANCE.name).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def open_dataset(relpath: str, rev: str | None = None, repo: str | Path = ".", mode: str = "rb") -> IO[Any]:
    """The tracked file ``data/dataset/<relpath>`` as of git revision ``rev`` (None: the work
    tree), from the DVC cache or remote: ``dvc.api.open`` over the fetch stage's output."""
    import dvc.api

    return dvc.api.open(f"{DATASET_DIR.as_posix()}/{relpath}", repo=str(repo), rev=rev, mode=mode)
