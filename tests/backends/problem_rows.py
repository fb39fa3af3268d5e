"""Tiny problem tables for backend tests, filled out to the declared PROBLEMS schema."""

from __future__ import annotations

import polars as pl

from stages.schemas import PROBLEMS


def as_problems(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every PROBLEMS column it lacks set to an empty value of the declared type."""
    fill = []
    for name, dtype in PROBLEMS.items():
        if name not in df.columns:
            value = 0.0 if dtype == pl.Float64 else ("" if dtype == pl.String else None)
            fill.append(pl.lit(value, dtype=dtype).alias(name))
    return df.with_columns(fill).select(list(PROBLEMS))
