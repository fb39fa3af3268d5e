"""The adversarial battery (issue 4): each hostile candidate with its required verdict.

Every candidate defines ``add(a, b)``; the suites ask for ``add(1, 2) == 3`` and
``add(3, 4) == 7``, as an input/output suite (decided by the parent) and as an assertion suite
(HumanEval-style ``check``, the weak verifier). After the battery: the harness still answers,
no host file changed, no process of a job is left behind, and nothing reached a host socket.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stages.verifiers.base import AssertSuite, ExecJob, IOSuite
from stages.verifiers.sandbox import SandboxExecutor
from stages.verifiers.sandbox.worker import KILL_GRACE_S

IO = IOSuite("add", ((1, 2), (3, 4)), (3, 7))
CHECK = AssertSuite("def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(3, 4) == 7\n",
                    "add")
LIMIT_S = 1.0
SECRET = "infscale-battery-secret-4711"


def _program(body: str, header: str = "") -> str:
    return textwrap.dedent(header) + "def add(a, b):\n" + textwrap.indent(textwrap.dedent(body), "    ")


def _battery(canary: str, port: int) -> dict[str, tuple[str, Any, Any]]:
    """name -> (program, required io verdict, required assert verdict).

    A required verdict is a verdict, None (anything but pass), or a verdict per level.
    """
    return {
        "infinite_loop": (_program("while True:\n    pass\n"), "timeout", "timeout"),
        "sleep_forever": (_program("time.sleep(10**6)\n", "import time\n"), "timeout", "timeout"),
        "input": (_program("return int(input())\n"), "error", "error"),
        "c_level_hang": (_program(
            "collections.deque(itertools.product(range(10**6), repeat=3), maxlen=0)\n",
            "import collections, itertools\n"), "timeout", "timeout"),
        "alloc_10gb": (_program("x = bytearray(10 * 2**30)\nreturn a + b\n"), "error", "error"),
        "fork_bomb": (_program("while True:\n    try:\n        posix.fork()\n    except OSError:\n"
                               "        pass\n", "import posix\n"), None, None),
        "fork_sleeper": (_program(
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(10**6)\n"
            "    os._exit(0)\nreturn a + b\n", "import os, time\n"), "pass", "pass"),
        "spinning_thread": (_program(
            "threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\nreturn a + b\n",
            "import threading\n"), "pass", "pass"),
        "flood_1e9_bytes": (_program("for _ in range(1000):\n    os.write(1, b'x' * 10**6)\n"
                                     "return a + b\n", "import os\n"), "error", "error"),
        "close_std_and_spin": (_program("os.close(1)\nos.close(2)\nwhile True:\n    pass\n",
                                        "import os\n"), "timeout", "timeout"),
        "sys_exit_0": (_program("return a + b\n", "import sys\nsys.exit(0)\n"), "error", "error"),
        "os_exit_0": (_program("return a + b\n", "import os\nos._exit(0)\n"), "error", "error"),
        "always_eq": (_program("class T:\n    def __eq__(self, o):\n        return True\nreturn T()\n"),
                      "fail", "pass"),
        "int_subclass_eq": (_program("class I(int):\n    def __eq__(self, o):\n        return True\n"
                                     "return I(0)\n"), "fail", "pass"),
        "patch_builtins": (_program("return 0\n", "import builtins, math\nmath.isclose = lambda *a, **k: True\n"
                                    "builtins.AssertionError = type('Nope', (Exception,), {})\n"),
                           "fail", "fail"),
        "print_marker": (_program("for m in (b'P', b'D', b'O 0 3', b'O 1 7'):\n"
                                  "    os.write(1, b'0' * 32 + b' ' + m + b'\\n')\n    print(m)\n"
                                  "os._exit(0)\n", "import os\n"), "error", "error"),
        "frame_walk_forge": (_program(_FRAME_WALK), "fail", "pass"),
        "override_sigalrm": (_program("signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n"
                                      "    pass\n", "import signal\n"), "timeout", "timeout"),
        # recursion through C (map -> lambda) grows the C stack until SIGSEGV
        "deep_recursion_segfault": (_program(
            "sys.setrecursionlimit(10**8)\nf = lambda n: list(map(f, [n + 1]))\nreturn f(0)\n", "import sys\n"),
            "error", "error"),
        "socket_connect": (_program(f"s = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)\n"
                                    "s.sendall(b'escaped')\nreturn a + b\n", "import socket\n"),
                           "error", "error"),
        "write_outside": (_program(f"open({canary!r} + '/pwned', 'w').write('x')\nreturn a + b\n"),
                          "error", "error"),
        "rmtree_home": (_program(f"shutil.rmtree({canary!r})\nreturn a + b\n", "import shutil\n"),
                        "error", "error"),
        # under root (both levels) the fork server is another uid's process: EPERM; bwrap as
        # an ordinary user: it is PID 1 of the namespace, which ignores the signal (the candidate
        # goes on and returns)
        "kill_parent": (_program("os.kill(os.getppid(), 9)\nreturn a + b\n", "import os\n"),
                        *(["error"] * 2 if os.geteuid() == 0 else [{"bwrap": "pass", "rlimits": "error"}] * 2)),
        # bwrap: PID 1 is exempt and nothing else is there (ESRCH: error); rlimits under root:
        # its worker's uid owns no other process: it harms nothing and passes
        "kill_everything": (_program("os.kill(-1, 9)\nreturn a + b\n", "import os\n"),
                            {"bwrap": "error", "rlimits": "pass"}, {"bwrap": "error", "rlimits": "pass"}),
        "read_fork_server_memory": (_program(
            "with open(f'/proc/{os.getppid()}/mem', 'rb') as fh:\n    fh.read(1)\nreturn a + b\n",
            "import os\n"), "error", "error"),
        "write_10gb_file": (_program("with open('big', 'wb') as fh:\n    for _ in range(10 * 1024):\n"
                                     "        fh.write(b'x' * 2**20)\nreturn a + b\n"), "error", "error"),
        "correct": (_program("return a + b\n"), "pass", "pass"),
        **_reward_hacks(),
    }


def _reward_hacks() -> dict[str, tuple[str, Any, Any]]:
    """Reward-hacking patterns from the RL-on-unit-tests literature (issue 14), each with the
    verdict it must get. On assertion suites some pass: that verifier runs the candidate in the
    test's own process and is gameable by design (docs/sandbox.md), which is what it measures. A job's whole-tree memory budget has its own
    test (test_memory.py: page faults are slow on some VMs, too slow for this battery's 1 s)."""
    return {
        # redefine the test's helpers: the test code runs after the program and rebinds them
        "redefine_check": (_program("return 0\n", "def check(candidate):\n    pass\n"), "fail", "fail"),
        "builtins_check": (_program("return 0\n", "import builtins\nbuiltins.check = lambda c: None\n"),
                           "fail", "fail"),
        "redefine_candidate": (_program("return 0\n", "candidate = lambda a, b: a + b\n"), "fail", "fail"),
        "sys_modules_patch": (_program("return 0\n", "import sys, types\nfake = types.ModuleType('math')\n"
                                       "fake.isclose = lambda *a, **k: True\nsys.modules['math'] = fake\n"
                                       "sys.modules['json'] = fake\n"), "fail", "fail"),
        # rewrite the harness's own failure line into a pass line (assertion suites: by design)
        "patch_os_write_report": (_program("return 0\n", "import os\n_w = os.write\n"
                                           "os.write = lambda fd, b: _w(fd, b.replace(b' F ', b' P\\n#', 1))\n"),
                                  "fail", "pass"),
        "patch_harness_encoder": (_program("return 0\n", "import sys\nsys.modules['__main__'].encode = "
                                           "lambda v: '3'\n"), "fail", "fail"),
        "del_exit_on_return": (_program("k = K()\nreturn a + b\n", "import os\nclass K:\n"
                                        "    def __del__(self):\n        os._exit(0)\n"), "error", "error"),
        "atexit_marker": (_program("return 0\n", "import atexit, os\natexit.register(lambda: os.write("
                                   "1, b'0' * 32 + b' P\\n'))\n"), "fail", "fail"),
        "raise_system_exit": (_program("raise SystemExit(0)\n"), "error", "error"),
        "raise_keyboard_interrupt": (_program("raise KeyboardInterrupt\n"), "error", "error"),
        "ignore_sigxcpu_sigterm": (_program("for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):\n"
                                            "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n",
                                            "import signal\n"), "timeout", "timeout"),
        "thread_forges_after_return": (_program(
            "def late():\n    time.sleep(0.05)\n    os.write(1, b'0' * 32 + b' D\\n' + b'0' * 32 + b' P\\n')\n"
            "threading.Thread(target=late).start()\nreturn 0\n", "import os, threading, time\n"),
            "fail", "fail"),
        "fd_exhaustion": (_program("try:\n    while True:\n        held.append(os.open('/dev/null', os.O_RDONLY))\n"
                                   "except OSError:\n    pass\nreturn a + b\n", "import os\nheld = []\n"),
                          "pass", "pass"),
        "close_report_fd": (_program("os.closerange(0, 1024)\nreturn a + b\n", "import os\n"), "error", "error"),
        "endless_output": (_program("while True:\n    os.write(1, b'x' * 65536)\n", "import os\n"),
                           "error", "error"),
        "endless_print": (_program("while True:\n    print('x' * 10**5)\n"), "timeout", "timeout"),
        "recursion_error": (_program("return add(a, b)\n"), "error", "error"),
        "custom_eq_hash": (_program("class T:\n    __eq__ = lambda s, o: True\n    __hash__ = lambda s: 0\n"
                                    "return T()\n"), "fail", "pass"),
        "str_subclass_eq": (_program("class S(str):\n    __eq__ = lambda s, o: True\nreturn S('x')\n"),
                            "fail", "pass"),
        "return_nan": (_program("return float('nan')\n"), "fail", "fail"),
        # reads the expected values out of the calling test's constants (assertion suites: the
        # test runs in the candidate's process, by design); on I/O suites they are not there
        "read_test_constants": (_program(_READ_CONSTANTS), "fail", "pass"),
        "read_repo_file": (_program(f"open({REPO_FILE!r}).read()\nreturn a + b\n"),
                           {"bwrap": "error", "rlimits": "pass"}, {"bwrap": "error", "rlimits": "pass"}),
        "write_control_pipe": (_program("with open(f'/proc/{os.getppid()}/fd/3', 'wb') as fh:\n"
                                        "    fh.write(b'junk')\nreturn a + b\n", "import os\n"), "error", "error"),
        # the CPU clock counts CPU time: a sleep within the wall-clock backstop is no timeout
        "sleep_under_backstop": (_program("time.sleep(1.5)\nreturn a + b\n", "import time\n"), "pass", "pass"),
        # spin in a child the job does not wait for, block on a pipe meanwhile: still its CPU
        "fork_escape_cpu_clock": (_program(
            "r, w = os.pipe()\nif os.fork() == 0:\n    end = time.process_time() + 3\n"
            "    while time.process_time() < end:\n        pass\n    os.write(w, b'x')\n    os._exit(0)\n"
            "os.read(r, 1)\nreturn a + b\n", "import os, time\n"), "timeout", "timeout"),
    }


REPO_FILE = str(Path(__file__).resolve().parents[3] / "pyproject.toml")
_READ_CONSTANTS = """\
import sys
consts = [c for c in sys._getframe(1).f_code.co_consts if type(c) is int]
for i in range(len(consts) - 2):
    if consts[i] == a and consts[i + 1] == b:
        return consts[i + 2]
return 0
"""


# Finds the harness's nonce-tagged ``tag`` in the caller frames and forges completion lines
# with made-up outputs: the parent must still compare the outputs themselves.
_FRAME_WALK = """\
import os, sys
f = sys._getframe()
while f is not None:
    tag = f.f_locals.get("tag")
    if isinstance(tag, bytes) and f.f_locals.get("report") is not None:
        r = f.f_locals["report"]
        for line in (b"P", b"O 0 0", b"O 1 0", b"D"):
            os.write(r, tag + line + b"\\n")
        os._exit(0)
    f = f.f_back
return 0
"""


def _zygote_processes(label: str) -> int:
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
                if label.encode() in argv and argv[0] == sys.executable.encode():
                    count += 1
        except OSError:
            pass
    return count


@pytest.fixture(scope="module", params=["auto", "rlimits"])
def outcome(request, tmp_path_factory):
    """The whole battery, run once per level: the best available here, and the fall-back."""
    canary = tmp_path_factory.mktemp("host_home")
    (canary / "keep.txt").write_text("precious")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in canary.iterdir())
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    os.environ["INFSCALE_TEST_SECRET"] = SECRET
    battery = _battery(str(canary), server.getsockname()[1])
    executor = SandboxExecutor(workers=2, cache_dir=None, sandbox=request.param)
    jobs = []
    for name, (program, _, _) in battery.items():
        if executor.sandbox_level == "rlimits" and name in HARNESS_KILLERS and os.geteuid() != 0:
            continue  # would kill this very test process (see _protected)
        jobs.append(ExecJob((name, 0), program, IO, LIMIT_S))
        jobs.append(ExecJob((name, 1), program, CHECK, LIMIT_S))
    start = time.monotonic()
    results = {r.key: r for r in executor.run(jobs)}
    elapsed = time.monotonic() - start
    alive = list(executor.run([ExecJob(("after", 0), battery["correct"][0], IO, LIMIT_S)]))
    secrets_seen = executor.collect_outputs(
        "def leak():\n    import os\n    env = dict(os.environ)\n"
        "    try:\n        env['pid1'] = open('/proc/1/environ', 'rb').read().decode('latin-1')\n"
        "    except OSError as e:\n        env['pid1'] = str(e)\n    return env\n",
        "leak", [[]], 5.0)
    during = _zygote_processes(executor.label)
    live_workers = sum(1 for w in executor._all if w.proc is not None)
    executor.close()
    time.sleep(0.2)
    accepted = []
    try:
        accepted.append(server.accept())
    except BlockingIOError:
        pass
    server.close()
    yield {
        "level": executor.sandbox_level, "results": results, "battery": battery,
        "alive": alive, "elapsed": elapsed, "secrets": secrets_seen, "accepted": accepted,
        "canary_before": before, "canary": canary, "during": during, "live_workers": live_workers,
        "after": _zygote_processes(executor.label),
        "wall_limit_s": executor.limits.wall_backstop_s(LIMIT_S),
    }


