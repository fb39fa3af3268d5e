"""Reading and writing of tables and metrics: the only filesystem code the stages use.

Writes are atomic (write to a temporary file, then rename), so a crash or a bad row never
leaves a half-written table in place of one that was already good. Outputs get the mode a plain
``open()`` would give (0666 minus the user's umask), not ``mkstemp``'s private 0600: a team
sharing a run directory or a filesystem must be able to read them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from stages.errors import InputError, MissingInputError
from stages.schemas import SchemaError, conform

__all__ = ["InputError", "MissingInputError", "read_json", "read_table", "write_json", "write_table"]


def read_table(path: str | Path, schema: dict[str, pl.DataType], table: str) -> pl.DataFrame:
    """Read a parquet table and conform it to its declared schema."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: input file not found (table '{table}'); run the stage that makes it")
    try:
        df = pl.read_parquet(path)
    except Exception as exc:  # polars raises several error types for a corrupt file
        raise InputError(f"{path}: not a readable parquet file: {exc}") from None
    try:
        return conform(df, schema, table)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None


def _umask() -> int:
    """The process umask. Linux shows it in /proc (thread-safe); elsewhere reading it means
    setting it and straight back, which briefly changes it for other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path) -> tuple[int, str]:
    """A temporary file next to ``path`` with the mode ``open()`` would give ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask
    return fd, tmp


def write_table(df: pl.DataFrame, path: str | Path, schema: dict[str, pl.DataType], table: str) -> None:
    """Conform ``df`` to its schema and write it atomically as parquet.

    Parquet is written without statistics timestamps and with a fixed compression so that two
    runs with the same seed give byte-identical files.
    """
    path = Path(path)
    out = conform(df, schema, table)
    fd, tmp = _atomic(path)
    os.close(fd)
    try:
        out.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(data: Any, path: str | Path) -> None:
    """Write JSON atomically, keys sorted, so metrics files diff cleanly."""
    path = Path(path)
    fd, tmp = _atomic(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: input file not found")
    return json.loads(path.read_text(encoding="utf-8"))
