"""One warm sandbox worker, seen from the trusted parent: start it, feed it jobs, kill it.

The parent owns the clock and the output budget. It keeps up to two jobs queued in the fork
server (so no round trip sits between two jobs). Each job writes on a pipe of its own, which the
fork server hands over the status socket (``S <nonce>`` with the read end, SCM_RIGHTS) as the
job starts: no job can read or write another's channel, the control pipe or the status socket
(each job closes them before any candidate code runs, the fork server is non-dumpable, and
bwrap's stdio are /dev/null). It hands each nonce-tagged line to the job's callback (which may ask to stop at the first wrong output),
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
import socket
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
        self.cpu_clock = False

    @property
    def outstanding(self) -> int:
        return len(self._inflight)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        # No channel is on the fork server's fds 0-2 (bwrap's stdio are /dev/null): the control
        # pipe and the status socket sit on other fds, which each job closes before any
        # candidate code runs; each job's output comes on a pipe of its own (see _on_status).
        ctl_r, self._ctl = os.pipe()
        self._status, status_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = (ctl_r, status_w.fileno())
        if self.level == "bwrap":
            argv = levels.bwrap_argv(self.limits.scratch_mb << 20) + levels.python_argv(
                zygote_source(), levels.SCRATCH, fds, pidns=True,
                drop_uid=levels.rlimits_drop_uid(), label=self.label)
            cwd = "/"
        else:
            self._workdir = levels.rlimits_workdir()
            argv = levels.python_argv(zygote_source(), self._workdir, fds, pidns=False,
                                      drop_uid=levels.rlimits_drop_uid(), label=self.label)
            cwd = self._workdir
        try:
            self.proc = _SPAWNER.submit(
                subprocess.Popen, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=fds, env=levels.CLEAN_ENV, cwd=cwd,
                start_new_session=True,
            ).result()
        finally:
            os.close(ctl_r)
            status_w.close()
        self._jobfds: dict[int, Submission] = {}
        # A worker dropped without close() (an executor nobody closed) still dies with its object.
        self._finalizer = weakref.finalize(self, _kill_worker, self.proc, self._ctl, self._status,
                                           self._jobfds)
        self._status.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._status, selectors.EVENT_READ, None)
        self._sent_suites = set()
        line = self._status_line(time.monotonic() + START_TIMEOUT_S)
        # "R cpu": the fork server enforces each job's CPU-time limit; "R wall": it cannot
        # read CPU times here (no /proc), so the limit is wall time, kept by this parent.
        self.cpu_clock = line == b"R cpu"
        if line not in (b"R cpu", b"R wall"):
            self.close()
            raise levels.SandboxUnavailable(
                f"sandbox worker ({self.level}) failed to start: "
                + (line or b"no ready line").decode("utf-8", "replace")[-500:])

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
        lim["mem"] = self.limits.memory_mb << 20  # the whole process tree's (zygote's watch)
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
                if key.data is None:
                    self._on_status()
                elif self._jobfds.get(key.fd) is key.data:
                    self._on_data(key.data)
                # else: a stale event. The status message handled just before it ended that
                # job and closed its pipe, and the next job's pipe may already have arrived
                # on the same descriptor number: reading it here would hand the next job's
                # lines (its completion marker) to the finished one.

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

    # -- the jobs' own channels -----------------------------------------------------------------
    def _on_data(self, sub: Submission, drain: bool = False) -> None:
        """Bytes on a job's own pipe are that job's; EOF means all of its writers are gone.

        At most 1 MiB per call while the job runs (a writer without end must not keep the
        parent from its clocks and the status socket); ``drain`` (after its exit) reads to EOF.
        """
        fd = sub.token_fd  # type: ignore[attr-defined]
        if fd is None:  # already closed
            return
        for _ in range(1 << 30 if drain else 16):
            chunk = _read(fd)
            if not chunk:
                break
            self._give(sub, chunk)
        if chunk == b"":
            self._close_channel(sub)

    def _give(self, sub: Submission, data: bytes) -> None:
        sub.budget -= len(data)
        if sub.budget < 0:
            if not sub.run.output_capped:
                sub.run.output_capped = True
                self._kill(sub)
            return
        sub.pending = scan_lines(sub.pending, data, sub.tag, sub.run, sub.on_line)
        if sub.run.stopped_early:
            self._kill(sub)

    def _close_channel(self, sub: Submission) -> None:
        """Close the job's pipe once. Descriptor numbers are reused: by the time a finished job
        is closed again, its number may be the next job's pipe, which must stay open."""
        fd = getattr(sub, "token_fd", None)
        if fd is not None and self._jobfds.get(fd) is sub:
            del self._jobfds[fd]
            self._sel.unregister(fd)
            os.close(fd)
        sub.token_fd = None  # type: ignore[attr-defined]
        sub.data_closed = True

    def _on_status(self) -> None:
        """``S <nonce>`` with the job's pipe (SCM_RIGHTS) as it starts; ``X ...`` as it ends.

        The status socket is the fork server's alone (each job closes it first), so the nonce
        on it is never where another job can read it, and only the first ``S`` of the job next
        in line opens a channel; anything else is not our protocol and loses the worker.
        """
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self._status, 512, 1)
            except BlockingIOError:
                return
            except OSError:
                msg, fds = b"", []
            if not msg:
                for fd in fds:
                    os.close(fd)
                self._lose()
                return
            parts = msg.split()
            if parts[0] == b"S" and len(fds) == 1 and len(parts) == 2:
                upcoming = next((s for s in self._inflight if s.started is None), None)
                if upcoming is None or parts[1] != upcoming.message["n"].encode():
                    os.close(fds[0])
                    self._lose()
                    return
                os.set_blocking(fds[0], False)
                upcoming.token_fd = fds[0]  # type: ignore[attr-defined]
                self._jobfds[fds[0]] = upcoming
                self._sel.register(fds[0], selectors.EVENT_READ, upcoming)
                upcoming.started = time.monotonic()
                upcoming.deadline = upcoming.started + self._wall_limit(upcoming.timeout_s)
                continue
            for fd in fds:
                os.close(fd)
            sub = next((s for s in self._inflight
                        if s.started is not None and s.run.status is None), None)
            if parts[0] != b"X" or len(parts) != 4 or sub is None:
                self._lose()
                return
            # All of the job's processes are dead: what it wrote is in its pipe; read to EOF.
            self._on_data(sub, drain=True)
            self._close_channel(sub)
            sub.run.status, sub.run.cpu_s = int(parts[1]), float(parts[2])
            sub.run.process_limit = parts[3] == b"nproc"
            sub.run.cpu_limited = parts[3] == b"cpu"
            # The job's processes together held more than memory_mb: see executor._finish.
            sub.run.memory_limited = parts[3] == b"memory"  # type: ignore[attr-defined]
            sub.run.wall_s = time.monotonic() - sub.started
            nxt = next((s for s in self._inflight if s.started is None), None)
            if nxt is not None:  # the fork server starts it now: its channel is due shortly
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
            self._close_channel(sub)
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

    def _status_line(self, deadline: float) -> bytes | None:
        """Wait for the ready line at start-up (or the start-up error the fork server sends)."""
        while time.monotonic() < deadline:
            if self._sel.select(deadline - time.monotonic()):
                try:
                    return self._status.recv(4096) or None
                except BlockingIOError:
                    continue
                except OSError:
                    return None
        return None


def _read(fd: int) -> bytes | None:
    """A chunk of a job's pipe; b"" at EOF; None when nothing is there now."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _kill_worker(proc: subprocess.Popen[bytes], ctl: int, status: socket.socket,
                 jobfds: dict[int, Submission]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
    status.close()
    for fd in (ctl, *jobfds):
        try:
            os.close(fd)
        except OSError:
            pass
    jobfds.clear()
