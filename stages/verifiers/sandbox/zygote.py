"""The fork server that runs INSIDE the sandbox (standard library only; codec.py,
zygote_job.py, the code of each job's child, and zygote_procs.py, how the fork server watches,
kills and reaps a job's processes, are prepended: see ``worker.zygote_source``).

Why a fork server: starting an interpreter costs tens of milliseconds, a fork about one. The
zygote starts once per worker, imports common standard-library modules (never any candidate
code), then forks one child per job. Each child puts itself in a new session, applies the
resource limits, points stdin at /dev/null, and runs the candidate; the zygote waits, then
kills every process the job left behind (it is a child subreaper, and in a PID namespace it
kills everything but itself) and wipes the scratch directory before the next job.

Channels (file descriptors given by the trusted parent; fds 0-2 are /dev/null):
  CTL     control: 4-byte length + JSON messages: jobs (the next one may arrive while one runs:
          it is queued), or ``{"kill": <nonce>}`` for the running job;
  STATUS  a SOCK_SEQPACKET socket, zygote -> parent: ``R <clock>`` when ready (``cpu``: it can
          read a job's CPU time from /proc and enforces the job's CPU-time limit; ``wall``: it
          cannot, the parent's wall clock is the limit); ``S <nonce>`` carrying the read end of
          the job's own output pipe (SCM_RIGHTS) as the job starts; ``X <wait status> <child cpu
          s> <reason>`` after a job (reason ``-``; ``nproc`` when the process watchdog killed it;
          ``cpu`` past its CPU-time limit).
Each job's stdout, stderr and report descriptor are the write end of its own pipe. The child
closes the control and status descriptors before any candidate code runs, and the zygote makes
itself non-dumpable (and is PID 1 under bwrap), so a candidate can neither read nor forge status
lines, nor learn another job's nonce, nor reach another job's output.

Report lines written by the child (``N`` is the per-job secret nonce):
  ``N O i <json>`` output of input i; ``N U i <type>`` unencodable output; ``N E i <exc>``
  exception on input i (i = -1: while loading the program); ``N D`` all inputs done;
  ``N P`` assertion suite completed; ``N F <msg>`` assertion failed.
"""
# ruff: noqa: F821  (names of the files concatenated with this one: worker.zygote_source)

import collections
import gc
import os
import resource
import select
import signal
import socket
import sys

WORKDIR, PIDNS, DROP_UID = sys.argv[1], sys.argv[3] == "1", int(sys.argv[4])
CTL_FD, STATUS_FD = (int(fd) for fd in sys.argv[2].split(","))
STATUS = socket.socket(fileno=STATUS_FD)

# Pre-imported (shared by every forked job): cheap, common modules only. Fork cost grows with
# the zygote's size and with at-fork hooks (``random`` reseeds, ``threading`` re-inits), so
# those are imported by the jobs that need them. When jobs run as an account-less uid (rlimits
# under root) they may be unable to read the interpreter's files, so more is pre-imported.
_PRELOAD = ("bisect", "collections", "functools", "heapq", "itertools", "math", "operator", "re",
            "string", "typing")
_PRELOAD_UNREADABLE = (
    "ast", "copy", "dataclasses", "datetime", "decimal", "fractions", "hashlib", "random",
    "statistics", "array", "cmath", "numbers", "textwrap", "unicodedata", "threading", "shutil",
    "struct", "io", "contextlib", "enum", "abc", "base64", "binascii", "collections.abc",
    "socket", "queue", "calendar", "pathlib", "glob", "fnmatch", "zlib", "time",
)
# Heavy but common in model-written code: ``import numpy`` alone costs ~0.3 CPU-s, more than the
# time floor, so the fork server imports it itself (if installed) the first time a job's code
# names it, and that job's import, like every later one, is a dict lookup. Not before: a zygote
# holding numpy makes every fork about twice as dear (0.8 -> 1.5 ms here, page tables), a cost
# that runs whose candidates never use numpy (most of HumanEval) should not pay.
# One BLAS thread: a thread pool in the fork server would make every fork pay its at-fork hooks.
_PRELOAD_HEAVY = ("numpy",)
_HEAVY_LOADED = set()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# (Under bwrap the jobs' uid can read the interpreter: levels.bwrap_argv makes its parents 0755.)
for _name in _PRELOAD + (_PRELOAD_UNREADABLE if DROP_UID >= 0 and not PIDNS else ()):
    try:
        __import__(_name)
    except ImportError:
        pass


def _names_of(code):
    """Every name a code object and the code nested in it use (imports are among them)."""
    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    return names


def _preload_for(*codes):
    """Import, in the fork server, each heavy module that one of ``codes`` names, once."""
    if len(_HEAVY_LOADED) == len(_PRELOAD_HEAVY):
        return
    names = set()
    for code in codes:
        if hasattr(code, "co_names"):
            names |= _names_of(code)
    for name in _PRELOAD_HEAVY:
        if name in names and name not in _HEAVY_LOADED:
            _HEAVY_LOADED.add(name)
            try:
                __import__(name)
            except ImportError:
                pass

def _prctl(option, value):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except Exception:  # noqa: BLE001, S110 (no prctl off Linux: best effort)
        pass


