"""One warm sandbox worker, seen from the trusted parent: start it, feed it jobs, kill it.

The parent owns the clock and the output budget. It keeps up to two jobs queued in the fork
server (so no round trip sits between two jobs), splits the data pipe into per-job segments at
the job boundaries the fork server writes (``~J <nonce>``: a candidate cannot forge the next
job's nonce, and all of a job's processes are dead before the next boundary), hands each
nonce-tagged line to the job's callback (which may ask to stop at the first wrong output),
enforces each job's wall-clock limit from the moment it starts, and caps the bytes it reads. A
kill request names the job's nonce; if the fork server does not answer in time, or dies, the
whole worker is SIGKILLed (with bubblewrap that ends its PID namespace), the running job is
lost and the queued one is handed back to run elsewhere.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

from stages.verifiers.sandbox import levels
from stages.verifiers.sandbox.runs import Limits, RawRun, Submission, scan_lines

__all__ = ["KILL_GRACE_S", "Limits", "RawRun", "SandboxWorker", "zygote_source"]

KILL_GRACE_S = 1.0
START_GRACE_S = 10.0  # a queued job must start within this of its predecessor's end
SUITE_CACHE = 64  # suites a fork server keeps (the same rule as in zygote.py)
START_TIMEOUT_S = 60.0
_HERE = Path(__file__).resolve().parent
# bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that forked it
# exits; so workers are spawned from one long-lived thread, never from short-lived job threads.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


@lru_cache(maxsize=1)
def zygote_source() -> str:
    """The fork server's source (standard library only): the value codec, each job's child, how
    a job's processes are watched and reaped, and the server's loop, in one module."""
    return "\n".join((_HERE / name).read_text()
                     for name in ("codec.py", "zygote_job.py", "zygote_procs.py", "zygote.py"))


class SandboxWorker:
    """A fork server inside the sandbox, plus the pipes the parent talks to it through."""

    def __init__(self, level: levels.Level, limits: Limits, label: str = "infscale-sandbox") -> None:
        self.level, self.limits, self.label = level, limits, label
        self.proc: subprocess.Popen[bytes] | None = None
        self._sent_suites: set[str] = set()
        self._workdir: str | None = None
        self._inflight: deque[Submission] = deque()
        self._segment: Submission | None = None
        self._buf = bytearray()
        self.cpu_clock = False

    @property
    def outstanding(self) -> int:
        return len(self._inflight)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        ctl_r, self._ctl = os.pipe()
        self._data, data_w = os.pipe()
        self._status, status_w = os.pipe()
        if self.level == "bwrap":
            argv = levels.bwrap_argv(self.limits.scratch_mb << 20) + levels.python_argv(
                zygote_source(), levels.SCRATCH, status_w, pidns=True, drop_uid=-1, label=self.label)
            cwd = "/"
        else:
            self._workdir = levels.rlimits_workdir()
            argv = levels.python_argv(zygote_source(), self._workdir, status_w, pidns=False,
                                      drop_uid=levels.rlimits_drop_uid(), label=self.label)
            cwd = self._workdir
        try:
            self.proc = _SPAWNER.submit(
                subprocess.Popen, argv, stdin=ctl_r, stdout=data_w, stderr=data_w,
                pass_fds=(status_w,), env=levels.CLEAN_ENV, cwd=cwd, start_new_session=True,
            ).result()
        finally:
            for fd in (ctl_r, data_w, status_w):
                os.close(fd)
        # A worker dropped without close() (an executor nobody closed) still dies with its object.
        self._finalizer = weakref.finalize(self, _kill_worker, self.proc,
                                           (self._ctl, self._data, self._status))
        os.set_blocking(self._data, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._data, selectors.EVENT_READ, "data")
        self._sel.register(self._status, selectors.EVENT_READ, "status")
        self._status_buf = b""
        self._sent_suites = set()
        self._segment, self._buf = None, bytearray()
        line, noise = self._status_line(time.monotonic() + START_TIMEOUT_S)
        # "R cpu": the fork server enforces each job's CPU-time limit; "R wall": it cannot
        # read CPU times here (no /proc), so the limit is wall time, kept by this parent.
        self.cpu_clock = line == b"R cpu"
        if line not in (b"R cpu", b"R wall"):
            self.close()
            raise levels.SandboxUnavailable(
                f"sandbox worker ({self.level}) failed to start: "
                + noise.decode("utf-8", "replace").strip()[-500:])

    def close(self) -> None:
        """SIGKILL the worker's whole process group and free its pipes and scratch dir."""
        if self.proc is not None:
            self._finalizer()
            self.proc = None
            self._sel.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- jobs -------------------------------------------------------------------------------
    def submit(self, message: dict[str, Any], suite_id: str, suite: list[str] | str,
               timeout_s: float, on_line: Callable[[bytes], bool], token: Any = None) -> None:
        """Queue one job in the fork server (starting it if needed); results come from wait().

        ``suite`` (encoded inputs, or the test source) is sent only the first time this worker
        sees ``suite_id``; the fork server keeps it, decoded or compiled, for later jobs.
        """
        if self.proc is None:
            self.start()
        lim = self.limits.rlimits(timeout_s)
        if self.limits.clock == "cpu":
            lim["cpu_s"] = timeout_s
        message = dict(message, lim=lim, s=suite_id, x=None)
        if suite_id not in self._sent_suites:  # mirrors the zygote's cache rule exactly
            if len(self._sent_suites) >= SUITE_CACHE:
                self._sent_suites.clear()
            self._sent_suites.add(suite_id)
            message["x"] = suite
        sub = Submission(message, timeout_s, on_line, token, budget=self.limits.output_bytes)
        # Checked only once it heads the queue; reset when its predecessor ends (_on_status).
        sub.deadline = time.monotonic() + self._wall_limit(timeout_s) + START_GRACE_S
        self._inflight.append(sub)
        try:
            self._send(message)
        except OSError:
            self._lose()

    def wait(self) -> list[Submission]:
        """Block until at least one queued job is finished; return the finished ones in order."""
        while True:
            finished = []
            while self._inflight and self._inflight[0].done:
                finished.append(self._inflight.popleft())
            if finished or not self._inflight:
                return finished
            head = self._inflight[0]
            now = time.monotonic()
            if now >= head.deadline:  # type: ignore[operator]
                if head.started is None or head.killed:
                    self._lose()  # the fork server neither started the job nor obeyed a kill
                    continue
                head.run.timed_out = True
                self._kill(head)
                continue
            for key, _ in self._sel.select(head.deadline - now):  # type: ignore[operator]
                if key.data == "status":
                    self._on_status()
                else:
                    self._on_data(self._read_data())

    def execute(self, message: dict[str, Any], suite_id: str, suite: list[str] | str,
                timeout_s: float, on_line: Callable[[bytes], bool]) -> RawRun:
        """Run one job alone and return its run (for trusted one-off work and tests)."""
        for _ in range(2):
            self.submit(message, suite_id, suite, timeout_s, on_line)
            sub = self._inflight[-1]
            while not sub.done:
                self.wait()
            if not sub.run.not_started:
                return sub.run
        return sub.run

    # -- the data pipe ------------------------------------------------------------------------
    def _on_data(self, chunk: bytes | None) -> None:
        if not chunk:
            return
        self._buf += chunk
        while True:
            upcoming = next((s for s in self._inflight if s.started is None), None)
            if upcoming is not None:
                cut = self._buf.find(upcoming.boundary)
                if cut >= 0:
                    self._give(bytes(self._buf[:cut]))
                    self._close_segment()
                    del self._buf[:cut + len(upcoming.boundary)]
                    upcoming.started = time.monotonic()
                    upcoming.deadline = upcoming.started + self._wall_limit(upcoming.timeout_s)
                    self._segment = upcoming
                    continue
            keep = len(upcoming.boundary) - 1 if upcoming is not None else 0
            if len(self._buf) > keep:
                self._give(bytes(self._buf[:len(self._buf) - keep]))
                del self._buf[:len(self._buf) - keep]
            return

    def _give(self, data: bytes) -> None:
        """Attribute bytes to the job whose segment is open (bytes outside any are noise)."""
        sub = self._segment
        if sub is None or not data:
            return
        sub.budget -= len(data)
        if sub.budget < 0:
            if not sub.run.output_capped:
                sub.run.output_capped = True
                self._kill(sub)
            return
        sub.pending = scan_lines(sub.pending, data, sub.tag, sub.run, sub.on_line)
        if sub.run.stopped_early:
            self._kill(sub)

    def _close_segment(self) -> None:
        if self._segment is not None:
            self._segment.data_closed = True
            self._segment = None

    def _on_status(self) -> None:
        try:
            chunk = os.read(self._status, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            self._lose()
            return
        self._status_buf += chunk
        while b"\n" in self._status_buf:
            line, self._status_buf = self._status_buf.split(b"\n", 1)
            parts = line.split()
            if len(parts) != 4 or parts[0] != b"X":
                continue
            # All of the job's writers are dead: its data (and the boundary that opened it)
            # is in the pipe already. Read it, then close the job's segment.
            self._on_data(self._drain())
            sub = next((s for s in self._inflight
                        if s.started is not None and s.run.status is None), None)
            if sub is None:  # a status without a started job: not our protocol
                self._lose()
                return
            if sub is self._segment:  # no later boundary yet: all buffered bytes are its own
                self._give(bytes(self._buf))
                self._buf.clear()
                self._close_segment()
            sub.run.status, sub.run.cpu_s = int(parts[1]), float(parts[2])
            sub.run.process_limit = parts[3] == b"nproc"
            sub.run.cpu_limited = parts[3] == b"cpu"
            sub.run.wall_s = time.monotonic() - sub.started
            nxt = next((s for s in self._inflight if s.started is None), None)
            if nxt is not None:  # the fork server starts it now: its boundary is due shortly
                nxt.deadline = time.monotonic() + START_GRACE_S

    def _lose(self) -> None:
        """The fork server is gone or unresponsive: kill the worker, settle every queued job."""
        now = time.monotonic()
        for sub in self._inflight:
            if sub.done:
                continue
            if sub.started is None:
                sub.run.not_started = True
            sub.run.worker_died = True
            sub.run.wall_s = now - sub.started if sub.started is not None else 0.0
            sub.data_closed = True
        self.close()

    def _wall_limit(self, timeout_s: float) -> float:
        """The wall-clock limit of a job: its timeout, or with a CPU-time limit the backstop
        that ends what burns no CPU (a sleeper, a job blocked on a pipe)."""
        if self.limits.clock == "cpu" and self.cpu_clock:
            return self.limits.wall_backstop_s(timeout_s)
        return timeout_s

    def _kill(self, sub: Submission) -> None:
        if sub.killed or sub.run.status is not None:
            return
        sub.killed = True
        sub.deadline = time.monotonic() + KILL_GRACE_S
        try:
            self._send({"kill": sub.message["n"]})
        except OSError:
            pass

    # -- plumbing -----------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        data = len(body).to_bytes(4, "big") + body
        while data:
            data = data[os.write(self._ctl, data):]

    def _read_data(self) -> bytes | None:
        try:
            return os.read(self._data, 1 << 16) or None
        except (BlockingIOError, OSError):
            return None

    def _drain(self) -> bytes:
        out = bytearray()
        while (chunk := self._read_data()) is not None:
            out += chunk
        return bytes(out)

    def _status_line(self, deadline: float) -> tuple[bytes | None, bytes]:
        """Wait for one status line at start-up; collect any stray output for the error."""
        noise = b""
        while time.monotonic() < deadline:
            for key, _ in self._sel.select(deadline - time.monotonic()):
                if key.data == "data":
                    noise += self._read_data() or b""
                    continue
                chunk = os.read(self._status, 4096)
                if not chunk:
                    time.sleep(0.05)
                    return None, noise + self._drain()
                self._status_buf += chunk
                if b"\n" in self._status_buf:
                    line, self._status_buf = self._status_buf.split(b"\n", 1)
                    return line, noise
        return None, noise


def _kill_worker(proc: subprocess.Popen[bytes], fds: tuple[int, ...]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass

