"""No job can reach another job's channels or the fork server's (issue 14).

The attack of issue 14: under bwrap, the fork server's control pipe was bwrap's stdin, so a
hostile job opened ``/proc/1/fd/0``, read the next queued job's message (its nonce) and wrote a
forged boundary and pass lines for that neighbour. Here that attack is scripted against a wrong
neighbour, 100 times with varying delays, and a scanner tries to open every descriptor of every
process it can see.
"""

from __future__ import annotations

import os

import pytest

from stages.verifiers.base import AssertSuite, ExecJob, IOSuite
from stages.verifiers.sandbox import SandboxExecutor, levels

IO = IOSuite("add", ((1, 2), (3, 4)), (3, 7))
CHECK = AssertSuite("def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(3, 4) == 7\n",
                    "add")
WRONG = "def add(a, b):\n    return 0\n"

# Every /proc/<pid>/fd/<n> path the job can list (but its own, with ``skip_self``).
FD_PATHS = """\
import os

def _fd_paths(skip_self):
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or (skip_self and pid == me):
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            yield "/proc/%s/fd/%s" % (pid, fd)
"""

# Reads whatever it can open under /proc/*/fd, takes every 32-hex-digit string it sees for a
# nonce, and writes a forged boundary and pass lines for each into every descriptor it can open
# for writing (and its own output), again and again until DELAY seconds of CPU have passed.
ATTACK = FD_PATHS + """\
import re, time

def _attack():
    found, sinks = set(), [1]
    for path in _fd_paths(False):
        try:
            r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                found.update(re.findall(rb"[0-9a-f]{32}", os.read(r, 1 << 16)))
            except OSError:
                pass
            os.close(r)
        except OSError:
            pass
        try:
            sinks.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    for nonce in found:
        forged = b"\\n~J " + nonce + b"\\n" + b"".join(
            nonce + b" " + line + b"\\n" for line in (b"O 0 3", b"O 1 7", b"D", b"P"))
        for fd in sinks:
            try:
                os.write(fd, forged)
            except OSError:
                pass
    return found

def add(a, b):
    end = time.process_time() + DELAY
    while True:
        _attack()
        if time.process_time() >= end:
            return a + b
"""

# Every descriptor of every process but the job's own that the job could open.
SCAN = FD_PATHS + """\
def scan():
    opened = []
    for path in _fd_paths(True):
        for mode in (os.O_RDONLY, os.O_WRONLY):
            try:
                os.close(os.open(path, mode | os.O_NONBLOCK))
                opened.append("%s %d" % (path, mode))
            except OSError:
                pass
    return opened
"""


def _levels() -> list[str]:
    protected = []
    if levels.bwrap_works()[0]:
        protected.append("bwrap")
    if os.geteuid() == 0:  # rlimits protects /proc/<harness> only when its jobs get their own uid
        protected.append("rlimits")
    return protected


@pytest.fixture(scope="module", params=_levels() or [pytest.param("none", marks=pytest.mark.skip(
    reason="neither bubblewrap nor root: no level here claims this (docs/sandbox.md)"))])
def executor(request):
    with SandboxExecutor(workers=1, cache_dir=None, sandbox=request.param) as ex:
        yield ex


def test_neighbour_forgery_attack_never_changes_a_verdict(executor):
    """100 trials, each a hostile job followed by two wrong neighbours queued in the same fork
    server (one per suite kind), the attack lasting 0-45 ms of CPU: every neighbour fails."""
    jobs = []
    for trial in range(100):
        delay = (trial % 10) * 0.005
        attacker = ATTACK.replace("DELAY", repr(delay))
        suite = IO if trial % 2 else CHECK
        jobs.append(ExecJob(("attack", trial), attacker, suite, 2.0))
        jobs.append(ExecJob(("wrong_io", trial), WRONG, IO, 2.0))
        jobs.append(ExecJob(("wrong_assert", trial), WRONG, CHECK, 2.0))
    results = {r.key: r for r in executor.run(jobs)}
    wrong = {k: r.verdict for k, r in results.items() if k[0] != "attack" and r.verdict != "fail"}
    assert wrong == {}
    assert len(results) == 300


def test_no_foreign_descriptor_opens(executor):
    opened, error = executor.collect_outputs(SCAN, "scan", [[]], 5.0)
    assert error == "" and opened is not None
    assert opened[0] == []
