"""Verdict stability under machine load: per-problem limits on the CPU clock vs the wall clock.

A fixed wall-clock limit makes verdicts depend on the machine (evalplus issue #5: the same
samples scored pass@1 about 0.40 on one machine and 0.23 on another). This judges the same
candidates on this machine idle and then with ``--load`` busy processes per core competing for
the CPU (a shared server), under two policies, each calibrating its limits under the load it
runs in, as the verify stage does:
  wall: ``max(0.5 s, 20 x reference)`` of wall time (the previous default);
  cpu:  ``max(0.25 s, 20 x reference)`` of CPU time, wall backstop 4 x + 0.5 s (the default).
A verdict "flips" when it differs from the same policy's verdict on the idle machine.

Candidates: (1) the ``synthetic`` backend's HumanEval pool (the offline stand-in policy, NOT a
model: reference variants and AST mutants; 20 per problem, distinct texts), and (2) CONSTRUCTED
slow-but-correct programs: the reference of each of the first ``--slow-problems`` problems
followed by a module-level CPU burn of 50, 100, 150 or 200 ms, which every policy passes on an
idle machine; they stand for correct-but-slow samples (a naive algorithm), which a loaded
machine must not turn into timeouts.

    .venv/bin/python benchmarks/timeout_stability.py [--workers 2] [--load 3]

``--suite strong_io`` judges the verify stage's strong suites instead (HumanEval+ base + plus
inputs, each input limited by the reference's CPU time on it: ``calibrate_problems``, then the
``strong_io`` verifier, as the verify stage runs them; needs INFSCALE_DATA_MIRROR or network).
Its constructed slow-but-correct programs burn 50-200 ms of CPU on their first call only (one
slow input, near the 0.25 s floor). Besides verdict flips it counts answer flips: samples whose
output digest (their cluster for majority vote) differs from the idle run's, the load
sensitivity that issue 15 found on one row.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter

import polars as pl
from verify_throughput import (  # a sibling script: same pool, same jobs, same calibration
    calibrated,
    candidate_pool,
    distinct_candidates,
    jobs_for,
)

from stages.backends.synthetic import from_params
from stages.datasets import load_dataset
from stages.params import GenerateParams, VerifyParams
from stages.verifiers.code_tests import run_verifier
from stages.verifiers.sandbox import Limits, SandboxExecutor

POLICIES = {"wall": (0.5, "wall"), "cpu": (0.25, "cpu")}  # floor, clock
BURNS_MS = (50, 100, 150, 200)
BURN = "\nimport time as _t\n_end = _t.process_time() + {s}\nwhile _t.process_time() < _end:\n    pass\n"


def slow_but_correct(problems: pl.DataFrame, n_problems: int) -> pl.DataFrame:
    """Each reference plus a CPU burn at import: correct, and slower by a known amount."""
    rows = []
    for r in problems.head(n_problems).iter_rows(named=True):
        for i, ms in enumerate(BURNS_MS):
            rows.append({"problem_id": r["problem_id"], "sample_idx": 1000 + i,
                         "completion": r["reference"] + BURN.format(s=ms / 1000)})
    return pl.DataFrame(rows)


FIRST_CALL_BURN = ("\nimport time as _t\n_orig, _calls = {ep}, []\n\ndef {ep}(*a, **k):\n"
                   "    if not _calls:\n        _calls.append(1)\n        _end = _t.process_time() + {s}\n"
                   "        while _t.process_time() < _end:\n            pass\n    return _orig(*a, **k)\n")


def slow_on_one_input(problems: pl.DataFrame, n_problems: int) -> pl.DataFrame:
    """Each reference with a CPU burn on its first call: correct, one input slower by a known amount."""
    rows = []
    for r in problems.head(n_problems).iter_rows(named=True):
        for i, ms in enumerate(BURNS_MS):
            rows.append({"problem_id": r["problem_id"], "sample_idx": 1000 + i,
                         "completion": r["reference"] + FIRST_CALL_BURN.format(ep=r["entry_point"], s=ms / 1000)})
    return pl.DataFrame(rows)


def judge_strong(problems: pl.DataFrame, candidates: pl.DataFrame, workers: int) -> tuple[dict, dict, float]:
    """Verdicts and output digests of ``strong_io``, limits calibrated per input under the current load."""
    start = time.perf_counter()
    with SandboxExecutor(workers=workers, cache_dir=None) as executor:
        timeouts = executor.calibrate_timeouts(problems, VerifyParams())
        results = run_verifier("strong_io", problems, candidates, executor, timeouts)
    return ({r.key: r.verdict for r in results}, {r.key: r.outputs for r in results},
            time.perf_counter() - start)


def main_strong(args: argparse.Namespace) -> None:
    problems = load_dataset("humanevalplus")
    backend = from_params(GenerateParams(n_samples=args.per_problem))
    pool = pl.concat(list(backend.generate(problems, args.per_problem, args.seed)))
    distinct = distinct_candidates(pool.select("problem_id", "sample_idx", "completion"))
    slow = slow_on_one_input(problems, args.slow_problems)
    candidates = pl.concat([distinct, slow])
    slow_keys = set(slow.select("problem_id", "sample_idx").iter_rows())
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}; {os.cpu_count()} cores; workers = {args.workers}; "
          f"load average {os.getloadavg()[0]:.1f} at start; suite strong_io (HumanEval+, per-input CPU limits)")
    print(f"candidates: {distinct.height} distinct synthetic-backend samples (offline stand-in, not a "
          f"model) + {slow.height} constructed slow-but-correct programs (first call burns {BURNS_MS} ms CPU)")
    idle, idle_answers, seconds = judge_strong(problems, candidates, args.workers)
    print(f"  idle:   {seconds:5.1f} s  {dict(Counter(idle.values()))}")
    load = busy_processes(args.load * (os.cpu_count() or 1))
    try:
        time.sleep(1.0)
        print(f"loaded: {len(load)} busy processes ({args.load} per core), load average {os.getloadavg()[0]:.1f}")
        loaded, answers, seconds = judge_strong(problems, candidates, args.workers)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    print(f"  loaded: {seconds:5.1f} s  {dict(Counter(loaded.values()))}")
    flips = [k for k, v in loaded.items() if v != idle[k]]
    moved = [k for k in loaded if answers[k] != idle_answers[k]]
    for name, keys in (("verdict", flips), ("answer (output digest)", moved)):
        pool_keys = [k for k in keys if k not in slow_keys]
        print(f"    {name} flips vs idle: pool {len(pool_keys)} of {distinct.height} "
              f"{[(k, idle[k], loaded[k]) for k in pool_keys[:8]]}; slow-but-correct "
              f"{len(keys) - len(pool_keys)} of {slow.height}")


def judge(problems: pl.DataFrame, candidates: pl.DataFrame, policy: str, workers: int) -> tuple[dict, float]:
    floor, clock = POLICIES[policy]
    start = time.perf_counter()
    with SandboxExecutor(workers=workers, cache_dir=None, limits=Limits(clock=clock)) as executor:
        _, limits = calibrated(problems, executor, floor)
        verdicts = {r.key: r.verdict for r in executor.run(jobs_for(problems, candidates, limits))}
    return verdicts, time.perf_counter() - start


def busy_processes(n: int) -> list[subprocess.Popen]:
    # Each in its own session, as other users' jobs would be: with autogroup scheduling a
    # session shares the CPU as one group, and the sandbox puts every job in a session of its own.
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--load", type=int, default=3, help="busy processes per core when loaded")
    parser.add_argument("--per-problem", type=int, default=20)
    parser.add_argument("--slow-problems", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--suite", choices=("weak_assert", "strong_io"), default="weak_assert")
    args = parser.parse_args()
    if args.suite == "strong_io":
        main_strong(args)
        return

    problems, pool = candidate_pool(args.per_problem, args.seed)
    distinct = distinct_candidates(pool)
    slow = slow_but_correct(problems, args.slow_problems)
    candidates = pl.concat([distinct, slow])
    slow_keys = set(slow.select("problem_id", "sample_idx").iter_rows())
    cores = os.cpu_count() or 1
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}; {cores} cores; workers = {args.workers}; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"candidates: {distinct.height} distinct synthetic-backend samples (offline stand-in, not a "
          f"model) + {slow.height} constructed slow-but-correct programs (burn {BURNS_MS} ms CPU)")

    idle: dict[str, dict] = {}
    for policy in POLICIES:
        idle[policy], seconds = judge(problems, candidates, policy, args.workers)
        print(f"  idle, {policy:4s}: {seconds:5.1f} s  {dict(Counter(idle[policy].values()))}")
    load = busy_processes(args.load * cores)
    try:
        time.sleep(1.0)
        print(f"loaded: {len(load)} busy processes ({args.load} per core), load average "
              f"{os.getloadavg()[0]:.1f}")
        for policy in POLICIES:
            loaded, seconds = judge(problems, candidates, policy, args.workers)
            flips = [k for k, v in loaded.items() if v != idle[policy][k]]
            pool_flips = [k for k in flips if k not in slow_keys]
            slow_flips = [k for k in flips if k in slow_keys]
            passes = (sum(v == "pass" for k, v in idle[policy].items() if k not in slow_keys),
                      sum(v == "pass" for k, v in loaded.items() if k not in slow_keys))
            print(f"  loaded, {policy:4s}: {seconds:5.1f} s  {dict(Counter(loaded.values()))}")
            print(f"    flips vs idle: pool {len(pool_flips)} of {distinct.height} {pool_flips[:5]}; "
                  f"slow-but-correct {len(slow_flips)} of {slow.height} "
                  f"({dict(Counter(idle[policy][k] + '->' + loaded[k] for k in slow_flips))}); "
                  f"pool passes idle {passes[0]} / loaded {passes[1]}")
    finally:
        for proc in load:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
