"""HumanEval+ / MBPP+ loaders: two suites per problem, EvalPlus's input types, pinned files."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from stages.datasets import evalplus, mirror, typed_json
from stages.schemas import PROBLEMS


def test_mbpp_inputs_get_evalplus_types() -> None:
    assert evalplus.mbpp_revert_inputs("Mbpp/2", [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    assert evalplus.mbpp_revert_inputs("Mbpp/124", [["0", "1j"]]) == [[0.0, 1j]]
    assert evalplus.mbpp_revert_inputs("Mbpp/252", [["(1+2j)"]]) == [[1 + 2j]]
    assert evalplus.mbpp_revert_inputs("Mbpp/580", [[[1, [2, [3]]]]]) == [[(1, (2, (3,)))]]
    assert evalplus.mbpp_revert_inputs("Mbpp/722", [[{"a": [1, 2]}, 3]]) == [[{"a": (1, 2)}, 3]]
    assert evalplus.mbpp_revert_inputs("Mbpp/115", [[[[1], []]]]) == [[[{1}, {}]]]
    assert evalplus.mbpp_revert_inputs("Mbpp/3", [[[1, 2]]]) == [[[1, 2]]]  # untouched


def test_mbpp_prompt_names_the_function_and_check_wraps_asserts() -> None:
    assertion = "\nassert f(1) == 2\nassert f(2) == 3\n"
    prompt = evalplus.mbpp_prompt("'''\nWrite a function.\n'''", assertion)
    assert prompt == '"""\nWrite a function.\nassert f(1) == 2\n"""\n'
    check = evalplus.mbpp_check(assertion)
    scope: dict = {}
    exec(check + "\ncheck(None)\n", {"f": lambda x: x + 1}, scope)  # noqa: S102 - trusted test code
    assert check.startswith("def check(candidate):\n    assert f(1) == 2")
    hoisted = evalplus.mbpp_check("\nimport math\nassert math.isclose(f(1), 2)\n")
    assert hoisted == "import math\n\ndef check(candidate):\n    assert math.isclose(f(1), 2)\n"
    assert evalplus.mbpp_check("assert math.isclose(f(1), 2)").startswith("import math\n")
    named_check = evalplus.mbpp_check("assert check(70) == False", "check")
    scope = {"check": lambda n: n == 71}
    exec(named_check + "\ncheck(check)\n", scope)  # noqa: S102 - trusted test code
    assert "_entry(70)" in named_check


def _record(**over: object) -> dict:
    base = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "entry_point": "f",
            "canonical_solution": "    return x\n", "test": "def check(c):\n    assert c(1) == 1\n",
            "contract": "", "base_input": [[1]], "plus_input": [[2], [3]], "atol": 0}
    return base | over


def test_rows_carry_weak_and_strong_suites() -> None:
    df = evalplus.humanevalplus_rows([_record()], "abc", "file")
    row = df.row(0, named=True)
    assert df.schema == pl.Schema(PROBLEMS)
    assert typed_json.decode(row["inputs_weak"]) == [[1]]
    assert typed_json.decode(row["inputs_strong"]) == [[1], [2], [3]]
    assert row["program_prefix"] == row["prompt"] and row["dataset_hash"] == "abc"


def test_missing_field_names_file_and_task() -> None:
    rec = _record()
    del rec["plus_input"]
    with pytest.raises(evalplus.DatasetFormatError, match="file: task HumanEval/0 has no field 'plus_input'"):
        evalplus.humanevalplus_rows([rec], "abc", "file")


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(evalplus.DatasetFormatError, match=r"x.jsonl:2"):
        evalplus.read_records(path)


@pytest.mark.mirror
def test_humanevalplus_from_mirror(mirror_dir: Path) -> None:
    df = evalplus.raw_problems("humanevalplus")
    assert df.height == 164 and set(df["dataset"]) == {"humanevalplus"}
    for row in df.head(20).iter_rows(named=True):
        weak, strong = typed_json.decode(row["inputs_weak"]), typed_json.decode(row["inputs_strong"])
        assert strong[: len(weak)] == weak and len(strong) > len(weak)
        assert "def check(candidate)" in row["test"]
    assert df.filter(pl.col("problem_id") == "HumanEval/32")["atol"][0] == pytest.approx(1e-4)


@pytest.mark.mirror
def test_mbppplus_from_mirror(mirror_dir: Path) -> None:
    df = evalplus.raw_problems("mbppplus")
    assert df.height == 399 and set(df["program_prefix"]) == {""}
    row = df.filter(pl.col("problem_id") == "Mbpp/2").row(0, named=True)
    assert typed_json.decode(row["inputs_weak"])[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]
    assert "similar_elements(" in row["prompt"] and row["test"].startswith("def check(candidate):")
    empty_plus = df.filter(pl.col("problem_id") == "Mbpp/793").row(0, named=True)  # stored as {}
    assert typed_json.decode(empty_plus["inputs_strong"]) == typed_json.decode(empty_plus["inputs_weak"])


@pytest.mark.mirror
def test_mbppplus_reads_the_raw_canonical_file_too(mirror_dir: Path, tmp_path: Path) -> None:
    """A tracked copy holding the canonical (uncompressed) bytes serves too, with the same hash."""
    raw = gzip.decompress((mirror_dir / evalplus.MBPPPLUS.relpath).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == evalplus.MBPPPLUS_RAW.sha256
    target = tmp_path / evalplus.MBPPPLUS_RAW.relpath
    target.parent.mkdir(parents=True)
    target.write_bytes(raw)
    path, pin = mirror.find(evalplus.PINS["mbppplus"], tmp_path)
    assert (path, pin) == (target, evalplus.MBPPPLUS_RAW)
    records, digest = evalplus.read_records(target)
    assert len(records) == 399 and digest == evalplus.MBPPPLUS_RAW.sha256
    assert evalplus.raw_problems("mbppplus", tmp_path).height == 399


@pytest.mark.slow
@pytest.mark.mirror
@pytest.mark.parametrize(("dataset", "size"), [("humanevalplus", 164), ("mbppplus", 399)])
def test_every_canonical_solution_passes_its_strong_suite(mirror_dir: Path, dataset: str, size: int) -> None:
    """Acceptance: all 164 HumanEval+ and all 399 MBPP+ references pass ``strong_io`` (expected
    outputs are computed once, then cached by dataset hash). MBPP+'s set-equality tasks
    (Mbpp/2, /249, /579, /769: the reference returns ``tuple(set(...))``, ordered by the
    process's hash seed) are compared as sets, as EvalPlus does."""
    from stages.datasets import load_dataset
    from stages.verifiers.code_tests import run_verifier
    from stages.verifiers.sandbox import SandboxExecutor

    problems = load_dataset(dataset)
    samples = problems.select("problem_id", pl.lit(0, pl.Int64).alias("sample_idx"),
                              pl.col("reference").alias("completion"))
    with SandboxExecutor(cache_dir=None) as executor:
        results = run_verifier("strong_io", problems, samples, executor,
                               {p: 60.0 for p in problems["problem_id"]})
    assert len(results) == size
    assert sorted((r.key[0], r.verdict, r.detail) for r in results if r.verdict != "pass") == []


@pytest.mark.mirror
def test_not_none_tasks_keep_their_matching_inputs_and_the_reference_passes(mirror_dir: Path) -> None:
    """Mbpp/737, /787, /794 return a re.Match: their suites keep those inputs (expected: True,
    EvalPlus's ``is not None``), so a program that always returns None no longer passes."""
    from stages.datasets.expected_outputs import fill_expected_outputs_with_report
    from stages.verifiers.code_tests import run_verifier
    from stages.verifiers.sandbox import SandboxExecutor

    raw = evalplus.raw_problems("mbppplus").filter(
        pl.col("entry_point").is_in(sorted(evalplus.MBPP_OUTPUT_NOT_NONE_TASKS)))
    problems, report = fill_expected_outputs_with_report(raw, cache_dir=None)
    assert report.total_dropped == 0
    for row in problems.iter_rows(named=True):
        expected = json.loads(row["outputs_strong"])
        assert set(expected) == {True, False}
        assert len(expected) == len(typed_json.decode(row["inputs_strong"]))
    none = "def {ep}(*args):\n    return None\n"
    always_none = pl.col("entry_point").map_elements(lambda ep: none.format(ep=ep),
                                                     return_dtype=pl.String)
    samples = pl.concat([
        problems.select("problem_id", pl.lit(0, pl.Int64).alias("sample_idx"),
                        pl.col("reference").alias("completion")),
        problems.select("problem_id", pl.lit(1, pl.Int64).alias("sample_idx"), always_none.alias("completion"))])
    limits = {p: 60.0 for p in problems["problem_id"]}
    with SandboxExecutor(cache_dir=None) as executor:
        results = run_verifier("strong_io", problems, samples, executor, limits)
    assert {r.key: r.verdict for r in results} == (
        {(p, 0): "pass" for p in problems["problem_id"]} | {(p, 1): "fail" for p in problems["problem_id"]})
