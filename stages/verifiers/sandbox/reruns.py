"""A second run under looser limits, where a time limit cut a run whose outcome a wrong output decides.

Limits are per input and on the CPU clock, and the CPU time of the same code on this VM moves by
up to 1.8x with load. A program whose cost sits within that noise of a limit (HumanEval/75
sample 11: 10-19x the reference's CPU time on its first inputs, the two timed back to back,
against a 20x limit) is cut on one run and not on the next, and before this its verdict flipped between
``fail`` and ``timeout``, its answer between a digest and None, and ``dvc.lock`` with them
(issue 15). No rule on this clock can place a limit away from such a program, so the second run
makes the clock decide only what only the clock can decide:

- **A timeout** (``VERDICT``): the job runs again, every limit ``RERUN_LIMIT_FACTOR`` times its
  own. If that run reaches a wrong output (or an exception, or another verdict the program's
  outputs decide), that is the verdict: a program that is wrong is ``fail`` whatever its speed.
  If it passes, or is cut again, the verdict stays ``timeout``: a slow program with no wrong
  output is where a time limit decides, as in EvalPlus. Pass/not-pass never changes, so
  pass@k and agreement with EvalPlus do not.
- **A fail whose clustering inputs a limit cut** (``ANSWER``): the clustering inputs run again
  under the looser limits, and the digest of that run is the answer (its cluster for majority
  vote). Verdict and detail stand.

What is left to the clock is a wrong program whose cost before its first wrong output is within
noise of 4 limits (80x the reference's time by default), and a correct one within noise of its
limit. The cost: a program that hangs pays its limit 4 more times.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from stages.verifiers.base import ExecJob, ExecResult
from stages.verifiers.sandbox.runs import RawRun
from stages.verifiers.sandbox.verdicts import IOCheck

# Far above a program within noise of its limit (the HumanEval/75 mutant peaks at 1.5x), so it
# gets the same outcome on every run; a program that hangs costs 4 limits more.
RERUN_LIMIT_FACTOR = 4.0
VERDICT, ANSWER = "verdict", "answer"
DECIDED_BY_CLOCK = ("pass", "timeout")  # second-run verdicts that leave the first run's timeout


class Pending(NamedTuple):
    """A finished first run that waits for a second one; ``result`` is the first run's."""

    job: ExecJob
    key: str | None  # its verdict-cache key: cached once the second run is in
    code: bytes | None
    result: ExecResult
    kind: str = ANSWER  # VERDICT: a timeout; ANSWER: a fail's cut clustering inputs


def clustered(job: ExecJob) -> int:
    """How many of the suite's first inputs make the answer (``IOSuite.cluster_inputs``)."""
    return min(getattr(job.suite, "cluster_inputs", None) or 0, len(getattr(job.suite, "inputs", ())))


def looser_limits(limits: dict[str, Any] | None, n: int, timeout_s: float) -> tuple[dict | None, float]:
    """The second run's per-input limits (``zygote_job._arm``'s shape) over the first ``n``
    inputs and its whole-job budget: each ``RERUN_LIMIT_FACTOR`` x the first run's (the budget
    at most the looser limits' sum, so a program that disarms its timers pays no more)."""
    if limits is None:
        return None, timeout_s * RERUN_LIMIT_FACTOR
    each = [s * RERUN_LIMIT_FACTOR for s in limits["in"][:n]]
    load = limits["load"] * RERUN_LIMIT_FACTOR
    return {"load": load, "in": each, "wall": limits["wall"]}, min(load + sum(each), timeout_s * RERUN_LIMIT_FACTOR)


def digest_check(n: int, atol: float) -> IOCheck:
    """An IOCheck that only collects digests: nothing expected, every clustering input runs."""
    return IOCheck([], atol, stop_at_first_failure=False, cluster_inputs=n)


def answer_of(check: IOCheck, run: RawRun, n: int) -> str | None:
    """The digest over the ``n`` clustering inputs if the re-run got through them (or raised on
    one: an exception is an output); None where a limit, the memory guard or a lost worker cut it."""
    complete = len(check.digests) >= n or check.digests[-1:] == ["E"]
    if not complete or run.worker_died or getattr(run, "memory_limited", False):
        return None
    return check.outputs_digest()


def settle_timeout(first: ExecResult, second: ExecResult, second_run: RawRun) -> ExecResult:
    """A timeout's final result from its second run (see the module doc). Its duration and CPU
    time stay the first run's (where the limit stopped it); ``extra["second_run_s"]``: the
    second run's wall seconds."""
    kept = first if second.verdict in DECIDED_BY_CLOCK or second_run.worker_died else second
    extra = {**kept.extra, "cpu_s": first.extra.get("cpu_s"), "second_run_s": second.duration_s}
    return replace(kept, duration_s=first.duration_s, extra=extra)
