"""The hardened executor: warm sandboxed fork servers, verdicts decided in the parent, a cache.

``SandboxExecutor.run(jobs)`` yields one :class:`ExecResult` per job as each finishes (so a
progress bar advances). A feeder thread decides what needs no execution (an empty program; a
program that does not compile: compiled here, never run; a cache hit) and hands the rest, with
the code object it compiled, to one thread per worker; each keeps up to ``PIPELINE_DEPTH`` jobs
queued in its warm fork server (:mod:`.worker`). All of a sample's inputs run in one execution;
by default the parent stops the child at the first wrong output. With the cache on, a repeat of
a program still running waits for that run's verdict (:mod:`.repeats`); a run a time limit
stopped runs once more under looser limits (:mod:`.reruns`).
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
from stages.verifiers.sandbox import codec, levels, reruns
from stages.verifiers.sandbox.cache import DEFAULT_DIR, VerdictCache, cache_key, tree_hash
from stages.verifiers.sandbox.messages import Prepared, job_message
from stages.verifiers.sandbox.repeats import InFlight, repeat_of
from stages.verifiers.sandbox.runs import Limits, RawRun, Submission
from stages.verifiers.sandbox.verdicts import (
    IOCheck,
    decide_assert,
    decide_collect,
    decide_io,
    stopped_by_clock,
)
from stages.verifiers.sandbox.worker import SandboxWorker

_DONE = object()
PIPELINE_DEPTH = 2  # jobs kept queued in each fork server
TREE_MEMO = 1_000_000  # texts whose tree hash is kept (a full memo: 198 MiB, tracemalloc)
MAX_STARTS = 3  # workers a job may see lost before it starts (a job queued behind a killed one: 1)


class SandboxExecutor:
    """Runs candidate programs in sandboxed, pre-warmed workers (see docs/sandbox.md)."""

    judges_syntax = True  # a program that does not compile gets syntax_error here (_precheck)

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
        self._prepared: dict[int, Prepared] = {}
        self._trees: dict[bytes, str] = {}  # sha1 of a program's text -> its tree_hash (_precheck)
        self._lock = threading.Lock()
        self.label = f"infscale-sandbox-{secrets.token_hex(6)}"  # names its processes in ps

    # -- public -------------------------------------------------------------------------------
    def run(self, jobs: Iterable[ExecJob]) -> Iterator[ExecResult]:
        # Bounded: the feeder holds compiled code for no more jobs than the workers will soon
        # take (a million distinct programs would not fit), and ``jobs`` is read as it goes.
        work: queue.Queue[Any] = queue.Queue(maxsize=self.workers * PIPELINE_DEPTH * 4)
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        stop, inflight = threading.Event(), InFlight()
        threads = [threading.Thread(target=self._drive, args=(work, results, stop), daemon=True)
                   for _ in range(self.workers)]
        feeder = threading.Thread(target=self._feed, args=(jobs, work, results, stop, inflight),
                                  daemon=True)
        for t in (feeder, *threads):
            t.start()
        again: list[ExecJob] = []  # parked behind a run that lost its worker: they run themselves
        try:
            finished = 0
            while finished < len(threads) + 1:
                item = results.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    key, job, cacheable, result = item
                    yield result
                    if key is not None:
                        parked = inflight.settle(key)
                        if cacheable:
                            yield from (repeat_of(result, sample) for sample in parked)
                        else:  # a lost worker says nothing about the program (cache.py)
                            again += [replace(job, key=sample) for sample in parked]
        finally:
            stop.set()
            for _ in threads:  # wakes a driver waiting for work; a full queue needs none
                try:
                    work.put_nowait(_DONE)
                except queue.Full:
                    break
            for t in (feeder, *threads):
                t.join()
        if again:
            yield from self.run(again)

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
            message = job_message("i", entry_point, program=program)
            if timing:
                message["tm"] = 1
            return worker.execute(message, suite_id, encoded, timeout_s, lambda b: False)
        finally:
            self._idle.put(worker)

    # -- threads ------------------------------------------------------------------------------
    def _feed(self, jobs: Iterable[ExecJob], work: queue.Queue, results: queue.SimpleQueue,
              stop: threading.Event, inflight: InFlight) -> None:
        try:
            for job in jobs:
                if stop.is_set():
                    break
                prejudged, key, code = self._precheck(job, inflight)
                if prejudged is not None:  # settles its key too, if a repeat parked behind it
                    results.put((key, job, True, prejudged))
                elif code is not None:  # None: parked behind its key's run (InFlight)
                    _put(work, (job, key, code), stop)
        except BaseException as exc:  # noqa: BLE001 (surfaced by run())
            results.put(exc)
        finally:
            for _ in range(self.workers):
                _put(work, _DONE, stop)
            results.put(_DONE)

    def _drive(self, work: queue.Queue, results: queue.SimpleQueue,
               stop: threading.Event) -> None:
        """One worker's loop: keep up to PIPELINE_DEPTH jobs queued in it, report as they end."""
        worker: SandboxWorker | None = None
        retry: list[tuple[ExecJob, str | None, bytes | None]] = []
        rerun: list[reruns.Pending] = []  # first runs a limit cut that wait for a second (.reruns)
        lost: dict[int, int] = {}  # id(job) -> workers lost before it started
        more = True
        try:
            while True:
                while (retry or rerun or more) and not stop.is_set() and (
                        worker is None or worker.outstanding < PIPELINE_DEPTH):
                    if rerun:
                        if worker is None:
                            worker = self._take()
                        self._submit_second(worker, rerun.pop())
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
                        job = sub.token[0]
                        lost[id(job)] = lost.get(id(job), 0) + 1
                        if lost[id(job)] < MAX_STARTS:
                            retry.append(sub.token[:3])
                        else:  # it is the job that brings its fork server down
                            results.put((sub.token[1], job, False, ExecResult(
                                job.key, "error", f"sandbox worker lost before the job started, "
                                f"{MAX_STARTS} times", 0.0, self.sandbox)))
                        continue
                    lost.pop(id(sub.token[0]), None)  # ids are reused once a job is gone
                    finished = self._finish(sub)
                    if isinstance(finished, reruns.Pending):
                        rerun.append(finished)
                    else:
                        results.put((sub.token[1], sub.token[0], not sub.run.worker_died, finished))
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

    def _prepare(self, suite: AssertSuite | IOSuite) -> Prepared:
        prepared = self._prepared.get(id(suite))
        if prepared is None or prepared.suite is not suite:
            prepared = Prepared(suite, self.limits)
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

    def _precheck(self, job: ExecJob, inflight: InFlight) -> tuple[ExecResult | None, str | None, bytes | None]:
        """Empty and non-compiling programs, cache hits and repeats need no sandbox.

        With the cache on, the program is parsed (once per distinct text: ``_trees``) and the
        tree gives the cache key; a cache hit needs no more (only programs that
        compiled were ever cached); a key already running parks the job (``inflight``; returned
        as ``(None, key, None)``); otherwise the tree is compiled, which catches what parsing
        alone does not (``return`` outside a function, ...). With the cache off, the text is
        compiled directly. Never run.
        """
        if not job.program.strip():
            return ExecResult(job.key, "empty", "empty program", 0.0, self.sandbox), None, None
        key = None
        try:
            if self.cache is None:  # no key to derive: compile the text directly (cheaper)
                code = compile(job.program, "<candidate>", "exec", dont_inherit=True, optimize=0)
            else:
                tree = None
                text = hashlib.sha1(job.program.encode("utf-8", "surrogatepass")).digest()
                shape = self._trees.get(text)
                if shape is None:
                    tree = ast.parse(job.program, "<candidate>")
                    if len(self._trees) >= TREE_MEMO:
                        self._trees.clear()
                    shape = self._trees[text] = tree_hash(tree)
                key = cache_key(shape, self._prepare(job.suite).hash, self._policy(job))
                record = self.cache.get(key)
                if record is not None:
                    return ExecResult(job.key, record["verdict"], record["detail"],
                                      record["duration_s"], self.sandbox, record.get("outputs"),
                                      {"cached": True, "tests_run": record.get("tests_run", 0)}), key, None
                if not inflight.claim(key, job):
                    return None, key, None
                code = compile(tree or ast.parse(job.program, "<candidate>"), "<candidate>", "exec",
                               dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:500]  # with its key, if claimed: repeats get it
            return ExecResult(job.key, "syntax_error", detail, 0.0, self.sandbox), key, None
        # The same interpreter runs the job: it gets this code object (marshal) instead of
        # compiling the text again.
        return None, key, binascii.b2a_base64(marshal.dumps(code), newline=False)

    def _submit(self, worker: SandboxWorker, job: ExecJob, key: str | None, code: bytes | None,
                first: reruns.Pending | None = None) -> None:
        """Queue a job in ``worker``; ``first``: a timeout's first run, and this is its second,
        every limit ``RERUN_LIMIT_FACTOR`` x its own (:mod:`.reruns`)."""
        prepared = self._prepare(job.suite)
        limits, timeout = prepared.limits, self._timeout(job)
        if first is not None:
            limits, timeout = reruns.looser_limits(limits, len(prepared.inputs or []), timeout)
        second = () if first is None else (first,)
        if isinstance(job.suite, AssertSuite):
            message = job_message("a", job.suite.entry_point, job.program, code)
            worker.submit(message, prepared.hash, prepared.test_source or "", timeout,
                          _ignore, (job, key, code, None, *second))
        else:
            message = job_message("i", job.suite.entry_point, job.program, code)
            if limits is not None:
                message["it"] = limits
            check = IOCheck(prepared.expected or [], job.suite.atol, not self.all_tests,
                            compare=job.suite.compare, cluster_inputs=job.suite.cluster_inputs,
                            arguments=prepared.inputs or [])
            worker.submit(message, prepared.hash, prepared.inputs or [], timeout, check.on_line,
                          (job, key, code, check, *second))

    def _submit_second(self, worker: SandboxWorker, pending: reruns.Pending) -> None:
        if pending.kind == reruns.VERDICT:
            self._submit(worker, pending.job, pending.key, pending.code, pending)
        else:
            self._submit_answer(worker, pending)

    def _finish(self, sub: Submission) -> ExecResult | reruns.Pending:
        """A finished run's result, or the Pending of a first run a limit cut (:mod:`.reruns`)."""
        job, key, code, check, *pending = sub.token
        run = sub.run
        if pending and pending[0].kind == reruns.ANSWER:  # a fail's clustering inputs again
            answer = reruns.answer_of(check, run, reruns.clustered(job))
            return self._record(key, run, replace(pending[0].result, outputs=answer))
        result, clustered, digested = self._judge(job, run, check)
        if pending:  # a timeout's second run, under looser limits
            return self._record(key, run, reruns.settle_timeout(pending[0].result, result, run))
        if result.verdict == "timeout" and not run.worker_died:
            # Where a limit cuts a program within noise of it moves with load; whether a wrong
            # output follows does not: that decides in a second run under looser limits.
            return reruns.Pending(job, key, code, result, reruns.VERDICT)
        if (result.verdict == "fail" and result.outputs is None and not run.worker_died
                and not getattr(run, "memory_limited", False)
                and digested < clustered):
            # A wrong output decided the verdict, and then a limit cut the clustering inputs:
            # whether it did is load, what it outputs is not. Its answer comes from a re-run of
            # those inputs under looser limits.
            return reruns.Pending(job, key, code, result, reruns.ANSWER)
        return self._record(key, run, result)

    def _judge(self, job: ExecJob, run: RawRun, check: IOCheck | None) -> tuple[ExecResult, int, int]:
        """One run's verdict, detail and answer; how many inputs make the answer, and how many
        of them the run got through."""
        if check is None:
            verdict, detail = decide_assert(run)
            outputs, tests_run, digests, clustered = None, 0, [], 0
        else:
            verdict, detail = decide_io(run, check, len(job.suite.inputs))
            outputs, tests_run, digests = check.outputs_digest(), check.seen, check.digests
            clustered = reruns.clustered(job)
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
                            {"cached": False, "cpu_s": run.cpu_s, "tests_run": tests_run})
        return result, clustered, len(digests)

    def _record(self, key: str | None, run: RawRun, result: ExecResult) -> ExecResult:
        if key is not None and self.cache is not None and not run.worker_died:
            self.cache.put(key, {"verdict": result.verdict, "detail": result.detail,
                                 "duration_s": result.duration_s, "outputs": result.outputs,
                                 "tests_run": result.extra.get("tests_run", 0)})
        return result

    def _submit_answer(self, worker: SandboxWorker, pending: reruns.Pending) -> None:
        """Run a fail's clustering inputs again under looser limits, for its answer (:mod:`.reruns`)."""
        job, key, code = pending.job, pending.key, pending.code
        prepared, n = self._prepare(job.suite), reruns.clustered(job)
        message = job_message("i", job.suite.entry_point, job.program, code)
        limits, timeout = reruns.looser_limits(prepared.limits, n, self._timeout(job))
        if limits is not None:
            message["it"] = limits
        check = reruns.digest_check(n, job.suite.atol)
        worker.submit(message, f"{prepared.hash}:first{n}", (prepared.inputs or [])[:n],
                      timeout, check.on_line, (job, key, code, check, pending))



def _put(work: queue.Queue, item: Any, stop: threading.Event) -> None:
    """Put into the bounded work queue, giving up once the run is stopped (nobody takes)."""
    while not stop.is_set():
        try:
            work.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _ignore(body: bytes) -> bool:
    return False
