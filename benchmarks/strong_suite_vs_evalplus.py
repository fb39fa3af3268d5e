"""Wall time to verify N samples x 164 HumanEval+ problems against the strong suites: ours vs
EvalPlus's own evaluator, on the same samples, with the same worker count, in one run.

Samples come from the synthetic backend (the offline stand-in policy, NOT a model) on
HumanEval+. Ours: the verify stage's ``strong_io`` verifier (base + plus inputs in one sandboxed
execution per sample, stop at the first wrong output, verdict cache OFF). EvalPlus: its
``evalplus.evaluate`` CLI (base and plus suites, one process per suite per sample, its default
fast check), run from a separate virtual environment (``--evalplus-python``) with the mirror
file passed through ``HUMANEVAL_OVERRIDE_PATH``. Both sides' expected outputs are warmed first
(ours under ``.cache/expected``, EvalPlus's ground-truth pickle under ``~/.cache/evalplus``) and
that time is printed apart. Prints both wall times, the ratio, and verdict agreement.

Run: ``.venv/bin/python benchmarks/strong_suite_vs_evalplus.py --evalplus-python
/tmp/evalplus-venv/bin/python [--samples 100] [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from stages.backends import get_backend
from stages.datasets import evalplus, load_dataset
from stages.generate import generate
from stages.params import GenerateParams
from stages.verifiers.code_tests import run_verifier
from stages.verifiers.sandbox import SandboxExecutor


def run_ours(problems: pl.DataFrame, samples: pl.DataFrame, workers: int) -> tuple[float, dict]:
    timeouts = {p: 4.0 for p in problems["problem_id"]}  # EvalPlus's floor (its min time limit)
    with SandboxExecutor(workers=workers, cache_dir=None) as executor:
        t = time.perf_counter()
        results = run_verifier("strong_io", problems, samples, executor, timeouts)
        wall = time.perf_counter() - t
    return wall, {r.key: r.verdict == "pass" for r in results}


def run_evalplus(python: str, samples: pl.DataFrame, problems: pl.DataFrame, workers: int,
                 workdir: Path) -> tuple[float, float, dict]:
    path = evalplus.locate(evalplus.HUMANEVALPLUS)
    env = dict(os.environ, HUMANEVAL_OVERRIDE_PATH=str(path))
    prefix = dict(problems.select("problem_id", "program_prefix").iter_rows())

    def write(frame: pl.DataFrame, name: str) -> Path:
        out = workdir / name
        with out.open("w") as fh:
            for pid, completion in frame.select("problem_id", "completion").iter_rows():
                fh.write(json.dumps({"task_id": pid, "solution": prefix[pid] + completion}) + "\n")
        return out

    def evaluate(file: Path) -> tuple[float, Path]:
        result = workdir / (file.stem + "_eval_results.json")  # where evalplus 0.3.x writes
        cmd = [python, "-m", "evalplus.evaluate", "--dataset", "humaneval", "--samples", str(file),
               "--parallel", str(workers), "--i_just_wanna_run"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"evalplus failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return wall, result

    warm_wall, _ = evaluate(write(samples.filter(pl.col("sample_idx") == 0), "warm.jsonl"))
    wall, result = evaluate(write(samples, "samples.jsonl"))
    data = json.loads(result.read_text())["eval"]
    verdicts = {}
    for pid, rows in data.items():
        idx = samples.filter(pl.col("problem_id") == pid)["sample_idx"].to_list()
        for i, r in zip(idx, rows, strict=True):  # EvalPlus keeps each task's input order
            verdicts[(pid, i)] = r["base_status"] == r["plus_status"] == "pass"
    return warm_wall, wall, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--evalplus-python", required=True, help="python of a venv with evalplus")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    t = time.perf_counter()
    problems = load_dataset("humanevalplus")
    print(f"ours: HumanEval+ problems with expected outputs (cached) in {time.perf_counter() - t:.1f}s")
    samples = generate(problems, get_backend("synthetic", GenerateParams()), args.samples, args.seed)
    samples = samples.sort("problem_id", "sample_idx")
    with tempfile.TemporaryDirectory() as tmp:
        warm, theirs_wall, theirs = run_evalplus(args.evalplus_python, samples, problems,
                                                 args.workers, Path(tmp))
    print(f"evalplus: warm-up (ground truth + 164 samples) {warm:.1f}s")
    ours_wall, ours = run_ours(problems, samples, args.workers)
    agree = sum(ours[k] == theirs.get(k) for k in ours)
    print(f"samples: {samples.height} ({args.samples} x {problems.height}), workers: {args.workers}")
    print(f"ours     strong_io wall: {ours_wall:.1f}s  ({samples.height / ours_wall:.0f} samples/s), "
          f"pass: {sum(ours.values())}")
    print(f"evalplus base+plus wall: {theirs_wall:.1f}s  ({samples.height / theirs_wall:.0f} samples/s), "
          f"pass: {sum(theirs.values())}")
    print(f"ratio evalplus/ours: {theirs_wall / ours_wall:.2f}x; verdict agreement: "
          f"{agree}/{len(ours)} ({agree / len(ours):.4f})")
    diff = [k for k in ours if ours[k] != theirs.get(k)]
    for k in diff[:10]:
        print(f"  differs: {k} ours={'pass' if ours[k] else 'not pass'} "
              f"evalplus={'pass' if theirs.get(k) else 'not pass'}")


if __name__ == "__main__":
    main()