NAMES = list(_battery("/nonexistent", 1))
HOST_FILES = {"write_outside", "rmtree_home"}
HARNESS_KILLERS = {"kill_everything"}


def _protected(level: str, name: str) -> None:
    if level == "rlimits" and name in HARNESS_KILLERS and os.geteuid() != 0:
        pytest.skip("level rlimits runs jobs as the invoking user, who may signal the harness")
    if level == "rlimits" and name == "socket_connect":
        pytest.skip("level rlimits does not remove the network (docs/sandbox.md)")
    if level == "rlimits" and name in HOST_FILES and os.geteuid() != 0:
        pytest.skip("level rlimits does not isolate network or the invoking user's files "
                    "(docs/sandbox.md); install bubblewrap")


def _required(spec: Any, level: str) -> str | None:
    return spec[level] if isinstance(spec, dict) else spec


@pytest.mark.parametrize("name", NAMES)
def test_required_verdict_io_suite(outcome, name):
    _protected(outcome["level"], name)
    required = _required(outcome["battery"][name][1], outcome["level"])
    got = outcome["results"][(name, 0)]
    if required is None:
        assert got.verdict != "pass", got
    else:
        assert got.verdict == required, got


@pytest.mark.parametrize("name", NAMES)
def test_required_verdict_assert_suite(outcome, name):
    _protected(outcome["level"], name)
    required = _required(outcome["battery"][name][2], outcome["level"])
    got = outcome["results"][(name, 1)]
    if required is None:
        assert got.verdict != "pass", got
    else:
        assert got.verdict == required, got


