"""Stage ``verify``: samples x problems -> verdicts, one row per (problem, sample, verifier).

Code samples are run against every test suite the dataset carries (see
``stages.verifiers.code_tests``) by a swappable executor; math samples get gold-answer verdicts
(``stages.verifiers.math_suite``); an LLM judge, when ``verify.judge`` is set, adds its own
verdicts on top (a weak verifier whose false positives the analysis measures). Every sample gets a verdict from the
closed vocabulary (``schemas.VERDICTS``): a bad sample is a verdict row, never a dropped row.
Wall times go to a separate timings table so the verdicts stay byte-identical across runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.contracts import validate_inputs, validate_table
from stages.entry import run_entry
from stages.io import read_table, write_table
from stages.params import VerifyParams, load_section
from stages.progress import Counter
from stages.schemas import PROBLEMS, SAMPLES, TIMINGS, VERDICTS_SCHEMA, conform, empty
from stages.verifiers import make_executor
from stages.verifiers.base import ExecResult, Executor
from stages.verifiers.code_tests import applicable_verifiers, run_verifier
from stages.verifiers.judge import judge_verdicts_timed, truth_from_verdicts
from stages.verifiers.math_suite import verify_math_problems

OUT = Path("data/verdicts.parquet")
TIMINGS_OUT = Path("data/timings.parquet")


def _frames(name: str, results: list[ExecResult]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One verifier's verdicts and timings, built column by column: no Python dict per row,
    which at 10^5-10^6 results per verifier costs a dict's overhead per row for nothing."""
    columns = {
        "problem_id": [r.key[0] for r in results],
        "sample_idx": [r.key[1] for r in results],
        "verifier": [name] * len(results),
        "verdict": [r.verdict for r in results],
        "detail": [r.detail for r in results],
        "sandbox": [r.sandbox for r in results],
        "answer": [r.outputs for r in results],
        "score": [None] * len(results),
        "duration_s": [r.duration_s for r in results],
        "cached": [bool(r.extra.get("cached", False)) for r in results],
    }
    df = pl.DataFrame(columns, schema={**VERDICTS_SCHEMA, **TIMINGS, "verdict": pl.String()})
    return conform(df, VERDICTS_SCHEMA, "verdicts"), conform(df, TIMINGS, "timings")


def timeouts_for(problems: pl.DataFrame, params: VerifyParams, executor: Executor) -> dict[str, float]:
    """Per-problem wall-clock limits: calibrated from the reference when the executor can."""
    calibrate = getattr(executor, "calibrate_timeouts", None)
    if calibrate is not None:
        return calibrate(problems, params)
    return {pid: params.timeout_floor_s for pid in problems["problem_id"]}


def verify(
    problems: pl.DataFrame, samples: pl.DataFrame, params: VerifyParams, executor: Executor,
    verifiers: list[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All verdicts (sorted by key and verifier) and their timings.

    ``verifiers`` fixes the set of code verifiers (the flow verifies problem chunks and must use
    the set of the whole dataset, not of each chunk); None: every one the problems support.
    """
    code_ids = problems.filter(pl.col("kind") == "code")["problem_id"]
    code_samples = samples.filter(pl.col("problem_id").is_in(code_ids.implode()))
    if code_samples.height == samples.height:
        code_samples = samples  # no second copy of every completion when all are code
    names = applicable_verifiers(problems) if verifiers is None else verifiers
    timeouts = timeouts_for(problems, params, executor) if names else {}
    verdicts, timings = [empty(VERDICTS_SCHEMA)], [empty(TIMINGS)]
    with Counter(code_samples.height * len(names), "verify") as bar:
        for name in names:
            results = run_verifier(name, problems, code_samples, executor, timeouts,
                                   on_result=lambda _r: bar.advance(), compare=params.compare)
            v, t = _frames(name, results)
            verdicts.append(v)
            timings.append(t)
    if params.judge != "none" and code_samples.height:
        # A judge on code is scored against the strongest suite that ran (its "gold").
        code_verdicts = pl.concat(verdicts)
        gold = next((n for n in ("strong_io", "weak_io", "weak_assert") if n in names), None)
        truth = (truth_from_verdicts(code_verdicts.filter(pl.col("verifier") == gold))
                 if gold else None)
        code_problems = problems.filter(pl.col("kind") == "code")
        jv, jt = judge_verdicts_timed(code_problems, code_samples, params, truth=truth)
        verdicts.append(jv)
        timings.append(jt)
    mv, mt = verify_math_problems(problems, samples, params)  # gold answers (+ judge) for math
    verdicts.append(mv)
    timings.append(mt)
    order = ["problem_id", "sample_idx", "verifier"]
    return mark_generation_errors(pl.concat(verdicts), samples).sort(order), pl.concat(timings).sort(order)


def mark_generation_errors(verdicts: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame:
    """Every verdict of a sample whose generation failed becomes ``gen_error``.

    The backend turns a failed request into an empty completion (so every verifier still gets a
    row); read as ``empty`` it would count as a wrong answer and a flaky server would lower
    pass@k. ``gen_error`` is in ``schemas.NO_JUDGMENT``: the analysis leaves it out of n.
    """
    failed = samples.filter(pl.col("error").is_not_null()).select(
        "problem_id", "sample_idx", pl.col("error").alias("_gen_error"))
    if failed.height == 0:
        return verdicts
    out = verdicts.join(failed, on=["problem_id", "sample_idx"], how="left")
    hit = pl.col("_gen_error").is_not_null()
    return out.with_columns(
        pl.when(hit).then(pl.lit("gen_error")).otherwise(pl.col("verdict").cast(pl.String))
        .cast(VERDICTS_SCHEMA["verdict"]).alias("verdict"),
        pl.when(hit).then(pl.lit("generation failed: ") + pl.col("_gen_error").str.slice(0, 200))
        .otherwise(pl.col("detail")).alias("detail"),
    ).select(list(VERDICTS_SCHEMA))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.verify", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--problems", type=Path, default=Path("data/problems.parquet"))
    ap.add_argument("--samples", type=Path, default=Path("data/samples.parquet"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--timings-out", type=Path, default=TIMINGS_OUT)
    args = ap.parse_args(argv)

    def body() -> None:
        own = load_section("verify", args.params, VerifyParams)
        problems = read_table(args.problems, PROBLEMS, "problems")
        samples = read_table(args.samples, SAMPLES, "samples")
        # Inputs first: a duplicated or lost sample fails here in well under a second, not
        # after a full verification as a broken 'verdicts' table.
        validate_inputs({"problems": (problems, args.problems), "samples": (samples, args.samples)})
        with make_executor(own) as executor:
            verdicts, timings = verify(problems, samples, own, executor)
        validate_table("verdicts", verdicts)  # GE contract (stages/contracts.py)
        write_table(verdicts, args.out, VERDICTS_SCHEMA, "verdicts")
        write_table(timings, args.timings_out, TIMINGS, "timings")
        summary = verdicts.group_by("verifier", "verdict").len().sort("verifier", "verdict")
        print(f"verify: {verdicts.height} verdicts -> {args.out}")
        for verifier, verdict, count in summary.iter_rows():
            print(f"  {verifier:<14} {verdict:<13} {count}")

    run_entry("verify", body)


if __name__ == "__main__":
    main()
