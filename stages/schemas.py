"""Declared polars schemas of every table that crosses a stage boundary.

Data flows one way: problems -> samples -> verdicts -> metrics. Each table is cast to its
schema with :func:`conform` when it is made and when it is read, so a stage never sees a column
of the wrong type, and a missing column is an error that names the table and the column.
Rows of samples and verdicts are keyed by (problem_id, sample_idx).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from stages.errors import InputError

# The closed verdict vocabulary. Code verifiers use pass/fail/timeout/error/syntax_error/empty;
# math-answer verifiers use correct/incorrect/no_answer/unparseable; LLM judges add their own
# failure verdicts so that an API error is never scored as a judgment; gen_error marks a sample
# whose generation failed (every verifier), harness_error a sandbox failure not caused by the program.
VERDICTS: Final[tuple[str, ...]] = (
    "pass",
    "fail",
    "timeout",
    "error",
    "syntax_error",
    "empty",
    "correct",
    "incorrect",
    "no_answer",
    "unparseable",
    "judge_error",
    "judge_unparseable",
    "gen_error",
    "harness_error",
)
ACCEPTED: Final[tuple[str, ...]] = ("pass", "correct")
# Rows that carry no judgment of the candidate: its generation failed (``gen_error``), the
# sandbox harness failed through no fault of the program (``harness_error``), or the judge did
# not answer usably. They are left out of n and counted as ``n_failed`` (stages/stats/passk.py).
NO_JUDGMENT: Final[tuple[str, ...]] = ("gen_error", "harness_error", "judge_error", "judge_unparseable")
VerdictEnum = pl.Enum(list(VERDICTS))

PROBLEMS: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "dataset": pl.String(),
    "kind": pl.String(),  # "code" | "math"
    "prompt": pl.String(),  # what the generator is shown
    "program_prefix": pl.String(),  # prepended to a completion to form the program (HumanEval: prompt)
    "entry_point": pl.String(),  # code: function under test; math: ""
    "reference": pl.String(),  # code: canonical completion (body after prompt); math: solution
    "test": pl.String(),  # assertion-style test code (HumanEval's `check`); may be ""
    "inputs_weak": pl.String(),  # JSON list of argument lists (original inputs); "" if none
    "inputs_strong": pl.String(),  # JSON list of argument lists (strong/augmented); "" if none
    "outputs_weak": pl.String(),  # JSON list of the reference's outputs on inputs_weak; "" if none
    "outputs_strong": pl.String(),  # JSON list of the reference's outputs on inputs_strong
    "atol": pl.Float64(),
    "answer": pl.String(),  # math gold answer; "" for code
    "dataset_hash": pl.String(),  # sha256 of the dataset file the row came from
}

SAMPLES: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "completion": pl.String(),
    "raw_completion": pl.String(),  # the server's reply as sent (chat: before code extraction); else null
    "backend": pl.String(),
    "model": pl.String(),
    "sampling_params": pl.String(),  # JSON: temperature, top_p, max_new_tokens, ...
    "seed": pl.Int64(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "latency_s": pl.Float64(),
    "finish_reason": pl.String(),  # stop | length | error | synthetic | replay (recorded elsewhere)
    "mean_logprob": pl.Float64(),
    "sum_logprob": pl.Float64(),
    "error": pl.String(),  # null unless generation failed for this sample
}

# Side output of the synthetic backend: the known truth that estimators are tested against.
SYNTHETIC_TRUTH: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "p_true": pl.Float64(),  # the problem's latent solve probability p_i
    "from_reference": pl.Boolean(),  # sample derived from the reference solution
    "mutation": pl.String(),  # name of the mutation operator; null for reference-derived
}

VERDICTS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "verifier": pl.String(),  # e.g. humaneval_check, plus_io, augmented_io, math_answer, judge
    "verdict": VerdictEnum,
    "detail": pl.String(),
    "sandbox": pl.String(),  # isolation level + memory guard (bwrap+rss-watch | rlimits+rss-watch | none)
    "answer": pl.String(),  # extracted answer (math) or output signature (code); may be null
    "score": pl.Float64(),  # judge score / P(yes); null when not applicable
}

# Wall time per verdict, kept apart from the verdicts so that the DVC-tracked verdicts table is
# byte-identical across runs with the same seed (timings never are).
TIMINGS: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "sample_idx": pl.Int64(),
    "verifier": pl.String(),
    "duration_s": pl.Float64(),
    "cached": pl.Boolean(),
}

# Per-problem success counts: the sufficient statistic of pass@k. Some papers publish only this.
COUNTS: Final[dict[str, pl.DataType]] = {
    "problem_id": pl.String(),
    "verifier": pl.String(),
    "n": pl.Int64(),
    "c": pl.Int64(),
}

CURVE: Final[dict[str, pl.DataType]] = {
    "verifier": pl.String(),
    "k": pl.Int64(),
    "pass_at_k": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
}


# Columns added after tables of their kind were first written: a frame without one gets it as
# null (older samples files and shards, producers with nothing to put there), never an error.
OPTIONAL: Final[frozenset[str]] = frozenset({"raw_completion"})


class SchemaError(InputError):
    """A table lacks a declared column or has one that cannot be cast."""


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType], table: str) -> pl.DataFrame:
    """Select and cast ``df`` to ``schema`` (column order included); name what is wrong."""
    missing = [c for c in schema if c not in df.columns and c not in OPTIONAL]
    if missing:
        raise SchemaError(f"table '{table}' is missing column(s): {', '.join(missing)}")
    try:
        return df.select([pl.col(c).cast(t, strict=True) if c in df.columns else pl.lit(None, t).alias(c)
                          for c, t in schema.items()])
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(f"table '{table}': cannot cast to the declared schema: {exc}") from None


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the declared schema."""
    return pl.DataFrame(schema=schema)
