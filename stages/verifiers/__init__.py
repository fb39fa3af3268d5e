"""Verifiers: code unit tests (run by a swappable executor), math answers, LLM judges."""

from __future__ import annotations

from typing import Any

from stages.verifiers.base import Executor


def make_executor(params: Any) -> Executor:
    """The executor the verify stage uses (the hardened sandbox when available)."""
    try:
        from stages.verifiers.sandbox import make_executor as make_sandbox
    except ImportError:
        from stages.verifiers.subprocess_exec import SubprocessExecutor

        return SubprocessExecutor(params.workers)
    return make_sandbox(params)
