"""Time limits from the reference solution's measured runtime, and reference outputs.

A fixed timeout makes verdicts depend on the machine: the same samples scored pass@1 about 0.40
on one machine and 0.23 on another (EvalPlus issue #5). EvalPlus instead gives each *input*
``max(1 s, 4 x the reference's wall time on it)`` (Liu et al. 2023); we give each input
``max(floor, factor x the reference's CPU time on it)``, the reference timed in the same
sandbox as the candidates (:func:`calibrate_problems`, per input for input/output suites, per
suite for assertion suites; docs/sandbox.md justifies the floor with HumanEval/60).
:func:`compute_outputs` runs a *trusted* reference on given inputs inside the sandbox, to build
expected outputs for input/output suites.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from stages.verifiers.base import AssertSuite, ExecJob, ExecResult, Executor
from stages.verifiers.sandbox import codec
from stages.verifiers.sandbox.executor import SandboxExecutor
from stages.verifiers.sandbox.verdicts import decide_collect

CALIBRATION_TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


class Timeouts(dict):
    """Per problem id: the whole-suite limit (assertion suites; input suites without per-input
    limits). ``inputs[problem_id][codec.encode_args(args)]``: that input's own limit; ``floor``:
    the limit of an input the reference was not timed on, and of loading the program (its
    module-level code; the fork server imports numpy itself for a job that names it)."""

    def __init__(self, limits: dict[str, float], inputs: dict[str, dict[str, float]] | None = None,
                 floor: float = 0.0) -> None:
        super().__init__(limits)
        self.inputs = inputs or {}
        self.floor = floor


def timeout_for(reference_s: float, floor_s: float, factor: float) -> float:
    """EvalPlus-style per-problem limit: ``max(floor, factor x reference time)``."""
    return max(floor_s, factor * reference_s)


def calibrate_timeouts(
    reference_jobs: Iterable[ExecJob],
    floor_s: float,
    factor: float,
    executor: SandboxExecutor | None = None,
    repeats: int | None = None,
) -> dict[str, float]:
    """Per problem id: ``timeout_for`` the fastest of ``repeats`` sandboxed reference runs.

    ``reference_jobs`` hold each problem's reference program (prefix + reference) and the suite
    the candidates will face; keys are ``(problem_id, anything)``. The jobs run without the
    verdict cache (a cached duration would not be a measurement) under a generous limit. A
    reference that does not pass is logged and still gets a limit (from its measured time).
    The time is measured on the executor's clock (``Limits.clock``): CPU or wall seconds.
    ``repeats`` (None: ``default_repeats``) guards against a run slowed by something else.
    """
    own = executor is None
    runner = executor or SandboxExecutor(cache_dir=None)
    # Each reference ``repeats`` times in one pass (no barrier between the passes).
    n = default_repeats(runner) if repeats is None else max(1, repeats)
    jobs = [ExecJob(j.key, j.program, j.suite, CALIBRATION_TIMEOUT_S)
            for j in reference_jobs for _ in range(n)]
    fastest: dict[str, float] = {}
    failed: dict[str, str] = {}
    try:
        for result in _uncached(runner, jobs):
            pid = result.key[0]
            fastest[pid] = min(fastest.get(pid, float("inf")), _measured(runner, result))
            if result.verdict != "pass":
                failed[pid] = f"{result.verdict}: {result.detail}"
    finally:
        if own:
            runner.close()
    for pid, why in sorted(failed.items()):
        log.warning("calibration: reference of %s does not pass its own suite (%s)", pid, why)
    return {pid: timeout_for(seconds, floor_s, factor) for pid, seconds in fastest.items()}


def calibrate_problems(
    problems: pl.DataFrame,
    floor_s: float,
    factor: float,
    executor: SandboxExecutor,
    repeats: int | None = None,
) -> Timeouts:
    """Per code problem: limits from its reference's measured times (fastest of ``repeats``).

    Each input of ``inputs_strong`` and ``inputs_weak`` gets ``timeout_for`` the reference's CPU
    time on that input (``Timeouts.inputs``). The problem's whole-suite limit (assertion test;
    input suites run without per-input limits) is ``timeout_for`` its slowest suite, the
    assertion test or all inputs together. Problems without a reference get the floor.
    """
    code = problems.filter(pl.col("kind") == "code")
    limits = {pid: floor_s for pid in code["problem_id"]}
    rows = [r for r in code.iter_rows(named=True) if (r["reference"] or "").strip()]
    jobs = [ExecJob((r["problem_id"], 0), r["program_prefix"] + r["reference"],
                    AssertSuite(r["test"], r["entry_point"]), 0.0)
            for r in rows if (r["test"] or "").strip()]
    slowest = calibrate_timeouts(jobs, 0.0, 1.0, executor, repeats)  # floor 0, factor 1: the times
    n_runs = default_repeats(executor) if repeats is None else max(1, repeats)
    per_input: dict[str, dict[str, float]] = {}

    def time_inputs(row: dict[str, Any]) -> tuple[str, float, dict[str, float]]:
        encoded: dict[str, None] = {}  # both suites' inputs, each once, in order
        for col in ("inputs_strong", "inputs_weak"):
            text = (row.get(col) or "").strip()
            for args in json.loads(text) if text else []:
                encoded.setdefault(codec.encode_args(args), None)
        if not encoded:
            return row["problem_id"], 0.0, {}
        best, each = float("inf"), [float("inf")] * len(encoded)
        for _ in range(n_runs):
            run = executor.run_inputs(row["program_prefix"] + row["reference"], row["entry_point"],
                                      list(encoded), CALIBRATION_TIMEOUT_S, timing=True)
            best = min(best, run.cpu_s if _cpu_clock(executor) else run.wall_s)
            for i, seconds in input_times(run).items():
                each[i] = min(each[i], seconds)
            values, why = decide_collect(run, len(encoded))
            if values is None:
                log.warning("calibration: reference of %s fails on its inputs (%s)", row["problem_id"], why)
        times = {args: timeout_for(t if t != float("inf") else 0.0, floor_s, factor)
                 for args, t in zip(encoded, each)}
        return row["problem_id"], best, times

    with ThreadPoolExecutor(max(1, executor.workers)) as pool:
        for pid, seconds, times in pool.map(time_inputs, rows):
            slowest[pid] = max(slowest.get(pid, 0.0), seconds)
            if times and _cpu_clock(executor):  # per-input limits are CPU time (zygote_job._arm)
                per_input[pid] = times
    for pid, seconds in slowest.items():
        limits[pid] = timeout_for(seconds, floor_s, factor)
    return Timeouts(limits, per_input, floor_s)


def input_times(run: Any) -> dict[int, float]:
    """Per input index: the reference's CPU seconds on it, from the ``T i s`` report lines of a
    run with ``timing`` (``SandboxExecutor.run_inputs``)."""
    times: dict[int, float] = {}
    for line in run.lines:
        kind, _, rest = line.partition(b" ")
        index, _, seconds = rest.partition(b" ")
        if kind == b"T" and index.isdigit():
            try:
                times[int(index)] = float(seconds)
            except ValueError:
                continue
    return times


def default_repeats(executor: Executor) -> int:
    """Runs per reference: 1 on the CPU clock (another process preempting the run adds no CPU
    time: the 164 HumanEval references vary by at most 4 % between runs), 2 (the fastest
    counts) on the wall clock, where a run slowed by the machine's load would set the limit."""
    return 1 if _cpu_clock(executor) else 2


