"""Answers verified per second: MATH-500 x N synthetic samples through the math-answer verifier.

Usage: python -m benchmarks.math_verify_speed [--samples 100] [--workers 0]

Samples come from the synthetic math generator (an offline stand-in, NOT a model): half
correct in varied equivalent forms, half plausible wrong answers. The anchor, timed in the same
run, is extraction plus exact string match against gold: the cheapest possible grader, whose
rate shows what math-verify's symbolic comparison costs. The verifier compares each distinct
(problem, extracted answer) once, so the number of distinct answers is printed too: real model
samples repeat final answers as well, but the ratio differs from this stand-in's.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import polars as pl

from stages.backends.synthetic_math import sample_math
from stages.datasets import load_dataset
from stages.verifiers.math_answer import resolve_workers, verify_math
from stages.verifiers.math_extract import extract_answer, tidy


def synthetic_samples(problems: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for row in problems.iter_rows(named=True):
        for i in range(n):
            ok = bool(rng.random() < 0.5)
            rows.append((row["problem_id"], i, sample_math(row, rng, ok)))
            truth.append(ok)
    frame = pl.DataFrame(rows, schema=["problem_id", "sample_idx", "completion"], orient="row")
    return frame, np.array(truth)


def string_match_rate(problems: pl.DataFrame, samples: pl.DataFrame) -> tuple[float, float]:
    gold = dict(problems.select("problem_id", "answer").iter_rows())
    start = time.perf_counter()
    hits = [extract_answer(c).answer == tidy(gold[p]) for p, c in
            samples.select("problem_id", "completion").iter_rows()]
    return samples.height / (time.perf_counter() - start), float(np.mean(hits))


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its reaped children (the worker pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    problems = load_dataset("math500")
    samples, truth = synthetic_samples(problems, args.samples, args.seed)
    # map_elements: extraction is regex code per text, not expressible as a polars expression
    answers = samples["completion"].map_elements(lambda c: extract_answer(c).answer, return_dtype=pl.String)
    distinct = samples.with_columns(a=answers).select("problem_id", "a").unique().height
    anchor_rate, anchor_acc = string_match_rate(problems, samples)
    workers = resolve_workers(args.workers)
    cpu0 = _cpu_s()
    start = time.perf_counter()
    verdicts = verify_math(problems, samples, workers=workers)
    elapsed = time.perf_counter() - start
    cpu = _cpu_s() - cpu0
    rate = samples.height / elapsed
    ok = verdicts.sort("problem_id", "sample_idx")["verdict"].cast(pl.String).to_numpy() == "correct"
    order = samples.with_row_index("i").sort("problem_id", "sample_idx")["i"].to_numpy()
    agree = float(np.mean(ok == truth[order]))
    print(f"answers: {samples.height:,} ({len(problems)} problems x {args.samples}); "
          f"distinct (problem, answer): {distinct:,}; workers: {workers} of {os.cpu_count()} cores")
    print(f"math_answer verifier: {elapsed:.1f} s, {rate:,.0f} answers/s "
          f"(agreement with the generator's intent: {agree:.4f})")
    print(f"CPU time (parent + worker processes): {cpu:.1f} s, {samples.height / cpu:,.0f} answers per "
          f"CPU-second (wall rate depends on how busy the machine is; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    print(f"anchor, exact string match: {anchor_rate:,.0f} answers/s "
          f"(accepts only {anchor_acc:.3f} of samples; half are correct)")
    print(f"ratio verifier / anchor: {rate / anchor_rate:.4f}")


if __name__ == "__main__":
    main()
