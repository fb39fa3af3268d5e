"""How the fork server watches, kills and reaps a job's processes, and wipes its scratch
directory (standard library only; concatenated between zygote_job.py and zygote.py into the
fork server's source, see ``worker.zygote_source``; ``PIDNS`` is zygote.py's).
"""
# ruff: noqa: F821  (names of the files concatenated with this one: worker.zygote_source)

import os
import signal
import time


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


def _children(pid="self"):
    found = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:  # no /proc (macOS): only the job's own process group is killed
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
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


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _job_pids():
    """The job's processes: in a PID namespace every process but the zygote; elsewhere the
    zygote's children (orphans are re-parented to it, a subreaper) and all their descendants.
    Empty where /proc cannot tell."""
    if PIDNS:
        me = os.getpid()
        try:
            return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
        except OSError:
            return []
    found, todo = [], _children()
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += _children(pid)
    return found


def _memory_used(pids):
    """Bytes resident in all of the job's processes (``statm``: anonymous, file-backed and
    shared memory alike; pages a process shares with another count in each: an upper bound).
    0 where /proc cannot tell (macOS: RLIMIT_AS per process is all there is)."""
    pages = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                pages += int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return pages * PAGE


def _kill_all(pid):
    """SIGKILL the job and every process it made, at once (before any of them grows more)."""
    _kill_job(pid)
    if PIDNS:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        return
    for other in _job_pids():
        _kill_job(other)


def _kill_job(pid):
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ticks(pid):
    """CPU seconds of a process (all its threads) and of the children it waited for, from
    ``stat`` (clock ticks of 10 ms); None where /proc cannot tell (macOS)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def _cpu_used(pid):
    """CPU seconds of the job's process, as ``_ticks``; ``schedstat`` has the main thread's time
    in ns, so a single-threaded spinner is stopped within a millisecond of its limit."""
    ticks = _ticks(pid)
    if ticks is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as fh:
            return max(ticks, int(fh.read().split()[0]) / 1e9)
    except (OSError, IndexError, ValueError):
        return ticks


def _job_cpu_used(pid, pids):
    """CPU seconds of the whole job: its process and every other process of it still there
    (children it did not wait for, orphans, zombies not yet reaped), so that forking a spinner
    and blocking until it answers does not escape the CPU clock. A waited-for child's time is
    in its parent's ``stat`` and it is gone from /proc: nothing counts twice."""
    used = _cpu_used(pid)
    if used is None:
        return None
    for other in pids:
        if other != pid:
            used += _ticks(other) or 0.0
    return used
