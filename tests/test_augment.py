"""Test augmentation: valid, distinct, capped, deterministic, cached inputs with reference outputs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from stages.augment import _pick, augment_one, augment_problems, summary, with_contract
from stages.datasets import typed_json
from stages.params import AugmentParams
from stages.schemas import PROBLEMS
from stages.verifiers.code_tests import applicable_verifiers
from tests.datasets.trusted_runner import TrustedRunner

PREFIX = "def f(xs, k):\n    \"\"\"Sum of xs times k; k must be positive.\"\"\"\n"
REFERENCE = "    if k == 0:\n        raise ValueError('k')\n    return sum(xs) * k\n"
TEST = "def check(candidate):\n    assert candidate([1, 2], 3) == 9\n    assert candidate([], 1) == 0\n"


def _problems(**over: str) -> pl.DataFrame:
    row = {c: "" for c in PROBLEMS} | {
        "problem_id": "P/0", "dataset": "t", "kind": "code", "program_prefix": PREFIX,
        "reference": REFERENCE, "entry_point": "f", "test": TEST, "atol": 0.0,
        "dataset_hash": "h"} | over
    return pl.DataFrame([row], schema=PROBLEMS)


PARAMS = AugmentParams(max_inputs=12, candidates=20, rounds=2)


def test_added_inputs_are_valid_distinct_capped_with_reference_outputs() -> None:
    row = _problems().row(0, named=True)
    res = augment_one(row, PARAMS, seed=1, runner=TrustedRunner())
    assert res.seeds == 2 and res.seeds_kept == 2 and res.inputs[:2] == [[[1, 2], 3], [[], 1]]
    assert 0 < res.added <= 12 and len(res.inputs) == 2 + res.added
    keys = [typed_json.canonical(i) for i in res.inputs]
    assert len(set(keys)) == len(keys)
    for (xs, k), out in zip(res.inputs, res.outputs, strict=True):
        assert k != 0 and out == sum(xs) * k  # the reference raised on k == 0: never kept


def test_contract_filters_inputs() -> None:
    row = _problems().row(0, named=True)
    res = augment_one(row, PARAMS, seed=1, runner=TrustedRunner(), contract="    assert k > 0\n")
    assert res.added > 0 and all(k > 0 for _, k in res.inputs)


def test_deterministic_for_a_seed() -> None:
    row = _problems().row(0, named=True)
    one = augment_one(row, PARAMS, seed=5, runner=TrustedRunner())
    assert one == augment_one(row, PARAMS, seed=5, runner=TrustedRunner())
    assert one.inputs != augment_one(row, PARAMS, seed=6, runner=TrustedRunner()).inputs


def test_problems_get_a_strong_suite_and_the_cache_skips_the_runner(tmp_path: Path) -> None:
    runner = TrustedRunner()
    out, report = augment_problems(_problems(), PARAMS, 1, runner=runner, cache_dir=tmp_path)
    row = out.row(0, named=True)
    assert len(typed_json.decode(row["inputs_strong"])) == len(json.loads(row["outputs_strong"]))
    assert "strong_io" in applicable_verifiers(out)
    assert report["added"][0] == summary(report)["augment_added_total"] > 0
    calls = runner.calls
    again, _ = augment_problems(_problems(), PARAMS, 1, runner=runner, cache_dir=tmp_path)
    assert runner.calls == calls and again.equals(out)


def test_problems_with_a_strong_suite_or_disabled_are_left_alone() -> None:
    has = _problems(inputs_strong="[[[1],1]]", outputs_strong="[1]")
    out, report = augment_problems(has, PARAMS, 1, runner=TrustedRunner(), cache_dir=None)
    assert out.equals(has) and report.is_empty()
    off = AugmentParams(enabled=False)
    assert augment_problems(_problems(), off, 1, runner=TrustedRunner())[0].equals(_problems())


def test_pick_spreads_over_distinct_outputs() -> None:
    valid = [([i], out) for i, out in enumerate([False] * 5 + [True, 3])]
    assert [o for _, o in _pick(valid, 3)] == [False, True, 3]
    assert _pick(valid, 100) == valid


def test_with_contract_places_asserts_first_in_the_body() -> None:
    assert with_contract(PREFIX, REFERENCE, "f", "    assert k > 0\n") == PREFIX + "    assert k > 0\n" + REFERENCE
    mbpp = "import math\ndef g(a,\n      b):\n  return a + b\n"
    program = with_contract("", mbpp, "g", "\n  assert a > 0 # $_CONTRACT_$\n")
    assert program == "import math\ndef g(a,\n      b):\n  assert a > 0 # $_CONTRACT_$\n  return a + b\n"


def test_humaneval_problems_in_the_sandbox(humaneval: pl.DataFrame) -> None:
    problems = humaneval.head(2)
    _, report = augment_problems(problems, PARAMS, 1234, cache_dir=None)
    assert report["added"].to_list() == [12, 12]
    assert (report["seeds_kept"] == report["seeds"]).all()


def test_reduce_keeps_seeds_and_kills_the_same_mutants() -> None:
    from stages.stats.suite_adequacy import problem_mutants

    full, _ = augment_problems(_problems(), PARAMS, 1, runner=TrustedRunner(), cache_dir=None)
    small, report = augment_problems(_problems(), PARAMS.model_copy(update={"reduce": True}), 1,
                                     runner=TrustedRunner(), cache_dir=None)
    big_in = typed_json.decode(full["inputs_strong"][0])
    small_in = typed_json.decode(small["inputs_strong"][0])
    assert small_in[:2] == big_in[:2] and len(small_in) < len(big_in)
    assert report["added"][0] == len(small_in) - 2

    def killed(inputs: list) -> set[str]:
        out = set()
        for _, text in problem_mutants(PREFIX, REFERENCE, 20, __import__("random").Random(0)):
            scope: dict = {}
            exec(PREFIX + text, scope)  # noqa: S102 - mutants of a trusted test program
            for xs, k in inputs:
                try:
                    wrong = scope["f"](xs, k) != sum(xs) * k
                except Exception:  # noqa: BLE001 - raising kills the mutant
                    wrong = True
                if wrong:
                    out.add(text)
                    break
        return out

    assert killed(small_in) == killed(big_in)


def test_report_files(tmp_path: Path) -> None:
    from stages.augment import write_report

    _, report = augment_problems(_problems(), PARAMS, 1, runner=TrustedRunner(), cache_dir=None)
    per_problem = write_report(report, tmp_path / "augment.json")
    metrics = json.loads((tmp_path / "augment.json").read_text())
    assert metrics["augment_problems"] == 1 and metrics["augment_added_total"] == report["added"][0]
    rows = json.loads(per_problem.read_text())
    assert rows[0]["problem_id"] == "P/0" and rows[0]["added"] == report["added"][0]


def test_per_problem_report_has_no_load_dependent_counts(tmp_path: Path) -> None:
    """A timeout under load changes tried/valid (HumanEval/160); the DVC output must not move."""
    from stages.augment import LOAD_DEPENDENT, REPORT_SCHEMA, write_report

    _, report = augment_problems(_problems(), PARAMS, 1, runner=TrustedRunner(), cache_dir=None)
    busy = report.with_columns(pl.col("valid") - 1, pl.col("tried") + 3)  # as on a loaded machine
    a = write_report(report, tmp_path / "a" / "augment.json")
    b = write_report(busy, tmp_path / "b" / "augment.json")
    assert a.read_bytes() == b.read_bytes()
    assert set(json.loads(a.read_text())[0]) == set(REPORT_SCHEMA) - set(LOAD_DEPENDENT)


def test_an_input_whose_reference_output_fails_the_oracle_is_no_test() -> None:
    """HumanEval/32's oracle reads the input (a root of its polynomial): an input on which the
    reference's own output is no root (here a reference that always answers 0) is dropped."""
    row = _problems(problem_id="HumanEval/32", dataset="humaneval", entry_point="find_zero",
                    program_prefix="def find_zero(xs):\n", reference="    return 0.0\n",
                    test="def check(candidate):\n    assert candidate([0, 1]) == 0\n"
                         "    assert candidate([1, 1]) == -1\n").row(0, named=True)
    res = augment_one(row, PARAMS, seed=1, runner=TrustedRunner())
    assert res.seeds == 2 and res.seeds_kept == 1 and res.inputs[0] == [[0, 1]]
    assert all(abs(xs[0]) <= 1e-4 for (xs,) in res.inputs)  # poly(xs, 0) == xs[0]
