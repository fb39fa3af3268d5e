"""The worker binds every report line to its own job's channel (issue 14).

Even a job that knows the next job's nonce (here: the test gives it away on purpose) cannot
put a line into that job's run: each job writes on a pipe of its own, which the fork server
hands to the parent over the status socket as the job starts; a forged boundary or a line
tagged with another nonce on a job's own pipe is only that job's noise.
"""

from __future__ import annotations

import secrets

import pytest

from stages.verifiers.sandbox import codec, levels
from stages.verifiers.sandbox.runs import Limits
from stages.verifiers.sandbox.worker import SandboxWorker

INPUTS = [codec.encode_args(args) for args in ((1, 2), (3, 4))]
WRONG = "def add(a, b):\n    return 0\n"
FORGER = """\
import os
def add(a, b):
    n = NONCE
    forged = b"\\n~J " + n + b"\\n" + n + b" O 0 3\\n" + n + b" O 1 7\\n" + n + b" D\\n" + n + b" P\\n"
    for fd in (1, 2):
        os.write(fd, forged)
    return a + b
"""


def _levels() -> list[str]:
    return (["bwrap"] if levels.bwrap_works()[0] else []) + ["rlimits"]


@pytest.mark.parametrize("level", _levels())
def test_a_job_that_knows_the_next_nonce_cannot_write_into_its_run(level):
    worker = SandboxWorker(level, Limits())  # type: ignore[arg-type]
    try:
        victim = secrets.token_hex(16)
        forger = FORGER.replace("NONCE", repr(victim.encode()))
        worker.submit({"n": secrets.token_hex(16), "k": "i", "p": forger, "e": "add"}, "s", INPUTS,
                      2.0, lambda body: False)
        worker.submit({"n": victim, "k": "i", "p": WRONG, "e": "add"}, "s", INPUTS, 2.0,
                      lambda body: False)
        first, second = (worker._inflight[0], worker._inflight[1])
        while not (first.done and second.done):
            worker.wait()
    finally:
        worker.close()
    assert first.run.lines == [b'O 0 3', b'O 1 7', b'D']  # its own lines, not the forged ones
    assert second.run.lines == [b'O 0 0', b'O 1 0', b'D']  # what the victim itself wrote


def test_the_fork_servers_stdio_are_dev_null():
    """bwrap's (and the fork server's) fds 0-2: nothing a job could reopen through /proc."""
    import os

    for level in _levels():
        worker = SandboxWorker(level, Limits(), label=f"infscale-fdcheck-{secrets.token_hex(4)}")  # type: ignore[arg-type]
        worker.start()
        try:
            pids = [worker.proc.pid]
            for tid in os.listdir(f"/proc/{worker.proc.pid}/task"):
                with open(f"/proc/{worker.proc.pid}/task/{tid}/children") as fh:
                    pids += [int(p) for p in fh.read().split()]
            for pid in pids:
                for fd in (0, 1, 2):
                    assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null", (level, pid, fd)
        finally:
            worker.close()


def test_bwrap_required_but_missing_fails_at_once_with_the_install_command(monkeypatch):
    monkeypatch.setattr(levels.shutil, "which", lambda name: None)
    levels.bwrap_works.cache_clear()
    try:
        with pytest.raises(levels.SandboxUnavailable, match="apt-get install -y bubblewrap"):
            levels.resolve_level("bwrap")
    finally:
        levels.bwrap_works.cache_clear()


def test_back_to_back_jobs_never_lose_their_completion_marker() -> None:
    """Each job's pipe is closed once and only its own: a second close of a finished job's
    descriptor number used to close the next job's pipe (the kernel reuses the number), so
    about 1 correct program in 150 came out `error`, "exited with status 0 before completing"."""
    from stages.verifiers.base import AssertSuite, ExecJob
    from stages.verifiers.sandbox import SandboxExecutor

    program = "def add(a, b):\n    return a + b\n"
    suite = AssertSuite("def check(candidate):\n    assert candidate(1, 2) == 3\n", "add")
    jobs = [ExecJob(("p", i), program, suite, 1.0) for i in range(600)]
    with SandboxExecutor(workers=2, cache_dir=None) as ex:
        verdicts = [(r.verdict, r.detail) for r in ex.run(jobs)]
    assert verdicts == [("pass", "")] * 600
