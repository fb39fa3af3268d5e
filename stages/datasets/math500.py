"""MATH-500 (Lightman et al. 2023, "Let's Verify Step by Step"): the 500-problem test split of
PRM800K, drawn from MATH (Hendrycks et al. 2021).

The canonical file lives in github.com/openai/prm800k at ``prm800k/math_splits/test.jsonl``
and is stored there with Git LFS, so ``raw.githubusercontent.com`` serves only the LFS pointer;
the download URL is GitHub's media endpoint, which serves the LFS object itself. The bytes are
pinned by sha256 either way. ``problem_id`` is the dataset's ``unique_id``
(``test/precalculus/807.json``), stable across releases.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.datasets.gsm8k import read_records
from stages.datasets.math_prompts import math_problems_frame, render_prompt
from stages.datasets.mirror import PinnedFile, find

PIN = PinnedFile(
    relpath="math500/test.jsonl",
    sha256="35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
    url="https://media.githubusercontent.com/media/openai/prm800k/main/"
    "prm800k/math_splits/test.jsonl",
)
PINS = (PIN,)


def problems_from_records(records: list[dict], digest: str, shots: int = 0) -> pl.DataFrame:
    for i, r in enumerate(records):
        for key in ("problem", "solution", "answer", "unique_id"):
            if key not in r:
                raise ValueError(f"{PIN.relpath} line {i + 1}: record lacks key '{key}'")
    rows = [
        {
            "problem_id": r["unique_id"],
            "dataset": "math500",
            "kind": "math",
            "prompt": render_prompt("math500", r["problem"], shots),
            "reference": r["solution"],
            "answer": r["answer"],
            "dataset_hash": digest,
        }
        for r in records
    ]
    return math_problems_frame(rows)


def load(shots: int = 0, root: Path | None = None) -> pl.DataFrame:
    """The problems table; ``shots`` > 0 prepends that many Minerva exemplars."""
    path, pin = find(PINS, root)
    return problems_from_records(read_records(path), pin.sha256, shots)
