"""Cost of one bare fork + _exit + waitpid of a Python process, with and without numpy imported.

Why: the sandbox's fork server forks once per job, and a process holding numpy has more page
tables to copy; this is the measurement behind importing numpy only when a job names it
(stages/verifiers/sandbox/zygote.py, docs/sandbox.md). Prints, per mode and repeat: wall ms per
fork, parent CPU ms per fork, children CPU ms per fork (500 forks each).

    python benchmarks/fork_cost.py plain; python benchmarks/fork_cost.py np
"""

import os
import resource
import sys
import time

if sys.argv[1:] == ["np"]:
    import numpy  # noqa: F401


def bench(n: int = 500) -> tuple[float, float, float]:
    t = time.perf_counter()
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return ((time.perf_counter() - t) / n * 1e3,
            (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n * 1e3,
            (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) / n * 1e3)


if __name__ == "__main__":
    print(sys.argv[1] if sys.argv[1:] else "plain", [f"{x:.3f}" for x in bench()], [f"{x:.3f}" for x in bench()])
