"""HumanEval+ v0.1.10 (EvalPlus; Liu et al. 2023).

The registry's entry; the loader is :mod:`stages.datasets.evalplus`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.datasets import evalplus

PINS = evalplus.PINS["humanevalplus"]


def load(root: Path | None = None, limit: int | None = None) -> pl.DataFrame:
    return evalplus.load("humanevalplus", root, limit)
