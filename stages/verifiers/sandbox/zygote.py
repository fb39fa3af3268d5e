"""The fork server that runs INSIDE the sandbox (standard library only; codec.py and
zygote_job.py, the code of each job's child, are prepended: see ``worker.zygote_source``).

Why a fork server: starting an interpreter costs tens of milliseconds, a fork about one. The
zygote starts once per worker, imports common standard-library modules (never any candidate
code), then forks one child per job. Each child puts itself in a new session, applies the
resource limits, points stdin at /dev/null, and runs the candidate; the zygote waits, then
kills every process the job left behind (it is a child subreaper, and in a PID namespace it
kills everything but itself) and wipes the scratch directory before the next job.

Channels (file descriptors given by the trusted parent):
  0       control: 4-byte length + JSON messages: jobs (the next one may arrive while one runs:
          it is queued), or ``{"kill": <nonce>}`` for the running job;
  1, 2    data: before each job the zygote writes the boundary ``\n~J <nonce>\n``; then what
          the job writes, including its nonce-tagged report lines;
  STATUS  zygote -> parent: ``R <clock>`` when ready (``cpu``: it can read a job's CPU time from
          /proc and enforces the job's CPU-time limit; ``wall``: it cannot, the parent's wall
          clock is the limit), ``X <wait status> <child cpu s> <reason>`` after a job (reason
          ``-``; ``nproc`` when the process watchdog killed it; ``cpu`` past its CPU-time limit).
The child closes the control and status descriptors before any candidate code runs, and the
zygote makes itself non-dumpable, so a candidate can neither read nor forge status lines, nor
learn the next job's nonce (read only after the candidate's process was forked).

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
import sys
import time

WORKDIR, STATUS_FD, PIDNS, DROP_UID = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])

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
for _name in _PRELOAD + (_PRELOAD_UNREADABLE if DROP_UID >= 0 else ()):
    try:
        __import__(_name)
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
        chunk = os.read(0, n - len(buf))
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


def _own_processes():
    """Processes of this uid now: RLIMIT_NPROC counts them all, so the job's budget adds to it."""
    uid, count = str(os.getuid()), 0
    try:
        pids = os.listdir("/proc")
    except OSError:
        return 256  # no /proc (macOS): a generous allowance for the user's other processes
    for pid in pids:
        try:
            with open("/proc/" + pid + "/status") as fh:
                count += any(line.startswith("Uid:") and line.split()[1] == uid for line in fh)
        except (OSError, ValueError):
            pass
    return count


# Jobs that keep the harness's own uid (rlimits level, not root) share RLIMIT_NPROC with all
# of that user's processes; elsewhere the uid is the job's alone (or exempt, see _wait).
NPROC_BASE = _own_processes() if not PIDNS and DROP_UID < 0 else 0


def _children():
    found = []
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:  # no /proc (macOS): only the job's own process group is killed
        return found
    for tid in tids:
        try:
            with open("/proc/self/task/" + tid + "/children") as fh:
                found += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    return found


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        return True
    return False


def _sweep():
    """Kill every process the job left behind: forked sleepers, spinning grandchildren.

    In a PID namespace ``kill(-1)`` reaches everything but init and the zygote; ESRCH then
    means nothing is left (zombies still count until reaped). Elsewhere the zygote, a child
    subreaper, kills its children (orphans are re-parented to it) until none remain.
    """
    for _ in range(10000):
        if PIDNS:
            try:
                os.kill(-1, signal.SIGKILL)
                alone = False
            except ProcessLookupError:
                alone = True
            if _reap() and alone:
                return
        else:
            for pid in _children():
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            if _reap():
                return
        time.sleep(0.001)


def _wipe(path, dev=None):
    """Empty the scratch directory between jobs, never crossing into another filesystem.

    A project or venv under /tmp (a clone in /tmp/x) is bound read-only inside the scratch
    tmpfs; walking it after every job would cost tens of milliseconds and delete nothing.
    """
    if dev is None:
        dev = os.stat(path).st_dev
    for entry in os.scandir(path):
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.stat(follow_symlinks=False).st_dev != dev:
                    continue
                _wipe(entry.path, dev)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def _count_processes():
    return sum(1 for p in os.listdir("/proc") if p.isdigit())


def _kill_job(pid):
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_used(pid):
    """CPU seconds of the job's process (all its threads) and of the children it waited for.

    ``stat`` counts in clock ticks (10 ms); ``schedstat`` has the main thread's time in ns, so
    a single-threaded spinner is stopped within a millisecond of its limit. None where /proc
    cannot tell (macOS). Descendants the job did not wait for are not counted: the parent's
    wall-clock backstop bounds them.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None
    try:
        with open("/proc/%d/schedstat" % pid, "rb") as fh:
            return max(ticks, int(fh.read().split()[0]) / 1e9)
    except (OSError, IndexError, ValueError):
        return ticks


def _next_message():
    return PENDING.popleft() if PENDING else _read_msg()


def _wait(pid, nproc, nonce, cpu_limit):
    """Wait for the child, obeying a kill request for this job (by nonce) meanwhile.

    While the job runs past 10 ms, the zygote reads its CPU time every 10 ms and kills it past
    ``cpu_limit`` seconds (the timeout: CPU time does not stretch with the machine's load, so a
    verdict does not depend on what else runs; the parent keeps a wall-clock backstop).

    Job messages that arrive meanwhile are queued (the parent keeps the next job ready here,
    so that no round trip sits between two jobs).

    In a PID namespace the zygote also counts the namespace's processes every 10 ms and kills
    the job past ``nproc``: the kernel exempts host root from RLIMIT_NPROC, so a fork bomb run
    by a root-owned harness would otherwise grow until the wall-clock limit.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    reason = b"-"
    watch = PIDNS and nproc is not None
    poll = watch or cpu_limit is not None or pidfd is None
    pause = 0.01
    while True:
        ready = select.select([0] + ([pidfd] if pidfd is not None else []), [], [],
                              pause if poll else None)[0]
        if 0 in ready:
            msg = _read_msg()
            if msg is None:
                _kill_job(pid)
                _sweep()
                os._exit(0)
            if "kill" not in msg:
                PENDING.append(msg)
            elif msg["kill"] == nonce:
                _kill_job(pid)
        if watch and not ready and _count_processes() > nproc + 2:
            reason = b"nproc"
            _kill_job(pid)
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        if cpu_limit is not None and not ready and reason == b"-":
            used = _cpu_used(pid)
            if used is not None and used >= cpu_limit:
                reason = b"cpu"
                _kill_job(pid)
            elif used is not None:  # look again when the limit may be reached, within 10 ms
                pause = min(0.01, max(0.001, cpu_limit - used))
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
    os.write(STATUS_FD, b"R cpu\n" if _cpu_used(os.getpid()) is not None else b"R wall\n")
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
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The job boundary on the data pipe: everything before it belongs to earlier jobs (all
        # their processes are dead by now), everything after it to this one.
        os.write(1, b"\n~J " + msg["n"].encode() + b"\n")
        code = program_code(msg)
        gc.freeze()  # the job's collector then skips our objects: fewer copy-on-write faults
        pid = os.fork()
        if pid == 0:
            _child(msg, suite, code)
        del code
        status, reason = _wait(pid, msg["lim"].get("nproc"), msg["n"], msg["lim"].get("cpu_s"))
        _sweep()
        _wipe(WORKDIR)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        os.write(STATUS_FD, b"X %d %.4f %s\n" % (status, cpu, reason))


main()
