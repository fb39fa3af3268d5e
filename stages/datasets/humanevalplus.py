"""HumanEval+ v0.1.10 (EvalPlus; Liu et al. 2023).

The registry's entry; the loader is :mod:`stages.datasets.evalplus`.
"""

from __future__ import annotations

import polars as pl

from stages.datasets import evalplus


def load() -> pl.DataFrame:
    return evalplus.load("humanevalplus")
