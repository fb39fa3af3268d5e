"""The hardened executor: warm sandboxed fork servers, verdicts decided in the parent, a cache.

``SandboxExecutor.run(jobs)`` yields one :class:`ExecResult` per job as each finishes (so a
progress bar advances). A feeder thread decides what needs no execution (an empty program; a
program that does not compile: compiled here, never run; a cache hit) and hands the rest, with
the code object it compiled, to one thread per worker; each keeps up to ``PIPELINE_DEPTH`` jobs
queued in its warm fork server (:mod:`.worker`). All of a sample's inputs run in one execution;
by default the parent stops the child at the first wrong output.
"""

from __future__ import annotations

import ast
import binascii
import hashlib
import marshal
import os
import queue
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from stages.params import VerifyParams
from stages.verifiers.base import AssertSuite, ExecJob, ExecResult, IOSuite
from stages.verifiers.sandbox import answers, codec, levels
from stages.verifiers.sandbox.answers import Pending
from stages.verifiers.sandbox.cache import DEFAULT_DIR, VerdictCache, cache_key, tree_hash
from stages.verifiers.sandbox.runs import Limits, RawRun, Submission
from stages.verifiers.sandbox.verdicts import (IOCheck, decide_assert, decide_collect, decide_io,
                                              stopped_by_clock)
from stages.verifiers.sandbox.worker import SandboxWorker

_DONE = object()
PIPELINE_DEPTH = 2  # jobs kept queued in each fork server


class _Prepared:
    """What the parent derives once per suite object: hashes and canonical JSON texts."""

    def __init__(self, suite: AssertSuite | IOSuite, limits: Limits) -> None:
        self.suite = suite
        self.limits: dict[str, Any] | None = None  # per-input limits sent with each job (zygote_job._arm)
        if isinstance(suite, AssertSuite):
            self.inputs, self.expected = None, None
            self.test_source: str | None = f"{suite.test}\ncheck({suite.entry_point})\n"
            content = f"assert\0{suite.entry_point}\0{suite.test}"
        else:
            self.test_source = None
            self.inputs = [codec.encode_args(args) for args in suite.inputs]
            self.expected = [codec.encode(value) for value in suite.expected]
            content = "io\0{}\0{}\0{}\0{!r}".format(
                suite.entry_point, "\n".join(self.inputs), "\n".join(self.expected), suite.atol)
            if suite.compare != "exact":  # the hash of an exact suite stays what it was
                content += "\0" + suite.compare
            if suite.cluster_inputs is not None:  # decides the output digest
                content += f"\0cluster={suite.cluster_inputs}"
            if suite.input_limits_s:
                self.limits = {"load": suite.load_limit_s, "in": list(suite.input_limits_s),
                               "wall": [limits.wall_factor, limits.wall_slack_s]}
        self.hash = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