def _read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(CTL_FD, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _read_msg():
    head = _read_exact(4)
    if head is None:
        return None
    body = _read_exact(int.from_bytes(head, "big"))
    return None if body is None else json.loads(body)


# Jobs that keep the harness's own uid (rlimits level, not root) share RLIMIT_NPROC with all
# of that user's processes; elsewhere the uid is the job's alone (or exempt, see _wait).
NPROC_BASE = _own_processes() if not PIDNS and DROP_UID < 0 else 0


def _next_message():
    return PENDING.popleft() if PENDING else _read_msg()


def _wait(pid, nproc, nonce, cpu_limit, mem_limit=None):
    """Wait for the child, obeying a kill request for this job (by nonce) meanwhile.

    While the job runs past 10 ms, the zygote reads its CPU time every 10 ms and kills it past
    ``cpu_limit`` seconds (the timeout: CPU time does not stretch with the machine's load, so a
    verdict does not depend on what else runs; the parent keeps a wall-clock backstop).

    Job messages that arrive meanwhile are queued (the parent keeps the next job ready here,
    so that no round trip sits between two jobs).

    In a PID namespace the zygote also counts the namespace's processes every 10 ms and kills
    the job past ``nproc``: the kernel exempts host root from RLIMIT_NPROC, so a fork bomb run
    by a root-owned harness would otherwise grow until the wall-clock limit.

    With ``mem_limit`` (bytes) it sums the resident memory of all the job's processes at each
    look (every 2 ms once past half the budget) and kills them all past it: RLIMIT_AS bounds
    each process alone, this the job's whole process tree (``_memory_used``).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    reason = b"-"
    watch = PIDNS and nproc is not None
    poll = watch or cpu_limit is not None or mem_limit is not None or pidfd is None
    pause = 0.01
    while True:
        ready = select.select([CTL_FD] + ([pidfd] if pidfd is not None else []), [], [],
                              pause if poll else None)[0]
        if CTL_FD in ready:
            msg = _read_msg()
            if msg is None:
                _kill_job(pid)
                _sweep()
                os._exit(0)
            if "kill" not in msg:
                PENDING.append(msg)
            elif msg["kill"] == nonce:
                _kill_job(pid)
        if watch and not ready and _count_processes() > nproc + 1:  # the job's and the zygote
            reason = b"nproc"
            _kill_job(pid)
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        pids = _job_pids() if not ready and reason == b"-" else ()  # once per look, for both
        if cpu_limit is not None and not ready and reason == b"-":
            used = _job_cpu_used(pid, pids)
            if used is not None and used >= cpu_limit:
                reason = b"cpu"
                _kill_job(pid)
            elif used is not None:  # look again when the limit may be reached, within 10 ms
                pause = min(0.01, max(0.001, cpu_limit - used))
        if mem_limit is not None and not ready and reason == b"-":
            resident = _memory_used(pids)
            if resident > mem_limit:
                reason = b"memory"
                _kill_all(pid)
            elif resident > mem_limit // 2:
                pause = min(pause, 0.002)
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            got, status = pid, signal.SIGKILL
        if got == pid:
            if pidfd is not None:
                os.close(pidfd)
            return status, reason


SUITE_CACHE = 64  # the parent mirrors this rule to know which suites a worker holds
PENDING = collections.deque()


def _load_suite(kind, payload):
    """Once per suite and worker: decoded inputs, or the compiled test code (or its error)."""
    if kind == "i":
        return [decode_typed(json.loads(a)) for a in payload]
    try:
        return compile(payload, "<test>", "exec")
    except _BaseException as exc:
        return exc


def main():
    # Inherited by every forked job: an output (or input) int with more than 4,300 digits must
    # still be encodable as JSON, as the reference's expected outputs were (CPython 3.11+ limit).
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    _prctl(4, 0)  # PR_SET_DUMPABLE = 0: no ptrace, no /proc/<zygote>/fd for the candidate
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of a job are re-parented to us
    os.chdir(WORKDIR)  # the jobs' working directory (inherited)
    # Default dispositions once here, inherited by every job (cheaper than in each child).
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    cache = {}
    STATUS.send(b"R cpu" if _cpu_used(os.getpid()) is not None else b"R wall")
    while True:
        msg = _next_message()
        if msg is None:
            return
        if "kill" in msg:
            continue
        if msg.get("x") is not None:
            if len(cache) >= SUITE_CACHE:
                cache.clear()
            cache[msg["s"]] = _load_suite(msg["k"], msg["x"])
        suite = cache.get(msg["s"], RuntimeError("suite not sent to this worker"))
        code = program_code(msg)
        _preload_for(code, suite)  # before "S": the parent's wall clock for the job starts there
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The job's own channel: what its processes write, and nothing else, reaches the
        # parent on this pipe; the parent gets the read end before the job runs.
        out_r, out_w = os.pipe()
        socket.send_fds(STATUS, [b"S " + msg["n"].encode()], [out_r])
        os.close(out_r)
        gc.freeze()  # the job's collector then skips our objects: fewer copy-on-write faults
        pid = os.fork()
        if pid == 0:
            _child(msg, suite, code, out_w)
        os.close(out_w)
        del code
        status, reason = _wait(pid, msg["lim"].get("nproc"), msg["n"], msg["lim"].get("cpu_s"),
                               msg["lim"].get("mem"))
        _sweep()
        _wipe(WORKDIR)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        STATUS.send(b"X %d %.4f %s" % (status, cpu, reason))


main()
