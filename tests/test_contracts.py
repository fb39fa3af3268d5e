"""Great Expectations contracts: good tables pass; each broken invariant fails, naming the table,
the expectation and the offending rows; the validation result is saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from stages.contracts import ContractError, metrics_frame, validate_metrics, validate_table
from stages.schemas import CURVE, SAMPLES, VERDICTS_SCHEMA, conform


def _samples(keys: list[tuple[str, int]]) -> pl.DataFrame:
    df = pl.DataFrame({"problem_id": [k[0] for k in keys], "sample_idx": [k[1] for k in keys]})
    return df.with_columns(completion=pl.lit("    return 1\n"), backend=pl.lit("synthetic"),
                           model=pl.lit("m"), sampling_params=pl.lit("{}"), seed=pl.lit(1),
                           prompt_tokens=pl.lit(3), completion_tokens=pl.lit(4),
                           latency_s=pl.lit(0.0), finish_reason=pl.lit("synthetic"),
                           mean_logprob=pl.lit(None, pl.Float64), sum_logprob=pl.lit(None, pl.Float64),
                           error=pl.lit(None, pl.String))


def _verdicts(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    """Verdicts with a *string* verdict column, as a buggy producer might make them."""
    df = pl.DataFrame(rows, schema={"problem_id": pl.String, "sample_idx": pl.Int64, "verdict": pl.String},
                      orient="row")
    return df.with_columns(verifier=pl.lit("weak_assert"), detail=pl.lit(""), sandbox=pl.lit("none"),
                           answer=pl.lit(None, pl.String), score=pl.lit(None, pl.Float64))


GOOD_KEYS = [(p, i) for p in ("A", "B") for i in range(3)]


def test_good_samples_pass_and_result_json_is_saved(tmp_path: Path) -> None:
    doc = validate_table("samples", conform(_samples(GOOD_KEYS), SAMPLES, "samples"), n_samples=3,
                         out_dir=tmp_path)
    saved = json.loads((tmp_path / "samples.json").read_text())
    assert doc["success"] and saved["success"] and saved["table"] == "samples"
    assert not (Path.cwd() / "gx").exists()


def test_duplicate_sample_key_fails_naming_table_expectation_and_row(tmp_path: Path) -> None:
    keys = [*GOOD_KEYS[:-1], ("B", 1)]  # B/2 replaced by a second B/1
    with pytest.raises(ContractError) as err:
        validate_table("samples", _samples(keys), n_samples=3, out_dir=tmp_path)
    msg = str(err.value)
    assert "table 'samples'" in msg and "expect_compound_columns_to_be_unique" in msg
    assert "'problem_id': 'B', 'sample_idx': 1" in msg
    assert json.loads((tmp_path / "samples.json").read_text())["success"] is False


def test_problem_with_wrong_number_of_samples_fails(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as err:
        validate_table("samples", _samples(GOOD_KEYS[:-1]), n_samples=3, out_dir=None)
    msg = str(err.value)
    assert "samples_per_problem" in msg and "'problem_id': 'B'" in msg and "'n_samples': 2" in msg


def test_verdict_outside_vocabulary_fails(tmp_path: Path) -> None:
    rows = [("A", 0, "pass"), ("A", 1, "probably"), ("A", 2, "fail")]
    with pytest.raises(ContractError) as err:
        validate_table("verdicts", _verdicts(rows), n_samples=3, out_dir=None)
    msg = str(err.value)
    assert "table 'verdicts'" in msg and "expect_column_values_to_be_in_set" in msg
    assert "'verdict': 'probably'" in msg and "'sample_idx': 1" in msg


def test_a_table_checked_in_slices_still_names_a_bad_row_past_the_first_slice(monkeypatch) -> None:
    """GE sees pandas copies of GE_BATCH_ROWS rows at a time (bounded memory for a million
    samples); a bad value in a later slice is still caught and named by its keys."""
    import stages.contracts as contracts

    monkeypatch.setattr(contracts, "GE_BATCH_ROWS", 2)
    rows = [("A", 0, "pass"), ("A", 1, "fail"), ("A", 2, "timeout"), ("A", 3, "pass"), ("A", 4, "probably")]
    with pytest.raises(ContractError) as err:
        validate_table("verdicts", _verdicts(rows), n_samples=5, out_dir=None)
    assert "'verdict': 'probably'" in str(err.value) and "'sample_idx': 4" in str(err.value)
    validate_table("verdicts", _verdicts(rows[:4]), n_samples=4, out_dir=None)


def test_good_verdicts_pass() -> None:
    rows = [("A", i, v) for i, v in enumerate(["pass", "fail", "timeout"])]
    validate_table("verdicts", conform(_verdicts(rows), VERDICTS_SCHEMA, "verdicts"), n_samples=3, out_dir=None)


def test_null_key_fails() -> None:
    df = _samples(GOOD_KEYS).with_columns(
        pl.when(pl.col("sample_idx") == 2).then(None).otherwise(pl.col("problem_id")).alias("problem_id"))
    with pytest.raises(ContractError, match="expect_column_values_to_not_be_null"):
        validate_table("samples", df, out_dir=None)


def _curve(values: list[float]) -> pl.DataFrame:
    return conform(pl.DataFrame({"verifier": "w", "k": list(range(1, len(values) + 1)), "pass_at_k": values,
                                 "ci_low": 0.0, "ci_high": 1.0}), CURVE, "curve")


def test_curve_must_lie_in_unit_interval_and_not_decrease() -> None:
    validate_table("curve", _curve([0.2, 0.4, 0.4, 0.9]), out_dir=None)
    with pytest.raises(ContractError) as err:
        validate_table("curve", _curve([0.2, 0.5, 0.4, 1.5]), out_dir=None)
    msg = str(err.value)
    assert "'pass_at_k': 1.5" in msg and "curve_monotone" in msg and "'k': 3" in msg


def test_metrics_rates_in_unit_interval() -> None:
    good = {"weak_assert": {"pass@1": 0.3, "pass@1_ci": [0.2, 0.4], "coverage@5": 0.8}, "n_problems": 5}
    assert metrics_frame(good).height == 2
    validate_metrics(good, out_dir=None)
    with pytest.raises(ContractError, match="table 'metrics'.*'metric': 'pass@1'"):
        validate_metrics({"weak_assert": {"pass@1": 1.3}}, out_dir=None)


def test_stage_entry_stops_with_one_line_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    """A DVC entry (here analyze on published counts with c > n) exits 2 naming table and row."""
    from stages import analyze

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("base: {seed: 1}\nanalyze: {bootstrap: 10}\n")
    bad = pl.DataFrame({"problem_id": ["A", "B"], "verifier": "w", "n": [3, 3], "c": [1, 5]})
    bad.write_parquet(tmp_path / "counts.parquet")
    with pytest.raises(SystemExit) as exit_info:
        analyze.main(["--counts", "counts.parquet"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "table 'counts'" in err
    assert "expect_column_pair_values_a_to_be_greater_than_b" in err and "'problem_id': 'B'" in err
    assert not (tmp_path / "metrics/metrics.json").exists()


def test_verify_rejects_duplicated_or_missing_samples_fast_naming_the_file(tmp_path: Path, capsys) -> None:
    """16,400 samples (164 problems x N=100) with one duplicated or one lost row: verify exits 2
    naming the samples file and the row, in < 2 s, before any sample is run (issue 17)."""
    import time

    from stages import verify
    from stages.schemas import PROBLEMS

    ids = [f"P/{i}" for i in range(164)]
    problems = pl.DataFrame({c: [""] * 164 for c in PROBLEMS}).with_columns(
        problem_id=pl.Series(ids), kind=pl.lit("code"), atol=pl.lit(0.0))
    problems.write_parquet(tmp_path / "problems.parquet")
    (tmp_path / "params.yaml").write_text("verify: {workers: 1}\n")
    good = conform(_samples([(p, i) for p in ids for i in range(100)]), SAMPLES, "samples")
    cases = {"duplicated": (pl.concat([good, good.slice(7, 1)]), "'problem_id': 'P/0', 'sample_idx': 7"),
             "missing": (good.filter(~((pl.col("problem_id") == "P/5") & (pl.col("sample_idx") == 3))),
                         "'problem_id': 'P/5', 'n_samples': 99"),
             "no samples": (good.filter(pl.col("problem_id") != "P/9"), "have no samples: ['P/9']")}
    for name, (df, shown) in cases.items():
        df.write_parquet(tmp_path / "samples.parquet")
        t0 = time.perf_counter()
        with pytest.raises(SystemExit) as info:
            verify.main(["--params", str(tmp_path / "params.yaml"), "--problems", str(tmp_path / "problems.parquet"),
                         "--samples", str(tmp_path / "samples.parquet"), "--out", str(tmp_path / "v.parquet")])
        elapsed = time.perf_counter() - t0
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and "samples.parquet: contract violated" in line and shown in line, name
        assert elapsed < 2.0, (name, elapsed)
    assert not (tmp_path / "v.parquet").exists()
