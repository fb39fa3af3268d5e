"""MBPP+ pre-release 767efcc (EvalPlus; Liu et al. 2023).

The registry's entry; the loader is :mod:`stages.datasets.evalplus`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.datasets import evalplus

PINS = evalplus.PINS["mbppplus"]


def load(root: Path | None = None, limit: int | None = None) -> pl.DataFrame:
    return evalplus.load("mbppplus", root, limit)
