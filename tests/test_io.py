"""Atomic writes keep the user's umask (mkstemp alone makes every output 0600; issue 17)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest

from stages.io import write_json, write_table


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_get_the_mode_open_would_give(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_json({"a": 1}, tmp_path / "m.json")
        write_table(pl.DataFrame({"x": [1]}), tmp_path / "t.parquet", {"x": pl.Int64()}, "t")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert want == 0o666 & ~umask
    for name in ("m.json", "t.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert not list(tmp_path.glob(".*.tmp"))