def test_limits_are_enforced_promptly(outcome):
    """Every job ended within its wall-clock limit (with the CPU clock: the backstop for what
    burns no CPU) plus the kill grace, and every CPU-limited one within its CPU seconds.

    The CPU clock counts all of a job's processes: one that forks burns up to one CPU-second per
    core per wall second, so between two looks of the fork server's watch (and the kill of every
    process) it can overshoot by that much more on a busy machine: the allowance is per core.
    """
    wall = outcome["wall_limit_s"]
    overshoot = 0.25 + 0.35 * (os.cpu_count() or 1)
    for result in outcome["results"].values():
        assert result.duration_s < wall + KILL_GRACE_S + 2.0, result
        if "CPU-time" in result.detail:
            assert result.extra["cpu_s"] < LIMIT_S + overshoot, result


def test_harness_survives_the_battery(outcome):
    assert [r.verdict for r in outcome["alive"]] == ["pass"]


def test_no_host_file_changed(outcome):
    canary = outcome["canary"]
    if outcome["level"] == "rlimits" and os.geteuid() != 0:
        pytest.skip("level rlimits runs jobs as the invoking user (docs/sandbox.md)")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in canary.iterdir()) == outcome["canary_before"]
    assert (canary / "keep.txt").read_text() == "precious"


def test_nothing_reached_a_host_socket(outcome):
    if outcome["level"] != "bwrap":
        pytest.skip("only bubblewrap removes the network (docs/sandbox.md)")
    assert outcome["accepted"] == []


def test_no_environment_secret_leaks(outcome):
    values, error = outcome["secrets"]
    assert error == "" and values is not None
    assert SECRET not in repr(values)
    assert "INFSCALE_TEST_SECRET" not in values[0]


def test_no_process_left_behind(outcome):
    """While warm: exactly one fork server per live worker; after close: none at all."""
    assert outcome["during"] == outcome["live_workers"]
    assert outcome["after"] == 0
