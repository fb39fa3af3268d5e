"""Verifiers: code unit tests (run by a swappable executor), math answers, LLM judges."""

from __future__ import annotations

from typing import Any

from stages.verifiers.sandbox import SandboxExecutor


def make_executor(params: Any) -> SandboxExecutor:
    """The executor the verify stage uses: the hardened sandbox (``stages.verifiers.sandbox``).

    It is a context manager; close it (or use ``with``) to stop its pre-warmed workers.
    """
    from stages.verifiers.sandbox import make_executor as make_sandbox

    return make_sandbox(params)
