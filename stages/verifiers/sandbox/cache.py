"""Content-addressed verdict cache: identical runs execute once, across runs.

Real LLM sample pools repeat themselves (the same completion many times at low temperature, the
same program up to formatting at any temperature), so a verdict is keyed by what decides it: the
program normalized to its AST (comments, blank lines and formatting do not matter), the suite's
content hash, the timeout policy, the resource limits and the sandbox level -- and by the code
that decides a verdict (:data:`CODE_VERSION`, a hash of the sandbox package's and the code
verifiers' source files, read at import): change ``verdicts.py`` or ``codec.py`` and every key
changes, so a re-run never returns a verdict the new code would not give. One JSON file per key
under ``.cache/verdicts/ab/abcd...json``, written atomically; delete the folder to reset.
Runs that lost their worker are never cached (they say nothing about the program).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2
DEFAULT_DIR = Path(".cache/verdicts")
_HERE = Path(__file__).resolve().parent


def verdict_modules() -> list[Path]:
    """The source files whose code decides a verdict: every module of this package (codec,
    verdicts, the fork server, worker, executor, limits, calibration), the executor protocol
    and the code verifiers that build the suites."""
    return sorted(_HERE.glob("*.py")) + [_HERE.parent / "base.py", _HERE.parent / "code_tests.py"]


def code_version(paths: list[Path]) -> str:
    """sha256 over the files' names and bytes (a missing file counts as empty)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


CODE_VERSION = code_version(verdict_modules())  # part of every key (see module doc)


def tree_hash(tree: ast.AST) -> str:
    """sha256 of an AST dump: equal for programs that differ only in comments and layout."""
    return hashlib.sha256(ast.dump(tree).encode("utf-8", "surrogatepass")).hexdigest()


def normalized_code_hash(program: str) -> str | None:
    """:func:`tree_hash` of the program; None when it does not parse (decided elsewhere)."""
    try:
        return tree_hash(ast.parse(program))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def cache_key(code_hash: str, suite_hash: str, policy: str, version: str | None = None) -> str:
    """Key of one verdict; ``version`` (None: :data:`CODE_VERSION` as it is now) is the hash of
    the code that decides it."""
    text = "\0".join((f"v{CACHE_FORMAT}", version or CODE_VERSION, code_hash, suite_hash, policy))
    return hashlib.sha256(text.encode()).hexdigest()


class VerdictCache:
    """A directory of verdict records keyed by :func:`cache_key`."""

    def __init__(self, root: Path = DEFAULT_DIR) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
