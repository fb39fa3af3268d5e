"""Unit-test verifiers for code: one per suite a problem carries.

Verifier names say both the role (weak = the dataset's original suite, strong = augmented or
EvalPlus suites) and the kind (assert = the dataset's own assertion code, run inside the
candidate's process and therefore gameable; io = inputs/outputs compared in the trusted parent):

- ``weak_assert``: ``program + test + check(entry_point)`` (HumanEval's ``check``);
- ``weak_io``: the original inputs (``inputs_weak``), outputs compared by the parent;
- ``strong_io``: original + added inputs (``inputs_strong``).

Decided here, before anything runs: an empty completion is ``empty``; a program that does not
compile is ``syntax_error`` (compiled in the parent, never executed); a problem without the
suite is ``error`` with a detail saying so. Everything else goes to the executor.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace

import polars as pl

from stages.augment_mutation import seed_inputs
from stages.datasets import typed_json
from stages.datasets.evalplus import (
    MBPP_OUTPUT_SET_EQ_TASKS,
    MBPP_SPECIAL_ORACLES,
    POLY_ROOT_ATOL,
    POLY_ROOT_TASKS,
)
from stages.verifiers.base import AssertSuite, ExecJob, ExecResult, Executor, IOSuite, Suite
from stages.verifiers.sandbox import codec, oracles

SUITE_COLUMNS = {"weak_assert": "test", "weak_io": "inputs_weak", "strong_io": "inputs_strong"}


def applicable_verifiers(problems: pl.DataFrame) -> list[str]:
    """The code verifiers that the dataset supports (any problem has that suite)."""
    code = problems.filter(pl.col("kind") == "code")
    return [name for name, col in SUITE_COLUMNS.items() if (code[col].str.strip_chars() != "").any()]


def oracle(problem: dict, compare: str = "evalplus") -> tuple[str, float]:
    """How a problem's io suites judge an output: ``IOSuite.compare`` and its tolerance.

    ``exact`` is EvalPlus's equality, ``strict`` the typed one (``verify.compare``); the
    special oracles of EvalPlus hold under both, because they say what a right answer *is*:
    ``set`` for MBPP+'s order-free tasks, ``poly_root`` for HumanEval's ``find_zero``, and the
    MBPP+ tasks of ``MBPP_SPECIAL_ORACLES`` (:mod:`stages.verifiers.sandbox.oracles`).
    """
    atol = float(problem.get("atol") or 0.0)
    dataset, entry = problem.get("dataset"), problem.get("entry_point")
    if dataset == "mbppplus" and entry in MBPP_OUTPUT_SET_EQ_TASKS:
        return "set", atol
    if dataset == "mbppplus" and entry in MBPP_SPECIAL_ORACLES:
        return MBPP_SPECIAL_ORACLES[entry], atol
    if dataset in ("humaneval", "humanevalplus") and entry in POLY_ROOT_TASKS:
        return "poly_root", atol or POLY_ROOT_ATOL
    return ("strict" if compare == "strict" else "exact"), atol


def reference_output_holds(problem: dict, args: list, output) -> bool:
    """Whether the reference's output on ``args`` passes the problem's own oracle: only an
    oracle that reads the input can reject it (``poly_root``: Newton's method may stop short of
    a root on an input outside the documented domain), and such an input is no test."""
    mode, atol = oracle(problem)
    return mode != "poly_root" or oracles.poly_root(codec.decode_typed(args)[0], output, atol)


def _suite(name: str, problem: dict, compare: str = "evalplus") -> Suite | None:
    """The suite ``name`` of one problem; ``compare`` (``verify.compare``): ``evalplus``, the
    reference harness's equality (``1 == True``, float tolerance), or ``strict`` (typed)."""
    if name == "weak_assert":
        return AssertSuite(problem["test"], problem["entry_point"]) if problem["test"].strip() else None
    inputs_col = SUITE_COLUMNS[name]
    outputs_col = inputs_col.replace("inputs", "outputs")
    if not problem[inputs_col].strip():
        return None
    inputs, expected = json.loads(problem[inputs_col]), json.loads(problem[outputs_col] or "null")
    if expected is None or len(expected) != len(inputs):
        return None
    mode, atol = oracle(problem, compare)
    return IOSuite(problem["entry_point"], tuple(inputs), tuple(expected), atol, mode,
                   cluster_inputs=cluster_inputs(problem, inputs))


def cluster_inputs(problem: dict, inputs: list) -> int:
    """How many of the suite's first ``inputs`` (typed JSON) make a sample's answer.

    Clusters (majority vote) come from the raw outputs on the dataset's own inputs, all of them
    run: never from agreement with the expected outputs. Those are the weak inputs where the
    dataset has them (HumanEval+, MBPP+: its base inputs, the first ones of the strong suite);
    else the seeds augmentation started from, the calls in the assertion tests and the prompt's
    examples (``augment_mutation.seed_inputs``), which open an augmented suite. Not the added
    inputs: those exist to break slow or wrong programs, and a wrong program that is slow on
    them made its answer a matter of the clock (issue 15). With no seed at the front, all.
    """
    weak = (problem.get("inputs_weak") or "").strip()
    if weak:
        return min(len(inputs), len(json.loads(weak)))
    seeds = {typed_json.canonical(s) for s in seed_inputs(problem)}
    leading = 0
    for args in inputs:
        if typed_json.canonical(typed_json.from_jsonable(args)) not in seeds:
            break
        leading += 1
    return leading or len(inputs)