class SandboxExecutor:
    """Runs candidate programs in sandboxed, pre-warmed workers (see docs/sandbox.md)."""

    def __init__(
        self,
        workers: int = 0,
        sandbox: str = "auto",
        limits: Limits | None = None,
        all_tests: bool = False,
        cache_dir: Path | None = DEFAULT_DIR,
        timeout_policy: str | None = None,
        default_timeout_s: float = 3.0,
    ) -> None:
        self.sandbox_level: str = levels.resolve_level(sandbox)
        # What verdict rows record: the level and what held the job's memory (levels.sandbox_tag).
        self.sandbox: str = levels.sandbox_tag(self.sandbox_level)
        self.workers = workers or os.cpu_count() or 1
        self.limits, self.all_tests = limits or Limits(), all_tests
        self.cache = VerdictCache(cache_dir) if cache_dir is not None else None
        self.timeout_policy, self.default_timeout_s = timeout_policy, default_timeout_s
        self._idle: queue.SimpleQueue[SandboxWorker] = queue.SimpleQueue()
        self._all: list[SandboxWorker] = []
        self._prepared: dict[int, _Prepared] = {}
        self._lock = threading.Lock()
        self.label = f"infscale-sandbox-{secrets.token_hex(6)}"  # names its processes in ps

    # -- public -------------------------------------------------------------------------------
    def run(self, jobs: Iterable[ExecJob]) -> Iterator[ExecResult]:
        work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        stop = threading.Event()
        threads = [threading.Thread(target=self._drive, args=(work, results, stop), daemon=True)
                   for _ in range(self.workers)]
        feeder = threading.Thread(target=self._feed, args=(jobs, work, results, stop), daemon=True)
        for t in (feeder, *threads):
            t.start()
        try:
            finished = 0
            while finished < len(threads) + 1:
                item = results.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            for _ in threads:
                work.put(_DONE)
            for t in (feeder, *threads):
                t.join()

    def close(self) -> None:
        """Kill every warm worker (they also die with this process)."""
        with self._lock:
            for worker in self._all:
                worker.close()
            self._all.clear()
            self._idle = queue.SimpleQueue()

    def __enter__(self) -> SandboxExecutor:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def calibrate_timeouts(self, problems: pl.DataFrame, params: VerifyParams) -> dict[str, float]:
        """Per-problem limits ``max(floor, factor x reference time)`` (the verify stage's hook)."""
        from stages.verifiers.sandbox.calibrate import calibrate_problems

        return calibrate_problems(problems, params.timeout_floor_s, params.timeout_factor, self)

    def collect_outputs(self, program: str, entry_point: str, inputs: list[Any],
                        timeout_s: float) -> tuple[list[Any] | None, str]:
        """Outputs of ``program``'s ``entry_point`` on ``inputs`` (JSON values), or an error."""
        run = self.run_inputs(program, entry_point, [codec.encode_args(args) for args in inputs], timeout_s)
        return decide_collect(run, len(inputs))

    def run_inputs(self, program: str, entry_point: str, encoded: list[str], timeout_s: float,
                   timing: bool = False) -> RawRun:
        """The raw run of a trusted program on encoded inputs (``codec.encode_args`` each), in one
        warm worker: for callers that read the report lines themselves (expected outputs);
        ``timing``: a ``T i <cpu s>`` line after each output (calibration per input)."""
        suite_id = "collect:" + hashlib.sha256("\n".join(encoded).encode("utf-8", "surrogatepass")).hexdigest()
        worker = self._take()
        try:
            message = {"n": secrets.token_hex(16), "k": "i", "p": program, "e": entry_point}
            if timing:
                message["tm"] = 1
            return worker.execute(message, suite_id, encoded, timeout_s, lambda b: False)
        finally:
            self._idle.put(worker)

    # -- threads ------------------------------------------------------------------------------
    def _feed(self, jobs: Iterable[ExecJob], work: queue.SimpleQueue, results: queue.SimpleQueue,
              stop: threading.Event) -> None:
        try:
            for job in jobs:
                if stop.is_set():
                    break
                prejudged, key, code = self._precheck(job)
                if prejudged is not None:
                    results.put(prejudged)
                else:
                    work.put((job, key, code))
        except BaseException as exc:  # noqa: BLE001 (surfaced by run())
            results.put(exc)
        finally:
            for _ in range(self.workers):
                work.put(_DONE)
            results.put(_DONE)

    def _drive(self, work: queue.SimpleQueue, results: queue.SimpleQueue,
               stop: threading.Event) -> None:
        """One worker's loop: keep up to PIPELINE_DEPTH jobs queued in it, report as they end."""
        worker: SandboxWorker | None = None
        retry: list[tuple[ExecJob, str | None, bytes | None]] = []
        rerun: list[Pending] = []  # fails whose answer a limit cut: re-run for it (.answers)
        more = True
        try:
            while True:
                while (retry or rerun or more) and not stop.is_set() and (
                        worker is None or worker.outstanding < PIPELINE_DEPTH):
                    if rerun:
                        if worker is None:
                            worker = self._take()
                        self._submit_answer(worker, rerun.pop())
                        continue
                    if retry:
                        item = retry.pop()
                    else:
                        idle = worker is None or worker.outstanding == 0
                        try:
                            item = work.get() if idle else work.get_nowait()
                        except queue.Empty:
                            break
                        if item is _DONE:
                            more = False
                            continue
                    if worker is None:
                        worker = self._take()
                    self._submit(worker, *item)
                if worker is None or worker.outstanding == 0:
                    break
                for sub in worker.wait():
                    if sub.run.not_started:  # its worker was lost before it ran: all again
                        retry.append(sub.token[:3])
                        continue
                    finished = self._finish(sub)
                    if isinstance(finished, Pending):
                        rerun.append(finished)
                    else:
                        results.put(finished)
        except BaseException as exc:  # noqa: BLE001 (surfaced by run())
            results.put(exc)
        finally:
            if worker is not None:
                if worker.outstanding:
                    worker.close()
                self._idle.put(worker)
            results.put(_DONE)

    # -- one job ------------------------------------------------------------------------------
    def _take(self) -> SandboxWorker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            worker = SandboxWorker(self.sandbox_level, self.limits, self.label)  # type: ignore[arg-type]
            with self._lock:
                self._all.append(worker)
            return worker

    def _prepare(self, suite: AssertSuite | IOSuite) -> _Prepared:
        prepared = self._prepared.get(id(suite))
        if prepared is None or prepared.suite is not suite:
            prepared = _Prepared(suite, self.limits)
            with self._lock:
                self._prepared[id(suite)] = prepared
        return prepared

    def _timeout(self, job: ExecJob) -> float:
        return job.timeout_s if job.timeout_s > 0 else self.default_timeout_s

    def _policy(self, job: ExecJob) -> str:
        lim = self.limits
        timeout = self.timeout_policy or f"t={self._timeout(job):.3f}"
        clock = "" if lim.clock == "wall" else f"|clock={lim.clock}"  # wall: keys as before
        return (f"{timeout}|{self.sandbox}|all={self.all_tests}|mem={lim.memory_mb}"
                f"|nproc={lim.nproc}|fsize={lim.fsize_mb}|out={lim.output_bytes}{clock}")

    def _precheck(self, job: ExecJob) -> tuple[ExecResult | None, str | None, bytes | None]:
        """Empty and non-compiling programs, and cache hits, need no sandbox.

        With the cache on, the program is parsed once: the tree gives the cache key; a cache hit
        needs no more (only programs that compiled were ever cached); on a miss the tree is
        compiled, which catches what parsing alone does not (``return`` outside a function, ...).
        With the cache off, the text is compiled directly. Never run.
        """
        if not job.program.strip():
            return ExecResult(job.key, "empty", "empty program", 0.0, self.sandbox), None, None
        key = None
        try:
            if self.cache is None:  # no key to derive: compile the text directly (cheaper)
                code = compile(job.program, "<candidate>", "exec", dont_inherit=True, optimize=0)
            else:
                tree = ast.parse(job.program, "<candidate>")
                key = cache_key(tree_hash(tree), self._prepare(job.suite).hash, self._policy(job))
                record = self.cache.get(key)
                if record is not None:
                    return ExecResult(job.key, record["verdict"], record["detail"],
                                      record["duration_s"], self.sandbox, record.get("outputs"),
                                      {"cached": True, "tests_run": record.get("tests_run", 0)}), None, None
                code = compile(tree, "<candidate>", "exec", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            return ExecResult(job.key, "syntax_error", detail, 0.0, self.sandbox), None, None
        # The same interpreter runs the job: it gets this code object (marshal) instead of
        # compiling the text again.
        return None, key, binascii.b2a_base64(marshal.dumps(code), newline=False)

    def _submit(self, worker: SandboxWorker, job: ExecJob, key: str | None, code: bytes | None) -> None:
        prepared = self._prepare(job.suite)
        timeout = self._timeout(job)
        message = self._message(job, code)
        if isinstance(job.suite, AssertSuite):
            message["k"] = "a"
            check = None
            worker.submit(message, prepared.hash, prepared.test_source or "", timeout,
                          _ignore, (job, key, code, check))
        else:
            message["k"] = "i"
            if prepared.limits is not None:
                message["it"] = prepared.limits
            check = IOCheck(prepared.expected or [], job.suite.atol, not self.all_tests,
                            compare=job.suite.compare, cluster_inputs=job.suite.cluster_inputs,
                            arguments=prepared.inputs or [])
            worker.submit(message, prepared.hash, prepared.inputs or [], timeout, check.on_line,
                          (job, key, code, check))

    def _finish(self, sub: Submission) -> ExecResult | Pending:
        job, key, code, check, *pending = sub.token
        run = sub.run
        if pending:  # the looser re-run of a fail's clustering inputs (_submit_answer)
            answer = answers.answer_of(check, run, answers.clustered(job))
            return self._record(key, run, replace(pending[0], outputs=answer))
        if check is None:
            verdict, detail = decide_assert(run)
            outputs, tests_run, digests, clustered = None, 0, [], 0
        else:
            verdict, detail = decide_io(run, check, len(job.suite.inputs))
            outputs, tests_run, digests = check.outputs_digest(), check.seen, check.digests
            clustered = answers.clustered(job)
            if verdict == "timeout" or (len(digests) < clustered and stopped_by_clock(run)):
                # Which input a limit stops on moves with load (limits are calibrated per input),
                # so a digest over the outputs before it would too: such a run has no answer.
                outputs = None
        memory_limited = getattr(run, "memory_limited", False)  # set by the worker (levels.memory_guard)
        if memory_limited:
            verdict = "error"
            detail = (f"memory limit exceeded: the job's processes held over "
                      f"{self.limits.memory_mb} MB together")
        result = ExecResult(job.key, verdict, detail, run.wall_s, self.sandbox, outputs,
                            {"cached": False, "cpu_s": run.cpu_s, "tests_run": tests_run,
                             "output_digests": digests})
        if (verdict == "fail" and outputs is None and not memory_limited and not run.worker_died
                and len(digests) < clustered):
            # A wrong output decided the verdict, and then a limit cut the clustering inputs:
            # whether it did is load (the program may sit within noise of its limit), what it
            # outputs is not. Its answer comes from a re-run of those inputs under looser limits.
            return Pending(job, key, code, result)
        return self._record(key, run, result)

    def _record(self, key: str | None, run: RawRun, result: ExecResult) -> ExecResult:
        if key is not None and self.cache is not None and not run.worker_died:
            self.cache.put(key, {"verdict": result.verdict, "detail": result.detail,
                                 "duration_s": result.duration_s, "outputs": result.outputs,
                                 "tests_run": result.extra.get("tests_run", 0)})
        return result

    def _submit_answer(self, worker: SandboxWorker, pending: Pending) -> None:
        """Run a fail's clustering inputs again under looser limits, for its answer (:mod:`.answers`)."""
        job, key, code, result = pending
        prepared, n = self._prepare(job.suite), answers.clustered(job)
        message = self._message(job, code)
        message["k"] = "i"
        limits, timeout = answers.looser_limits(prepared.limits, n, self._timeout(job))
        if limits is not None:
            message["it"] = limits
        check = answers.digest_check(n, job.suite.atol)
        worker.submit(message, f"{prepared.hash}:first{n}", (prepared.inputs or [])[:n],
                      timeout, check.on_line, (job, key, code, check, result))

    @staticmethod
    def _message(job: ExecJob, code: bytes | None) -> dict[str, Any]:
        """A job's message to the fork server: its nonce, entry point and code (compiled here)."""
        message: dict[str, Any] = {"n": secrets.token_hex(16), "e": job.suite.entry_point}
        if code is not None:
            message["c"] = code.decode("ascii")
        else:
            message["p"] = job.program
        return message


def _ignore(body: bytes) -> bool:
    return False
