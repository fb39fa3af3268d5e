"""Per-sample inspection: every false positive and every disagreement, with the failing input."""

from __future__ import annotations

import json

import polars as pl

from stages.inspection import inspection_table, render
from stages.schemas import PROBLEMS


def _frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    problems = pl.DataFrame({c: [""] for c in PROBLEMS}).with_columns(
        problem_id=pl.lit("P/0"), kind=pl.lit("code"), atol=pl.lit(0.0), program_prefix=pl.lit("def f(x):\n"),
        inputs_strong=pl.lit(json.dumps([[1], [2]])), outputs_strong=pl.lit(json.dumps([1, 4])))
    samples = pl.DataFrame({"problem_id": "P/0", "sample_idx": [0, 1, 2],
                            "completion": ["    return x\n", "    return x * x\n", "    return 0\n"]})
    rows = [(0, "weak_assert", "pass", ""), (0, "strong_io", "fail", "wrong output on input 1; got 2"),
            (1, "weak_assert", "pass", ""), (1, "strong_io", "pass", ""),
            (2, "weak_assert", "fail", "AssertionError: "), (2, "strong_io", "fail", "wrong output on input 0; got 0")]
    verdicts = pl.DataFrame(rows, schema=["sample_idx", "verifier", "verdict", "detail"], orient="row"
                            ).with_columns(problem_id=pl.lit("P/0"))
    return problems, samples, verdicts


def test_false_positive_row_has_program_verdicts_and_first_failing_input() -> None:
    table = inspection_table(*_frames())
    assert table["sample_idx"].to_list() == [0]  # sample 1 passes both, sample 2 fails both
    row = table.row(0, named=True)
    assert row["false_positive"] and row["disagreement"]
    assert row["verdicts"] == "strong_io=fail, weak_assert=pass"
    assert (row["failed_by"], row["first_failing_input"], row["expected_output"]) == ("strong_io", "[2]", "4")
    assert row["actual_output"] == "2" and row["program"] == "def f(x):\n    return x\n"
    text = render(table)
    assert "P/0 sample 0" in text and "first failing input: [2]" in text and "expected output:     4" in text


def test_everything_of_one_problem_and_empty_state() -> None:
    problems, samples, verdicts = _frames()
    assert inspection_table(problems, samples, verdicts, "P/0", everything=True).height == 3
    assert inspection_table(problems, samples, verdicts, "P/9").is_empty()
    assert render(pl.DataFrame()) == "no false positives and no disagreements between verifiers"
