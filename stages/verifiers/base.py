"""Contracts of verification: what a test job is, what an executor returns, what a verifier does.

An *executor* runs untrusted candidate programs against a test suite and returns one
:class:`ExecResult` per :class:`ExecJob`; it is swappable (the plain subprocess executor of the
spine, the hardened sandbox). A *verifier* turns (problems, samples) into verdict rows
(``stages.schemas.VERDICTS_SCHEMA``) and names itself in the ``verifier`` column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import polars as pl


@dataclass(frozen=True)
class AssertSuite:
    """Assertion-style tests run as the dataset defines them (HumanEval's ``check``).

    This is the weak verifier under study: it runs in the candidate's own process, so a
    candidate can game it. Recorded as its own verifier kind so that this is measured.
    """

    test: str
    entry_point: str


@dataclass(frozen=True)
class IOSuite:
    """Input/output tests: the candidate only computes outputs; the trusted parent compares."""

    entry_point: str
    inputs: tuple[Any, ...]  # each item: the list of positional arguments of one call
    expected: tuple[Any, ...]  # expected return value per input (JSON-compatible)
    atol: float = 0.0
    # "exact" (EvalPlus's equality: 1 == True, float tolerance), "strict" (by type and value) or
    # "set": the output's elements as a set, for tasks whose reference returns a collection in
    # an arbitrary order (EvalPlus's set-equality oracle). See docs/sandbox.md.
    compare: str = "exact"
    # Per-input CPU limits (from the reference's time on each input) and the limit of loading
    # the program; empty: the job's timeout covers the whole suite (docs/sandbox.md).
    input_limits_s: tuple[float, ...] = ()
    load_limit_s: float = 0.0
    # The first cluster_inputs inputs always run and their raw outputs make the sample's output
    # digest, its cluster for majority vote: no expected output takes part (None: not reserved).
    cluster_inputs: int | None = None


Suite = AssertSuite | IOSuite


@dataclass(frozen=True)
class ExecJob:
    key: tuple[str, int]  # (problem_id, sample_idx)
    program: str  # the whole candidate program (prompt + completion)
    suite: Suite
    timeout_s: float


@dataclass(frozen=True)
class ExecResult:
    key: tuple[str, int]
    verdict: str  # one of stages.schemas.VERDICTS
    detail: str = ""
    duration_s: float = 0.0
    sandbox: str = "none"
    outputs: str | None = None  # digest of the candidate's outputs (for clustering), io suites
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    """Runs candidate programs; yields one result per job, in any order."""

    sandbox_level: str

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[ExecResult]: ...


@runtime_checkable
class Verifier(Protocol):
    """Turns samples into verdict rows for one verifier name."""

    name: str

    def verify(self, problems: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame: ...
