"""Datasets: each module turns one benchmark into the problems table (``schemas.PROBLEMS``).

Loaders are imported lazily by name so that a dataset's parsing code loads only when chosen.
"""

from __future__ import annotations

import importlib

import polars as pl

# name -> module with a ``load() -> pl.DataFrame`` function.
REGISTRY: dict[str, str] = {
    "humaneval": "stages.datasets.humaneval",
    "humanevalplus": "stages.datasets.humanevalplus",
    "mbppplus": "stages.datasets.mbppplus",
    "gsm8k": "stages.datasets.gsm8k",
    "math500": "stages.datasets.math500",
}


def load_dataset(name: str) -> pl.DataFrame:
    try:
        module = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown dataset '{name}' (known: {known})") from None
    return importlib.import_module(module).load()
