"""Sandbox levels: how a worker's fork server is started, and which level this machine allows.

``bwrap``: bubblewrap (``--unshare-all --die-with-parent --new-session --clearenv``): own user,
PID, network, IPC and UTS namespaces (no network at all), system directories and the Python
installation read-only, a size-limited tmpfs at ``/tmp`` as the only writable place, no host
home, no capabilities, uid ``nobody`` inside (under root: no user namespace, and each worker's
jobs run as an account-less uid of their own, the fork server keeping only the capabilities to
switch to it, signal it and wipe after it). ``rlimits``: the fall-back where bubblewrap or
user namespaces are unavailable (macOS, some containers): resource limits, a separate session, a
private scratch directory, a cleared environment, and, when the harness runs as root, each
worker's jobs run as an account-less unprivileged uid of their own. Nothing here is a security boundary against kernel exploits.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

Level = Literal["bwrap", "rlimits"]
LEVELS: tuple[str, ...] = ("bwrap", "rlimits")
NOBODY = 65534
ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
DROP_UID_BASE, DROP_UID_SPAN = 2_000_000_000, 100_000_000  # account-less uids for rlimits jobs
SCRATCH = "/tmp"
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
INSTALL_BWRAP = "sudo apt-get install -y bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap (Fedora)"

log = logging.getLogger(__name__)


def memory_guard() -> str:
    """What holds a job's whole process tree to ``verify.memory_mb`` here (the second half of a
    verdict row's ``sandbox`` field, e.g. ``bwrap+rss-watch``).

    ``rss-watch``: the fork server sums the resident memory of all the job's processes while it
    runs (every 10 ms, every 2 ms past half the budget) and kills them all past the budget;
    RLIMIT_AS caps each process alone at the budget. ``rlimit-as``: no /proc to read (macOS):
    only the per-process cap, so a job of n processes may hold up to n budgets. cgroup v2
    ``memory.max`` is not used: it needs a delegated memory controller, which this code does
    not require (see docs/sandbox.md).
    """
    return "rss-watch" if os.path.isdir("/proc/self/task") else "rlimit-as"


def sandbox_tag(level: str) -> str:
    """The verdict rows' ``sandbox`` value: isolation level + memory guard."""
    return f"{level}+{memory_guard()}"


class SandboxUnavailable(RuntimeError):
    """The requested sandbox level cannot run on this machine."""


def _python_roots() -> list[Path]:
    """Directories the interpreter needs: its installation, the venv, the real executable."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    roots.add(Path(os.path.realpath(sys.executable)).parent.parent)
    return sorted(roots)


def _system_binds() -> list[str]:
    args: list[str] = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(top), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def bwrap_argv(scratch_bytes: int) -> list[str]:
    """The bubblewrap command line that wraps the fork server (without the python part)."""
    exe = shutil.which("bwrap")
    if exe is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    # --as-pid-1: the fork server is PID 1 of the namespace, so no bwrap init process holds
    # descriptors a job could reopen through /proc/1/fd, and no job can signal the fork server
    # (PID 1 gets no signal it did not ask for from inside its namespace).
    if os.geteuid() == 0:
        # As root: no user namespace, so that each job can run as a uid of its own (the worker's
        # rlimits_drop_uid): then /proc of the fork server is another user's (not even its fd
        # list opens) and RLIMIT_NPROC counts the job's processes alone. The fork server keeps
        # only what it needs for that: setuid/setgid, signalling and wiping the job's leftovers.
        args = [exe, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--as-pid-1", "--die-with-parent", "--new-session",
                "--clearenv", "--cap-drop", "ALL"]
        for cap in ROOT_CAPS:
            args += ["--cap-add", cap]
    else:
        args = [exe, "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session",
                "--clearenv", "--cap-drop", "ALL", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    for key, value in CLEAN_ENV.items():
        args += ["--setenv", key, value]
    args += ["--setenv", "HOME", SCRATCH]
    # The scratch tmpfs is mounted before the interpreter's directories so that a project or
    # venv that lives under /tmp (a fresh clone in /tmp/x) is bound on top of it, not hidden.
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(scratch_bytes), "--perms", "1777", "--tmpfs", SCRATCH]
    args += _system_binds()
    made: set[Path] = set()
    for root in _python_roots():
        if not str(root).startswith("/usr/"):
            # bwrap makes missing parents 0700 as root: the job's own uid must pass through them
            for parent in reversed(root.parents):
                if parent not in made and parent != Path("/") and parent != Path(SCRATCH):
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(root), str(root)]
    args += ["--chdir", SCRATCH]
    return args


def python_argv(zygote_source: str, workdir: str, fds: tuple[int, int], pidns: bool,
                drop_uid: int, label: str) -> list[str]:
    """``fds``: the control pipe and the status socket (never 0-2, see worker.start).
    ``label`` only names the executor's processes in ``ps`` (and for tests to find them)."""
    return [sys.executable, "-I", "-c", zygote_source, workdir, f"{fds[0]},{fds[1]}",
            "1" if pidns else "0", str(drop_uid), label]


def rlimits_workdir() -> str:
    """A private scratch directory for one rlimits-level worker (removed with the worker)."""
    path = tempfile.mkdtemp(prefix="infscale-sandbox-")
    os.chmod(path, 0o777)  # the jobs may run as an account-less uid (see rlimits_drop_uid)
    return path


def rlimits_drop_uid() -> int:
    """Under root, each worker's jobs run as a fresh unprivileged uid of their own.

    Root would make the limits toothless (root ignores RLIMIT_NPROC and may write anywhere);
    a uid per worker keeps one worker's jobs from counting against (or signalling) another's.
    The uid has no account: its jobs may touch only what "others" may.
    """
    return DROP_UID_BASE + secrets.randbelow(DROP_UID_SPAN) if os.geteuid() == 0 else -1


@functools.lru_cache(maxsize=1)
def bwrap_works() -> tuple[bool, str]:
    """Probe once: can bubblewrap start this interpreter here? (user namespaces, seccomp...)"""
    try:
        argv = bwrap_argv(1 << 20) + [sys.executable, "-I", "-c", "import os; print(os.getuid())"]
    except SandboxUnavailable as exc:
        return False, str(exc)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, env=CLEAN_ENV, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if done.returncode != 0:
        return False, "bwrap failed: " + done.stderr.decode("utf-8", "replace").strip()[:300]
    return True, ""


_warned: set[str] = set()


def resolve_level(requested: str) -> Level:
    """``auto`` picks bwrap when it works here, else rlimits with one clear warning."""
    if requested not in ("auto", *LEVELS):
        raise ValueError(f"verify.sandbox: unknown sandbox level {requested!r} (auto|bwrap|rlimits)")
    if requested == "rlimits":
        return "rlimits"
    ok, why = bwrap_works()
    if ok:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxUnavailable(f"verify.sandbox=bwrap but {why}; install it: {INSTALL_BWRAP}")
    if why not in _warned:
        _warned.add(why)
        log.warning("sandbox: %s; falling back to level 'rlimits' (limits + own session, no "
                    "namespaces). Install bubblewrap for full isolation (docs/sandbox.md).", why)
    return "rlimits"