def _cpu_clock(executor: Executor) -> bool:
    limits = getattr(executor, "limits", None)
    return getattr(limits, "clock", "wall") == "cpu"


def _measured(executor: Executor, result: ExecResult) -> float:
    """A reference run's time on the clock its candidates' limits will be measured on."""
    if _cpu_clock(executor) and "cpu_s" in result.extra:
        return float(result.extra["cpu_s"])
    return result.duration_s


def _uncached(executor: Executor, jobs: list[ExecJob]):
    cache = getattr(executor, "cache", None)
    if cache is not None:
        executor.cache = None  # type: ignore[attr-defined]
    try:
        yield from executor.run(jobs)
    finally:
        if cache is not None:
            executor.cache = cache  # type: ignore[attr-defined]


def compute_outputs(
    program: str,
    entry_point: str,
    inputs: list[list[Any]],
    timeout_s: float = 60.0,
    executor: SandboxExecutor | None = None,
) -> tuple[list[Any] | None, str]:
    """Run a trusted ``program``'s ``entry_point`` on each argument list, in the sandbox.

    Returns ``(outputs, "")`` with one JSON value per input (the projection the verifier
    compares against: tuples as lists, sets as sorted lists, see ``codec``), or ``(None, why)``
    if the program raised, timed out, or returned something that is not plain data.
    """
    own = executor is None
    runner = executor or SandboxExecutor(workers=1, cache_dir=None)
    try:
        return runner.collect_outputs(program, entry_point, inputs, timeout_s)
    finally:
        if own:
            runner.close()
