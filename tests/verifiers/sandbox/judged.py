"""Shared by the comparison tests: judge a few (program, suite) pairs in a real sandbox."""

from __future__ import annotations

from stages.verifiers.base import ExecJob, Suite
from stages.verifiers.sandbox import SandboxExecutor


def verdicts(*pairs: tuple[str, Suite]) -> list[str]:
    """The verdict of each (program, suite) pair, in order (one worker, no cache, 1 s limit)."""
    jobs = [ExecJob(("p", i), program, suite, 1.0) for i, (program, suite) in enumerate(pairs)]
    with SandboxExecutor(workers=1, cache_dir=None) as ex:
        got = {r.key: r.verdict for r in ex.run(jobs)}
    return [got[job.key] for job in jobs]
