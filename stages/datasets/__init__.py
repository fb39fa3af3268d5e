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


FEW_SHOT = ("gsm8k", "math500")  # datasets whose prompt template takes published exemplars


def load_dataset(name: str, shots: int = 0) -> pl.DataFrame:
    """The problems of dataset ``name``; ``shots`` > 0 prepends that many exemplars (math only)."""
    try:
        module = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown dataset '{name}' (known: {known})") from None
    if shots and name not in FEW_SHOT:
        raise ValueError(f"prepare.shots: {name} has no few-shot prompt (only {', '.join(FEW_SHOT)}); use 0")
    loader = importlib.import_module(module).load
    return loader(shots) if shots else loader()
