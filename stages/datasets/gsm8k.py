"""GSM8K test split (Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems").

1,319 grade-school word problems. Gold is the number after ``#### `` on the solution's last
line, stored with its thousands separators removed (``2,125`` -> ``2125``); the whole solution
is kept as ``reference``. The file is pinned by sha256; the fetch stage copies it from a mirror
or downloads it from the canonical repository into the DVC-tracked ``data/dataset``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from stages.datasets.math_prompts import math_problems_frame, render_prompt
from stages.datasets.mirror import PinnedFile, find

PIN = PinnedFile(
    relpath="gsm8k/test.jsonl",
    sha256="3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
    url="https://raw.githubusercontent.com/openai/grade-school-math/master/"
    "grade_school_math/data/test.jsonl",
)
PINS = (PIN,)


def gold_answer(solution: str, where: str) -> str:
    """The number after the last ``####`` marker, without thousands separators."""
    if "####" not in solution:
        raise ValueError(f"{where}: GSM8K solution has no '#### <answer>' line")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def problems_from_records(records: list[dict], digest: str, shots: int = 0) -> pl.DataFrame:
    rows = [
        {
            "problem_id": f"gsm8k/test/{i}",
            "dataset": "gsm8k",
            "kind": "math",
            "prompt": render_prompt("gsm8k", r["question"], shots),
            "reference": r["answer"],
            "answer": gold_answer(r["answer"], f"{PIN.relpath} line {i + 1}"),
            "dataset_hash": digest,
        }
        for i, r in enumerate(records)
    ]
    return math_problems_frame(rows)


def read_records(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path} line {lineno}: not JSON: {exc}") from None
    return records


def load(shots: int = 0, root: Path | None = None) -> pl.DataFrame:
    """The problems table; ``shots`` > 0 prepends that many chain-of-thought exemplars."""
    path, pin = find(PINS, root)
    return problems_from_records(read_records(path), pin.sha256, shots)
