"""Bring-your-own benchmark: the documented schema, and one clear line for each bad row."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from stages.datasets import custom, load_dataset, typed_json
from stages.datasets.custom import CustomDatasetError
from stages.schemas import PROBLEMS

CODE = {"id": "add/1", "kind": "code", "prompt": "def add(a, b):\n", "entry_point": "add",
        "program_prefix": "def add(a, b):\n", "reference": "    return a + b\n",
        "tests": [{"input": [1, 2], "output": 3}, {"input": [{"$tuple": [1]}, {"$tuple": [2]}],
                                                  "output": {"$tuple": [1, 2]}}]}
ASSERTS = {"id": "inc/1", "kind": "code", "prompt": "Write inc(x).", "entry_point": "inc",
           "reference": "def inc(x):\n    return x + 1\n",
           "test": "def check(candidate):\n    assert candidate(1) == 2\n"}
MATH = {"id": "m/1", "kind": "math", "prompt": "1 + 1 = ?", "answer": 2, "solution": "1+1=2"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_code_and_math_rows_become_problems(tmp_path: Path) -> None:
    path = _write(tmp_path / "datasets" / "mine.jsonl", [CODE, ASSERTS, MATH])
    df = load_dataset(str(path))
    assert df.schema == PROBLEMS and df["problem_id"].to_list() == ["add/1", "inc/1", "m/1"]
    assert set(df["dataset"]) == {"mine"} and df["dataset_hash"].n_unique() == 1
    add = df.row(0, named=True)
    assert typed_json.decode(add["inputs_weak"]) == [[1, 2], [(1,), (2,)]]
    assert json.loads(add["outputs_weak"]) == [3, {"$tuple": [1, 2]}]
    assert add["inputs_strong"] == "" and add["program_prefix"] == CODE["program_prefix"]
    assert df.row(1, named=True)["test"].startswith("def check(candidate)")
    math = df.row(2, named=True)
    assert (math["answer"], math["reference"], math["entry_point"]) == ("2", "1+1=2", "")


def test_parquet_reads_the_same(tmp_path: Path) -> None:
    rows = [{**ASSERTS, "tests": None}, {**MATH, "answer": "2"}]
    path = tmp_path / "mine.parquet"
    pl.DataFrame(rows).write_parquet(path)
    assert load_dataset(str(path))["problem_id"].to_list() == ["inc/1", "m/1"]


def test_the_tracked_copy_is_read_in_the_pipeline(tmp_path: Path) -> None:
    _write(tmp_path / "dataset" / "custom" / "mine.jsonl", [MATH])
    assert load_dataset("datasets/mine.jsonl", root=tmp_path / "dataset").height == 1


@pytest.mark.parametrize(("row", "field", "why"), [
    ({**MATH, "answer": ""}, "answer", "missing or empty"),
    ({**MATH, "kind": "prose"}, "kind", 'must be "code" or "math"'),
    ({k: v for k, v in CODE.items() if k != "entry_point"}, "entry_point", "missing"),
    ({**CODE, "tests": [{"input": 1, "output": 2}]}, r"tests\[0\].input", "list of arguments"),
    ({**CODE, "tests": [{"input": [1]}]}, r"tests\[0\]", "'input' and 'output'"),
    ({**CODE, "tests": None}, "test", "needs 'test' or 'tests'"),
    ({**CODE, "prompt": 3}, "prompt", "must be a string"),
    ({**CODE, "atol": -1}, "atol", ">= 0"),
])
def test_a_bad_row_names_file_row_and_field(tmp_path: Path, row: dict, field: str, why: str) -> None:
    path = _write(tmp_path / "mine.jsonl", [MATH | {"id": "ok"}, row])
    with pytest.raises(CustomDatasetError, match=rf"^{path} row 2, field '{field}': .*{why}") as info:
        load_dataset(str(path))
    assert "\n" not in str(info.value)


def test_repeated_ids_and_bad_json_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [MATH, MATH])
    with pytest.raises(CustomDatasetError, match=rf"{path} row 2, field 'id': 'm/1' repeats row 1"):
        load_dataset(str(path))
    path.write_text(json.dumps(MATH) + "\n{oops\n")
    with pytest.raises(CustomDatasetError, match=rf"{path} row 2: not valid JSON"):
        load_dataset(str(path))


def test_shots_are_refused_and_names_are_recognised() -> None:
    assert custom.is_custom("datasets/x.jsonl") and custom.is_custom("datasets/x.parquet")
    assert not custom.is_custom("humaneval")
    with pytest.raises(ValueError, match="custom dataset"):
        load_dataset("datasets/x.jsonl", shots=2)
