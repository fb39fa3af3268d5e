"""A job's whole process tree is held to ``memory_mb`` (issue 14), not each process alone.

RLIMIT_AS caps one process; 32 children each below it could still hold 32 budgets. The fork
server's watch (``levels.memory_guard``: ``rss-watch``) sums the resident memory of all the
job's processes and kills them all past the budget. Measured from the host: the sum of the
resident memory of the worker's processes, sampled every millisecond while the job runs.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from stages.verifiers.base import ExecJob, IOSuite
from stages.verifiers.sandbox import Limits, SandboxExecutor, levels

MEMORY_MB = 256
IO = IOSuite("add", ((1, 2),), (3,))
# 32 children, each touching 1 GiB in 32 MiB steps and holding what it got (a MemoryError from
# its own RLIMIT_AS only stops its growth); the parent waits for them, then answers correctly.
GREEDY = """\
import os, time
def add(a, b):
    kids = []
    for _ in range(32):
        pid = os.fork()
        if pid == 0:
            held = []
            try:
                for _ in range(32):
                    held.append(bytearray(32 << 20))
            except MemoryError:
                pass
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    return a + b
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (host view)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    todo += [int(p) for p in fh.read().split()]
        except (OSError, ValueError, IndexError):
            pass
    return total


def _levels() -> list[str]:
    return (["bwrap"] if levels.bwrap_works()[0] else []) + ["rlimits"]


@pytest.mark.skipif(levels.memory_guard() != "rss-watch", reason="no /proc: RLIMIT_AS only")
@pytest.mark.parametrize("level", _levels())
def test_32_children_of_1_gib_are_an_error_and_host_memory_stays_bounded(level):
    with SandboxExecutor(workers=1, cache_dir=None, sandbox=level,
                         limits=Limits(memory_mb=MEMORY_MB)) as ex:
        assert ex.sandbox == f"{level}+rss-watch"
        warm = list(ex.run([ExecJob(("warm", 0), "def add(a, b):\n    return a + b\n", IO, 5.0)]))
        assert [r.verdict for r in warm] == ["pass"]  # a plain job fits the budget
        root = ex._all[0].proc.pid
        baseline = _tree_rss(root)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(root))
                time.sleep(0.001)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            (result,) = list(ex.run([ExecJob(("greedy", 0), GREEDY, IO, 5.0)]))
        finally:
            done.set()
            sampler.join()
    assert result.verdict == "error", result
    assert "memory limit exceeded" in result.detail
    assert result.sandbox == f"{level}+rss-watch"
    assert peak[0] - baseline < 2 * MEMORY_MB << 20, (peak[0] >> 20, baseline >> 20)
