"""The verify stage: every bad input becomes a verdict row, never a dropped row or a crash."""

from __future__ import annotations

import polars as pl
import pytest

from stages.params import VerifyParams
from stages.schemas import SAMPLES, VERDICTS, conform
from stages.verifiers import make_executor
from stages.verify import verify


def _samples(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    df = pl.DataFrame(
        [
            {"problem_id": p, "sample_idx": i, "completion": c, "backend": "test", "model": "m",
             "sampling_params": "{}", "seed": 0, "prompt_tokens": 0, "completion_tokens": 0,
             "latency_s": 0.0, "finish_reason": "stop", "mean_logprob": None,
             "sum_logprob": None, "error": None}
            for p, i, c in rows
        ],
        schema=SAMPLES,
    )
    return conform(df, SAMPLES, "samples")


@pytest.fixture(scope="module")
def two_problems(humaneval: pl.DataFrame) -> pl.DataFrame:
    problems = humaneval.head(2)
    # The second problem loses its tests: a dataset row without tests.
    return problems.with_columns(
        pl.when(pl.col("problem_id") == problems["problem_id"][1]).then(pl.lit(""))
        .otherwise(pl.col("test")).alias("test")
    )


def test_each_bad_input_yields_its_verdict(two_problems: pl.DataFrame) -> None:
    p0, p1 = two_problems["problem_id"].to_list()
    ref0 = two_problems["reference"][0]
    bad_bytes = b"    return \xff\xfe\n".decode("utf-8", errors="replace")
    samples = _samples([
        (p0, 0, ref0),                       # the reference: pass
        (p0, 1, "    return True\n"),        # wrong: fail
        (p0, 2, "    return (\n"),           # syntax error
        (p0, 3, "   \n"),                    # empty completion
        (p0, 4, bad_bytes),                  # non-UTF-8 bytes (decoded with replacement)
        (p0, 5, "    raise KeyError('x')\n"),  # runtime error
        (p1, 0, two_problems["reference"][1]),  # problem without tests
    ])
    params = VerifyParams(workers=2, cache=False)
    verdicts, timings = verify(two_problems, samples, params, make_executor(params))
    got = {(r["problem_id"], r["sample_idx"]): r["verdict"] for r in verdicts.iter_rows(named=True)}
    assert got == {
        (p0, 0): "pass",
        (p0, 1): "fail",
        (p0, 2): "syntax_error",
        (p0, 3): "empty",
        (p0, 4): "syntax_error",
        (p0, 5): "error",
        (p1, 0): "error",
    }
    assert verdicts.height == samples.height  # nothing dropped
    assert timings.height == samples.height
    detail = verdicts.filter(pl.col("problem_id") == p1)["detail"][0]
    assert "no weak_assert tests" in detail
    assert set(verdicts["verdict"].cast(pl.String)) <= set(VERDICTS)


def test_a_failed_generation_is_marked_gen_error_for_every_verifier() -> None:
    """An error row must not reach the analysis as an `empty` (wrong) answer."""
    from stages.schemas import VERDICTS_SCHEMA
    from stages.verify import mark_generation_errors

    samples = _samples([("p", 0, ""), ("p", 1, "x")]).with_columns(
        pl.when(pl.col("sample_idx") == 0).then(pl.lit("HTTP 503")).otherwise(None).alias("error"))
    verdicts = conform(pl.DataFrame({
        "problem_id": ["p"] * 4, "sample_idx": [0, 0, 1, 1], "verifier": ["weak_io", "strong_io"] * 2,
        "verdict": ["empty", "empty", "pass", "fail"], "detail": [""] * 4, "sandbox": ["none"] * 4,
        "answer": [None] * 4, "score": [None] * 4}), VERDICTS_SCHEMA, "verdicts")
    out = mark_generation_errors(verdicts, samples)
    assert out["verdict"].cast(pl.String).to_list() == ["gen_error", "gen_error", "pass", "fail"]
    assert out["detail"][0] == "generation failed: HTTP 503"
    assert "gen_error" in VERDICTS
