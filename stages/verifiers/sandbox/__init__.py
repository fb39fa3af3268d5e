"""The hardened sandbox executor (issue 4): OS isolation, verdicts in the parent, fork servers.

Public API: :class:`SandboxExecutor` (the ``Executor`` protocol), :func:`make_executor` (from
``verify`` params), :func:`calibrate_timeouts` / :func:`timeout_for` (per-problem limits from
the reference's runtime), :func:`compute_outputs` (a trusted reference's outputs on inputs),
and the value codec (:func:`encode_value`, :func:`strict_equal`). See docs/sandbox.md.
"""

from __future__ import annotations

from pathlib import Path

from stages.params import VerifyParams
from stages.verifiers.sandbox.cache import DEFAULT_DIR, VerdictCache
from stages.verifiers.sandbox.calibrate import calibrate_timeouts, compute_outputs, timeout_for
from stages.verifiers.sandbox.codec import Unencodable, canonical, project, strict_equal
from stages.verifiers.sandbox.codec import encode as encode_value
from stages.verifiers.sandbox.executor import SandboxExecutor
from stages.verifiers.sandbox.levels import SandboxUnavailable, resolve_level
from stages.verifiers.sandbox.runs import Limits

__all__ = [
    "DEFAULT_DIR", "Limits", "SandboxExecutor", "SandboxUnavailable", "Unencodable",
    "VerdictCache", "calibrate_timeouts", "canonical", "compute_outputs", "encode_value",
    "make_executor", "project", "resolve_level", "strict_equal", "timeout_for",
]


def make_executor(params: VerifyParams, cache_dir: Path | None = DEFAULT_DIR) -> SandboxExecutor:
    """The executor the verify stage uses, from its ``verify:`` params section.

    ``workers`` (0: one per core), ``cache`` (on: verdicts under ``cache_dir``),
    ``timeout_floor_s``/``timeout_factor``/``timeout_clock`` (the timeout policy, part of the
    cache key; the floor is also the limit of a job that carries none), ``sandbox``, ``memory_mb``,
    ``all_tests``. Call ``close()`` (or use it as a context manager) when done.
    """
    policy = f"floor={params.timeout_floor_s}|factor={params.timeout_factor}"
    if params.timeout_clock != "wall":
        policy += f"|clock={params.timeout_clock}"
    return SandboxExecutor(
        workers=params.workers,
        sandbox=params.sandbox,
        limits=Limits(memory_mb=params.memory_mb, clock=params.timeout_clock),
        all_tests=params.all_tests,
        cache_dir=cache_dir if params.cache else None,
        timeout_policy=policy,
        default_timeout_s=params.timeout_floor_s,
    )
