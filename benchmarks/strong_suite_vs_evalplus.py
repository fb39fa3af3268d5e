"""Wall time to verify N samples x 164 HumanEval+ problems against the strong suites: ours vs
EvalPlus's own evaluator, on the same samples, with the same worker count, in one run.

Samples come from the synthetic backend (the offline stand-in policy, NOT a model) on
HumanEval+; with ``--constructed`` (CONSTRUCTED "real-model-like" styles, NOT model samples)
sample 0 of each problem is HumanEval+'s reference, 1 the reference returning 1/0 for
True/False, 2 the reference slowed by a fixed loop of 150,000 additions per call (about 3.5
ms of CPU here; the run prints its cost), and the rest synthetic variants and
mutants. Ours: the verify stage's path (per-input limits calibrated by
``calibrate_problems``, then the ``weak_io`` and ``strong_io`` verifiers: base + plus inputs in
one sandboxed execution per sample, stop at the first failure), timed twice: with the verdict
cache off (every sample executed) and with it on but empty at the start (a program repeating one
already run or running in this run gets that run's verdict: ``repeats.py``). EvalPlus: its
``evalplus.evaluate`` CLI (base and plus suites, one process per suite per sample, its default
fast check), run from a separate virtual environment (``--evalplus-python``) with the mirror
file passed through ``HUMANEVAL_OVERRIDE_PATH``. Both sides' expected outputs are warmed first
(ours under ``.cache/expected``, EvalPlus's ground-truth pickle under ``~/.cache/evalplus``) and
that time is printed apart. Prints both wall times, the ratio, and verdict agreement.

EvalPlus 0.3.1 (its latest release) fails every sample of HumanEval/32, its own reference
included: the ``find_zero`` branch of ``unsafe_execute`` ends in ``continue`` before recording
the input's result, so ``details`` comes back empty and ``untrusted_check`` turns the pass into
a fail. Upstream fixed it in commit 6eb1e19 ("fix(find_zero): record results before continue",
#241), after 0.3.1. By default this benchmark runs a copy of the installed package with exactly
that fix applied (two lines; the run says so); ``--evalplus-as-released`` runs it unchanged.

Each timing of ours also prints where its worker time went (by sample style and verdict, a
timeout's second run apart); ``--ours-only`` times ours alone for that, with no ratio.

Run: ``.venv/bin/python benchmarks/strong_suite_vs_evalplus.py --evalplus-python
/tmp/evalplus-venv/bin/python [--samples 100] [--workers 2] [--constructed]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from stages.backends import get_backend
from stages.datasets import evalplus, load_dataset
from stages.generate import generate
from stages.params import GenerateParams, VerifyParams
from stages.verifiers.code_tests import run_verifier
from stages.verifiers.sandbox import SandboxExecutor

BOOL_AS_INT = ("\n_orig = {ep}\n\ndef {ep}(*a, **k):\n    r = _orig(*a, **k)\n"
               "    return int(r) if type(r) is bool else r\n")
# The slowed style does a fixed amount of work per call. It first waited on the process clock
# (``while time.process_time() < end``), but while a CPU-time timer is armed (ITIMER_PROF, as
# our per-input limits arm one; EvalPlus arms none) the readings of that clock lag, so the wait
# burns more CPU than it asks for under one harness only: ``clock_artifact`` measures both.
SLOW_LOOP = 150_000
SLOWED = ("\n_orig = {ep}\n\ndef {ep}(*a, **k):\n"
          "    _s = 0\n    for _i in range(" f"{SLOW_LOOP}" "):\n        _s += _i\n"
          "    return _orig(*a, **k)\n")


def clock_artifact(calls: int = 200) -> str:
    """Per-call CPU ms of the slowed style, and of a 5 ms wait on the process clock, with and
    without an armed ITIMER_PROF (measured here, in this process)."""
    import signal

    def wait_5ms() -> None:
        end = time.process_time() + 0.005
        while time.process_time() < end:
            pass

    def fixed_work() -> None:
        s = 0
        for i in range(SLOW_LOOP):
            s += i

    def per_call(fn, armed: bool) -> float:
        start = time.process_time()
        for _ in range(calls):
            if armed:
                signal.setitimer(signal.ITIMER_PROF, 10.0)
            fn()
        signal.setitimer(signal.ITIMER_PROF, 0)
        return (time.process_time() - start) / calls * 1000

    return (f"slowed style (fixed work): {per_call(fixed_work, False):.2f} ms of CPU per call, "
            f"{per_call(fixed_work, True):.2f} with a CPU timer armed; a 5 ms wait on the process "
            f"clock: {per_call(wait_5ms, False):.2f} ms, {per_call(wait_5ms, True):.2f} with one armed")


def constructed(problems: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame:
    """Replace samples 0-2 of each problem by CONSTRUCTED correct styles (see module doc)."""
    rows = {r["problem_id"]: r for r in problems.iter_rows(named=True)}
    styles = {0: "", 1: BOOL_AS_INT, 2: SLOWED}

    def text(pid: str, idx: int, completion: str) -> str:
        if idx not in styles:
            return completion
        return rows[pid]["reference"] + styles[idx].format(ep=rows[pid]["entry_point"])

    return samples.with_columns(pl.struct("problem_id", "sample_idx", "completion").map_elements(
        lambda r: text(r["problem_id"], r["sample_idx"], r["completion"]),
        return_dtype=pl.String).alias("completion"))


def run_ours(problems: pl.DataFrame, samples: pl.DataFrame, workers: int,
             cache_dir: Path | None = None, styled: bool = False) -> tuple[float, float, dict, int, str]:
    """(calibration s, strong_io wall s, {sample: (weak pass, (verdict, detail))}, repeats,
    where the worker time went).

    ``cache_dir`` None: every sample is executed. A directory (empty): the verdict cache is on
    and cold, so a program that repeats one already run or running (same tree, same suite) gets
    that run's verdict instead of running again (``repeats`` counts them).
    """
    with SandboxExecutor(workers=workers, cache_dir=cache_dir) as executor:
        t = time.perf_counter()
        timeouts = executor.calibrate_timeouts(problems, VerifyParams())
        calibration = time.perf_counter() - t
        t = time.perf_counter()
        results = run_verifier("strong_io", problems, samples, executor, timeouts)
        wall = time.perf_counter() - t
        weak = run_verifier("weak_io", problems, samples, executor, timeouts)
    verdicts = {r.key: (r.verdict, r.detail) for r in results}
    repeats = sum(bool(r.extra and r.extra.get("cached")) for r in results)
    return calibration, wall, {k: (v, verdicts[k]) for k, v in
                               ((r.key, r.verdict == "pass") for r in weak)}, repeats, where_time_goes(results, styled)


def where_time_goes(results: list, styled: bool) -> str:
    """Worker-seconds of the executed strong_io jobs (repeats answered from the cache excluded)
    by sample style (``styled``: samples 0-2 are the constructed ones) and verdict; a timeout's
    second run, under 4x the limits, counted apart."""
    style = {0: "reference", 1: "bools as 1/0", 2: "slowed"} if styled else {}
    rows = pl.DataFrame({
        "style": [style.get(r.key[1], "synthetic") for r in results],
        "verdict": [r.verdict for r in results],
        "run_s": [r.duration_s for r in results],
        "second_run_s": [float((r.extra or {}).get("second_run_s") or 0.0) for r in results],
        "cached": [bool((r.extra or {}).get("cached")) for r in results],
    }).filter(~pl.col("cached"))
    parts = rows.group_by("style", "verdict").agg(pl.len().alias("jobs"), pl.col("run_s").sum(),
                                                  pl.col("second_run_s").sum()).sort("style", "verdict")
    total = rows["run_s"].sum() + rows["second_run_s"].sum()
    lines = [f"  worker-seconds of the {rows.height} executed jobs: {total:.1f}"]
    for r in parts.iter_rows(named=True):
        second = f" + second runs {r['second_run_s']:.1f} s" if r["second_run_s"] else ""
        lines.append(f"    {r['style']:>12} {r['verdict']:<8} {r['jobs']:>5} jobs {r['run_s']:7.1f} s{second}")
    return "\n".join(lines)


FIND_ZERO_BRANCH = ("                            assert abs(_poly(*inp, out)) <= atol\n"
                    "                            continue\n")
FIND_ZERO_FIXED = ("                            assert abs(_poly(*inp, out)) <= atol\n"
                   "                            details[i] = True\n"
                   "                            progress.value += 1\n"
                   "                            continue\n")


def patched_evalplus(python: str, workdir: Path) -> Path:
    """A copy of the installed evalplus package with upstream's fix 6eb1e19 applied (see the
    module doc); returns the directory to put first on PYTHONPATH."""
    where = subprocess.run([python, "-c", "import evalplus, os; print(os.path.dirname(evalplus.__file__))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    root = workdir / "evalplus-fixed"
    shutil.copytree(where, root / "evalplus")
    target = root / "evalplus" / "eval" / "__init__.py"
    text = target.read_text()
    if text.count(FIND_ZERO_BRANCH) != 1:
        sys.exit(f"{target}: the find_zero branch of EvalPlus 0.3.1 was not found; "
                 "pass --evalplus-as-released")
    target.write_text(text.replace(FIND_ZERO_BRANCH, FIND_ZERO_FIXED))
    return root


def run_evalplus(python: str, samples: pl.DataFrame, problems: pl.DataFrame, workers: int,
                 workdir: Path, fixed: bool = True) -> tuple[float, float, dict]:
    path = evalplus.locate(evalplus.HUMANEVALPLUS)
    env = dict(os.environ, HUMANEVAL_OVERRIDE_PATH=str(path))
    if fixed:
        env["PYTHONPATH"] = str(patched_evalplus(python, workdir))
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
            verdicts[(pid, i)] = (r["base_status"] == "pass", r["plus_status"])
    return warm_wall, wall, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--evalplus-python", default=os.environ.get("EVALPLUS_PYTHON"),
                    help="python of a venv with evalplus 0.3.1 (default: $EVALPLUS_PYTHON)")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--constructed", action="store_true", help="CONSTRUCTED styles in samples 0-2")
    ap.add_argument("--no-repeats", action="store_true",
                    help="time ours with every sample executed only (not also with a cold verdict cache)")
    ap.add_argument("--evalplus-as-released", action="store_true",
                    help="run EvalPlus 0.3.1 without upstream's find_zero fix 6eb1e19")
    ap.add_argument("--ours-only", action="store_true",
                    help="time ours alone (where its time goes; no ratio, no agreement)")
    args = ap.parse_args()
    if not args.evalplus_python and not args.ours_only:
        print("skipped: needs EvalPlus's evaluator (pass --evalplus-python or set EVALPLUS_PYTHON "
              "to the python of a venv with evalplus 0.3.1 installed)")
        return

    t = time.perf_counter()
    problems = load_dataset("humanevalplus")
    print(f"ours: HumanEval+ problems with expected outputs (cached) in {time.perf_counter() - t:.1f}s")
    samples = generate(problems, get_backend("synthetic", GenerateParams()), args.samples, args.seed)
    samples = samples.sort("problem_id", "sample_idx")
    if args.constructed:
        samples = constructed(problems, samples)
        print("samples 0-2 per problem: CONSTRUCTED correct styles (reference, 1/0 for bools, slowed)")
        print(clock_artifact())
    theirs_wall, theirs, evalplus_strong, their_fp = None, {}, {}, []
    if not args.ours_only:
        print("evalplus: " + ("as installed" if args.evalplus_as_released else
                              "installed package with upstream fix 6eb1e19 (find_zero records its result)"))
        with tempfile.TemporaryDirectory() as tmp:
            warm, theirs_wall, theirs = run_evalplus(args.evalplus_python, samples, problems, args.workers,
                                                     Path(tmp), not args.evalplus_as_released)
        print(f"evalplus: warm-up (ground truth + 164 samples) {warm:.1f}s")
        evalplus_strong = {k: base and plus == "pass" for k, (base, plus) in theirs.items()}
        their_fp = [plus != "pass" for base, plus in theirs.values() if base]
    print(f"samples: {samples.height} ({args.samples} x {problems.height}), workers: {args.workers}")
    if theirs_wall is not None:
        print(f"evalplus base+plus wall: {theirs_wall:.1f}s  ({samples.height / theirs_wall:.0f} samples/s), "
              f"pass: {sum(evalplus_strong.values())}")
    modes = {"every sample executed (verdict cache off)": False}
    if not args.no_repeats:
        modes["repeats run once (verdict cache on, empty at the start)"] = True
    for mode, cached in modes.items():
        with tempfile.TemporaryDirectory() as tmp:
            calibration, ours_wall, ours, repeats, breakdown = run_ours(
                problems, samples, args.workers, Path(tmp) if cached else None, args.constructed)
        strong = {k: v[1][0] == "pass" for k, v in ours.items()}
        print(f"ours, {mode}:")
        print(f"  calibration (per input): {calibration:.1f}s; repeats answered without running: {repeats}")
        print(f"  strong_io wall: {ours_wall:.1f}s  ({samples.height / ours_wall:.0f} samples/s), "
              f"pass: {sum(strong.values())}")
        print(breakdown)
        if theirs_wall is None:
            continue
        agree = sum(strong[k] == evalplus_strong.get(k) for k in strong)
        print(f"  ratio evalplus/ours: {theirs_wall / ours_wall:.2f}x; verdict agreement: "
              f"{agree}/{len(strong)} ({agree / len(strong):.4f})")
        # false-positive share: of the samples passing the base (weak) inputs, the share failing plus
        ours_fp = [not strong[k] for k, (weak, _) in ours.items() if weak]
        print(f"  false-positive share (weak pass, strong fail | weak pass): ours "
              f"{sum(ours_fp) / max(1, len(ours_fp)):.4f}, evalplus {sum(their_fp) / max(1, len(their_fp)):.4f}")
        for k in sorted(k for k in strong if strong[k] != evalplus_strong.get(k)):
            verdict, detail = ours[k][1]
            print(f"    differs: {k} ours={verdict} ({detail[:80]}) evalplus={theirs.get(k)}")


if __name__ == "__main__":
    main()
