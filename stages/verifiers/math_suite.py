"""Everything the verify stage runs on math problems, in one call: gold answers, then a judge.

The math-answer verdicts serve as the synthetic judge's truth, so answers are compared once.
Code problems pass through untouched (the code verifiers handle them; a judge on code needs the
strong verifier's verdicts as truth: call ``judge_verdicts_timed(..., truth=...)`` directly).
"""

from __future__ import annotations

import polars as pl

from stages.params import VerifyParams
from stages.schemas import TIMINGS, VERDICTS_SCHEMA, empty
from stages.verifiers.judge import judge_verdicts_timed, truth_from_verdicts
from stages.verifiers.math_answer import verify_math_timed


def verify_math_problems(
    problems: pl.DataFrame, samples: pl.DataFrame, params: VerifyParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(VERDICTS, TIMINGS) of ``math_answer`` and, when ``verify.judge`` is set, the judge."""
    math = problems.filter(pl.col("kind") == "math")
    if math.height == 0:
        return empty(VERDICTS_SCHEMA), empty(TIMINGS)
    own = samples.filter(pl.col("problem_id").is_in(math["problem_id"].implode()))
    verdicts, timings = verify_math_timed(math, own, params.workers, strict=params.math_strict)
    if params.judge != "none":
        jv, jt = judge_verdicts_timed(math, own, params, truth=truth_from_verdicts(verdicts))
        verdicts, timings = pl.concat([verdicts, jv]), pl.concat([timings, jt])
    order = ["problem_id", "sample_idx", "verifier"]
    return verdicts.sort(order), timings.sort(order)
