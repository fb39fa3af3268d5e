"""Dataset acquisition pinned by sha256: a local mirror first, then the canonical URL.

Order of lookup for a file ``relpath`` with a pinned ``sha256``:
1. ``$INFSCALE_DATA_MIRROR/<relpath>`` (a directory holding the publishers' exact bytes);
2. ``../shared/data/<relpath>`` next to the project, when such a sibling mirror exists
   (a convenience for offline machines; never required);
3. the download cache ``.cache/datasets/<sha256>``;
4. the canonical URL, downloaded once into that cache.
Every candidate is checked against the pinned hash; a mismatch is an error naming the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = PROJECT_ROOT / ".cache" / "datasets"


class DatasetUnavailable(FileNotFoundError):
    """No mirror holds the file and the canonical URL cannot be reached."""


@dataclass(frozen=True)
class PinnedFile:
    relpath: str  # path inside a mirror directory, e.g. "gsm8k/test.jsonl"
    sha256: str
    url: str  # canonical source


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (datasets, replay files, flow tables)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mirror_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("INFSCALE_DATA_MIRROR")
    if env:
        dirs.append(Path(env))
    sibling = PROJECT_ROOT.parent / "shared" / "data"
    if sibling.is_dir():
        dirs.append(sibling)
    return dirs


def _checked(path: Path, pin: PinnedFile) -> Path:
    got = sha256_file(path)
    if got != pin.sha256:
        raise DatasetUnavailable(
            f"{path}: sha256 {got} does not match the pinned {pin.sha256} for {pin.relpath}"
        )
    return path


def locate(pin: PinnedFile, *, download: bool = True) -> Path:
    """Return a local path holding exactly the pinned bytes of ``pin``."""
    for d in mirror_dirs():
        candidate = d / pin.relpath
        if candidate.is_file():
            return _checked(candidate, pin)
    cached = CACHE_DIR / pin.sha256
    if cached.is_file():
        return _checked(cached, pin)
    if not download:
        raise DatasetUnavailable(f"{pin.relpath}: not in any mirror and downloads are off")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE_DIR, suffix=".part")
    os.close(fd)
    try:
        with urllib.request.urlopen(pin.url, timeout=60) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out)
        _checked(Path(tmp), pin)
        os.replace(tmp, cached)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"{pin.relpath}: not found in a mirror (set INFSCALE_DATA_MIRROR to a directory "
            f"holding it) and download from {pin.url} failed: {exc}"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return cached
