"""Datasets: each module turns one benchmark into the problems table (``schemas.PROBLEMS``).

Loaders are imported lazily by name so that a dataset's parsing code loads only when chosen.
``base.dataset`` is a built-in name or a ``.jsonl``/``.parquet`` file (:mod:`.custom`). The
pipeline passes ``root=data/dataset`` (the DVC-tracked copy the ``fetch`` stage makes);
tests and benchmarks call without a root and read the files in place (:mod:`.mirror`).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

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


def load_dataset(
    name: str, shots: int = 0, root: Path | None = None, limit: int | None = None
) -> pl.DataFrame:
    """The problems of dataset ``name``; ``shots`` > 0 prepends that many exemplars (math only).

    ``root``: the directory of the DVC-tracked copy (``mirror.DATASET_DIR`` in the pipeline);
    None reads the file in place (the installed package, ``INFSCALE_DATA_MIRROR``, the path).
    ``limit``: the first N problems; a loader with per-problem work (EvalPlus: the reference's
    expected outputs) takes it and cuts before that work, the others are cut after loading."""
    from stages.datasets import custom

    if custom.is_custom(name):
        if shots:
            raise ValueError(f"prepare.shots: {name} is a custom dataset (no few-shot prompt); use 0")
        return custom.load(name, root)
    try:
        module = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown dataset '{name}' (known: {known}, or a .jsonl/.parquet file)") from None
    if shots and name not in FEW_SHOT:
        raise ValueError(f"prepare.shots: {name} has no few-shot prompt (only {', '.join(FEW_SHOT)}); use 0")
    loader = importlib.import_module(module).load
    early = {"limit": limit} if limit and "limit" in inspect.signature(loader).parameters else {}
    frame = loader(shots, root=root, **early) if shots else loader(root=root, **early)
    return frame.head(limit) if limit else frame
