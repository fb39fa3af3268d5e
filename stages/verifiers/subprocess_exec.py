"""The spine's plain executor: one fresh ``python3 -I`` process per sample, wall-clock timeout.

Not a sandbox: it isolates only by process (own session, killed as a group on timeout). The
hardened executor in ``stages.verifiers.sandbox`` replaces it behind the same Executor protocol.
Only assertion suites are supported here; input/output suites need the sandbox executor.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from stages.verifiers.base import AssertSuite, ExecJob, ExecResult

_OUT_CAP = 4096


class SubprocessExecutor:
    sandbox_level = "none"

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[ExecResult]:
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._one, job) for job in jobs]
            for fut in as_completed(futures):
                yield fut.result()

    def _one(self, job: ExecJob) -> ExecResult:
        if not isinstance(job.suite, AssertSuite):
            raise TypeError("SubprocessExecutor runs assertion suites only; use the sandbox")
        marker = secrets.token_hex(16)
        source = (
            f"{job.program}\n\n{job.suite.test}\n\ncheck({job.suite.entry_point})\n"
            f"print({marker!r})\n"
        )
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", source],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=job.timeout_s or 3.0)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return ExecResult(job.key, "timeout", f"exceeded {job.timeout_s:.2f}s",
                              time.perf_counter() - start, self.sandbox_level)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        duration = time.perf_counter() - start
        tail = err.decode("utf-8", "replace")[-_OUT_CAP:].strip().splitlines()
        last = tail[-1] if tail else ""
        if proc.returncode == 0 and out.decode("utf-8", "replace").rstrip().endswith(marker):
            return ExecResult(job.key, "pass", "", duration, self.sandbox_level)
        verdict = "fail" if last.startswith("AssertionError") else "error"
        return ExecResult(job.key, verdict, last[:500] or f"exit code {proc.returncode}",
                          duration, self.sandbox_level)