def with_input_limits(suite: IOSuite, limits: dict[str, float], floor_s: float) -> IOSuite:
    """The suite with each input's own CPU limit (``calibrate.Timeouts.inputs`` of its problem;
    an input the reference was not timed on gets ``floor_s``, as does loading the program)."""
    from stages.verifiers.sandbox.codec import encode_args

    each = tuple(limits.get(encode_args(args), floor_s) for args in suite.inputs)
    return replace(suite, input_limits_s=each, load_limit_s=floor_s)


@dataclass(frozen=True)
class Prejudged:
    """A verdict decided without running anything."""

    result: ExecResult


def plan_jobs(
    name: str, problems: pl.DataFrame, samples: pl.DataFrame, timeouts: dict[str, float],
    compare: str = "evalplus", check_syntax: bool = True,
) -> Iterator[ExecJob | Prejudged]:
    """One job (or a verdict decided up front) per sample, for verifier ``name``.

    ``check_syntax``: compile each program here (once per distinct text) and decide the ones
    that do not compile; off for an executor that does so itself (``judges_syntax``), where it
    would be the same compile twice."""
    by_id = {p["problem_id"]: p for p in problems.iter_rows(named=True)}
    suites = {pid: _suite(name, p, compare) for pid, p in by_id.items()}
    per_input = getattr(timeouts, "inputs", {})  # calibrate.Timeouts: limits per input
    for pid, suite in suites.items():
        if isinstance(suite, IOSuite) and pid in per_input:
            suites[pid] = with_input_limits(suite, per_input[pid], getattr(timeouts, "floor", 0.0))
    broken: dict[bytes, str | None] = {}  # program digest -> why it does not compile: a repeat compiles once
    for pid, idx, completion in samples.select("problem_id", "sample_idx", "completion").iter_rows():
        key = (pid, idx)
        problem = by_id[pid]
        suite = suites[pid]
        if not (completion or "").strip():
            yield Prejudged(ExecResult(key, "empty", "empty completion"))
            continue
        if suite is None:
            yield Prejudged(ExecResult(key, "error", f"problem has no {name} tests"))
            continue
        program = problem["program_prefix"] + completion
        if not check_syntax:
            yield ExecJob(key, program, suite, _budget(suite, timeouts.get(pid, 0.0)))
            continue
        text = hashlib.sha1(program.encode("utf-8", "surrogatepass")).digest()
        if text not in broken:
            broken[text] = _compile_error(program, "<candidate>")
        if broken[text] is not None:
            yield Prejudged(ExecResult(key, "syntax_error", broken[text]))
            continue
        yield ExecJob(key, program, suite, _budget(suite, timeouts.get(pid, 0.0)))


def _budget(suite: Suite, limit: float) -> float:
    """A job's whole budget: the problem's limit, or the sum of its inputs' own limits."""
    if isinstance(suite, IOSuite) and suite.input_limits_s:
        return suite.load_limit_s + sum(suite.input_limits_s)
    return limit


def _compile_error(program: str, filename: str) -> str | None:
    try:
        compile(program, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in source
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def run_verifier(
    name: str,
    problems: pl.DataFrame,
    samples: pl.DataFrame,
    executor: Executor,
    timeouts: dict[str, float],
    on_result: callable = lambda r: None,  # type: ignore[valid-type]
    compare: str = "evalplus",
) -> list[ExecResult]:
    """Run one code verifier over all samples; results in no particular order.

    The jobs are planned as the executor takes them (a verdict decided up front is recorded on
    the way), so no more than the executor's look-ahead of programs is held at once.
    """
    results: list[ExecResult] = []
    decided: deque[ExecResult] = deque()  # filled on the executor's feeder thread, read here
    sandbox = getattr(executor, "sandbox", executor.sandbox_level)

    def jobs() -> Iterator[ExecJob]:
        check_syntax = not getattr(executor, "judges_syntax", False)
        for item in plan_jobs(name, problems, samples, timeouts, compare, check_syntax):
            if isinstance(item, Prejudged):
                # Decided without running; recorded under the level the other rows ran at.
                decided.append(replace(item.result, sandbox=sandbox))
            else:
                yield item

    def record(result: ExecResult) -> None:
        results.append(result)
        on_result(result)

    for result in executor.run(jobs()):
        record(result)
        while decided:
            record(decided.popleft())
    while decided:  # those planned after the last run's result
        record(decided.popleft())
    return results
