"""Replay of recorded samples in the EvalPlus samples format (JSONL and parquet)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.backends import get_backend
from stages.backends.replay import ReplayError
from stages.params import GenerateParams


@pytest.fixture
def problems(humaneval: pl.DataFrame) -> pl.DataFrame:
    return humaneval.head(3)


def replay(path: Path, problems: pl.DataFrame, n: int, **settings: object) -> pl.DataFrame:
    p = GenerateParams(
        backend="replay", model="paper-model", replay={"path": str(path), **settings}
    )
    return pl.concat(list(get_backend("replay", p).generate(problems, n, 0))).sort(
        "problem_id", "sample_idx"
    )


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evalplus_per_sample_file_replays_into_the_expected_samples(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    rows = []
    for pid, prompt, ref in problems.select("problem_id", "prompt", "reference").iter_rows():
        rows.append(
            {"task_id": pid, "solution": prompt + ref}
        )  # whole program starting with the prompt
        rows.append({"task_id": pid, "solution": prompt + "    pass\n"})
    df = replay(write_jsonl(tmp_path / "samples.jsonl", rows), problems, 2)
    assert df.height == 6 and df["error"].null_count() == 6
    programs = df.join(problems, on="problem_id").select(
        pl.col("program_prefix") + pl.col("completion")
    )
    assert programs.to_series().to_list() == [
        r["solution"] for r in sorted(rows, key=lambda r: r["task_id"])
    ]
    first = df.filter(pl.col("sample_idx") == 0).join(problems, on="problem_id")
    assert (first["completion"] == first["reference"]).all()
    assert set(df["backend"]) == {"replay"} and set(df["model"]) == {"paper-model"}
    assert set(df["finish_reason"]) == {"replay"} and df["seed"].is_null().all()


def test_completion_field_is_stored_as_is_and_first_n_are_taken(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    rows = [
        {"task_id": pid, "completion": f"    return {i}\n"}
        for pid in problems["problem_id"]
        for i in range(5)
    ]
    df = replay(write_jsonl(tmp_path / "s.jsonl", rows), problems, 3)
    assert df.height == 9
    assert df.filter(pl.col("problem_id") == "HumanEval/1")["completion"].to_list() == [
        "    return 0\n",
        "    return 1\n",
        "    return 2\n",
    ]


def test_a_solution_that_does_not_start_with_the_prompt_follows_it(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    pid = problems["problem_id"][0]
    rows = [
        {"task_id": p, "solution": "def other():\n    return 1\n"} for p in problems["problem_id"]
    ]
    df = replay(write_jsonl(tmp_path / "s.jsonl", rows), problems, 1)
    assert (
        df.filter(pl.col("problem_id") == pid)["completion"][0] == "\ndef other():\n    return 1\n"
    )


def test_per_problem_lists_in_parquet(tmp_path: Path, problems: pl.DataFrame) -> None:
    ids = problems["problem_id"].to_list()
    path = tmp_path / "s.parquet"
    pl.DataFrame(
        {"task_id": ids, "completions": [[f"    return {i}\n" for i in range(4)]] * 3}
    ).write_parquet(path)
    df = replay(path, problems, 4)
    assert df.height == 12 and df["completion"][3] == "    return 3\n"


def test_per_problem_lists_in_gzipped_jsonl(tmp_path: Path, problems: pl.DataFrame) -> None:
    rows = [
        {"task_id": pid, "solutions": [p + "    return 1\n"] * 2}
        for pid, p in problems.select("problem_id", "prompt").iter_rows()
    ]
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    df = replay(path, problems, 2)
    assert set(df["completion"]) == {"    return 1\n"}


def test_non_utf8_bytes_become_replacement_characters(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    good = b'{"task_id": "%s", "completion": "    return 1\\n"}\n'
    lines = [good % pid.encode() for pid in problems["problem_id"]]
    lines[1] = b'{"task_id": "HumanEval/1", "completion": "    return \xff\xfe 1\\n"}\n'
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(lines))
    df = replay(path, problems, 1)
    assert (
        df.filter(pl.col("problem_id") == "HumanEval/1")["completion"][0]
        == "    return \ufffd\ufffd 1\n"
    )
    assert df["error"].null_count() == 3

    pq_path = tmp_path / "bad.parquet"
    texts = pa.array([b"    return 1\n", b"    return \xc3\x28\n", b"    return 2\n"], pa.binary())
    pq.write_table(
        pa.table(
            {"task_id": problems["problem_id"].to_list(), "completion": texts.view(pa.string())}
        ),
        pq_path,
    )
    df = replay(pq_path, problems, 1)
    assert df["completion"][1] == "    return \ufffd(\n"


def test_unknown_task_id_is_an_error_naming_file_and_row(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    rows = [{"task_id": pid, "completion": "x"} for pid in problems["problem_id"]]
    rows.insert(2, {"task_id": "HumanEval/999", "completion": "x"})
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    with pytest.raises(ReplayError, match=r"s\.jsonl: row 3: task_id 'HumanEval/999' is not among"):
        replay(path, problems, 1)
    assert replay(path, problems, 1, ignore_unknown=True).height == 3


def test_fewer_samples_than_n_is_an_error_naming_the_problem(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    rows = [{"task_id": pid, "completion": "x"} for pid in problems["problem_id"] for _ in range(3)]
    rows = [r for i, r in enumerate(rows) if not (r["task_id"] == "HumanEval/2" and i % 3 == 0)]
    with pytest.raises(
        ReplayError, match=r"fewer samples than generate.n_samples=3: 'HumanEval/2' has 2"
    ):
        replay(write_jsonl(tmp_path / "s.jsonl", rows), problems, 3)


def test_malformed_line_and_missing_fields_name_the_row(
    tmp_path: Path, problems: pl.DataFrame
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"task_id": "HumanEval/0", "completion": "x"}\n{not json\n')
    with pytest.raises(ReplayError, match=r"s\.jsonl: line 2: not valid JSON"):
        replay(path, problems, 1)
    write_jsonl(path, [{"task_id": "HumanEval/0", "code": "x"}])
    with pytest.raises(
        ReplayError, match=r"row 1 \(task_id 'HumanEval/0'\): no 'solution' or 'completion'"
    ):
        replay(path, problems, 1)
    with pytest.raises(ReplayError, match="generate.replay.path is empty"):
        get_backend("replay", GenerateParams(backend="replay"))


def test_a_null_sample_is_an_error_row(tmp_path: Path, problems: pl.DataFrame) -> None:
    rows = [
        {"task_id": pid, "completion": None if pid == "HumanEval/0" else "x"}
        for pid in problems["problem_id"]
    ]
    df = replay(write_jsonl(tmp_path / "s.jsonl", rows), problems, 1)
    assert df["error"][0] == "s.jsonl row 1: null completion" and df["finish_reason"][0] == "error"
