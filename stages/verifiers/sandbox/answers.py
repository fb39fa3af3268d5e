"""A fail's answer when a time limit cut its clustering inputs: re-run them under looser limits.

The answer of a code sample (its cluster for majority vote) is the digest of its raw outputs on
the clustering inputs, which run even past a wrong output (:class:`verdicts.IOCheck`). Limits are
per input and on the CPU clock, yet a program whose cost sits within noise of a limit (HumanEval/75
sample 11: 12-27x the reference's CPU time per input, its limit 20x) is cut on one run and not on
the next, and its answer flipped between None and a digest, and with it ``dvc.lock`` (issue 15).
Once a wrong output has decided the verdict, what the clock decides is only whether an answer
exists; so the executor runs the clustering inputs once more, every limit ``ANSWER_LIMIT_FACTOR``
times its own, and the digest of that run is the answer. The verdict and its detail stand.
A timeout keeps no answer: there the clock decided the verdict itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from stages.verifiers.base import ExecJob, ExecResult
from stages.verifiers.sandbox.runs import RawRun
from stages.verifiers.sandbox.verdicts import IOCheck

# Far above a program within noise of its limit (the HumanEval/75 mutant peaks at 1.5x), so it
# gets the same answer on every run; a program that hangs there costs 4 limits and has none.
ANSWER_LIMIT_FACTOR = 4.0


class Pending(NamedTuple):
    """A finished fail that waits for its answer; ``result`` is final but for ``outputs``."""

    job: ExecJob
    key: str | None  # its verdict-cache key: cached once the answer is in
    code: bytes | None
    result: ExecResult


def clustered(job: ExecJob) -> int:
    """How many of the suite's first inputs make the answer (``IOSuite.cluster_inputs``)."""
    return min(getattr(job.suite, "cluster_inputs", None) or 0, len(getattr(job.suite, "inputs", ())))


def looser_limits(limits: dict[str, Any] | None, n: int, timeout_s: float) -> tuple[dict | None, float]:
    """The re-run's per-input limits (``zygote_job._arm``'s shape) over the first ``n`` inputs
    and its whole-job budget: each ``ANSWER_LIMIT_FACTOR`` x the verdict run's."""
    if limits is None:
        return None, timeout_s * ANSWER_LIMIT_FACTOR
    each = [s * ANSWER_LIMIT_FACTOR for s in limits["in"][:n]]
    load = limits["load"] * ANSWER_LIMIT_FACTOR
    return {"load": load, "in": each, "wall": limits["wall"]}, load + sum(each)


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
