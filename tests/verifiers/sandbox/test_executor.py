"""The sandbox executor's contract: verdicts, stop-at-first-failure, cache, Executor protocol."""

from __future__ import annotations

import os

import pytest

from stages.params import VerifyParams
from stages.verifiers.base import AssertSuite, ExecJob, Executor, IOSuite
from stages.verifiers.sandbox import Limits, SandboxExecutor, make_executor

ADD = "def add(a, b):\n    return a + b\n"
IO = IOSuite("add", ((1, 2), (3, 4), (5, 6)), (3, 7, 11))
CHECK = AssertSuite("def check(candidate):\n    assert candidate(1, 2) == 3\n", "add")


@pytest.fixture(scope="module")
def executor():
    with SandboxExecutor(workers=2, cache_dir=None) as ex:
        yield ex


def _one(executor: SandboxExecutor, program: str, suite=IO, timeout: float = 2.0):
    return next(iter(executor.run([ExecJob(("p", 0), program, suite, timeout)])))


def test_is_an_executor(executor):
    assert isinstance(executor, Executor)
    assert executor.sandbox_level in ("bwrap", "rlimits")


def test_correct_program_passes_both_suites(executor):
    assert _one(executor, ADD).verdict == "pass"
    assert _one(executor, ADD, CHECK).verdict == "pass"


def test_wrong_output_fails_and_says_which_input(executor):
    result = _one(executor, "def add(a, b):\n    return 3\n")
    assert (result.verdict, result.detail) == ("fail", "wrong output on input 1; got 3")
    assert _one(executor, "def add(a, b):\n    return 0\n", CHECK).verdict == "fail"


def test_exception_is_error_and_names_it(executor):
    result = _one(executor, "def add(a, b):\n    raise KeyError('k')\n")
    assert result.verdict == "error" and "KeyError" in result.detail


def test_missing_entry_point_is_error(executor):
    result = _one(executor, "def plus(a, b):\n    return a + b\n")
    assert result.verdict == "error" and "KeyError" in result.detail


def test_syntax_error_is_decided_without_running(executor):
    result = _one(executor, "def add(a, b:\n    return a + b\n")
    assert result.verdict == "syntax_error" and result.extra == {}


def test_blank_program_is_empty(executor):
    assert _one(executor, "   \n\t\n").verdict == "empty"


def test_type_strictness(executor):
    assert _one(executor, "def add(a, b):\n    return float(a + b)\n").verdict == "pass"
    assert _one(executor, "def add(a, b):\n    return str(a + b)\n").verdict == "fail"
    bools = IOSuite("f", ((0,), (1,)), (False, True))
    assert _one(executor, "def f(x):\n    return x\n", bools).verdict == "pass"  # EvalPlus: 0 == False
    strict = IOSuite("f", ((0,), (1,)), (False, True), compare="strict")
    assert _one(executor, "def f(x):\n    return x\n", strict).verdict == "fail"
    assert _one(executor, "def f(x):\n    return bool(x)\n", strict).verdict == "pass"


def test_tuples_compare_as_json_lists(executor):
    suite = IOSuite("f", ((2,),), ([2, 4],))
    assert _one(executor, "def f(x):\n    return (x, 2 * x)\n", suite).verdict == "pass"


def test_stops_at_first_failure_unless_all_tests():
    slow_wrong = "import time\ndef add(a, b):\n    time.sleep(0.05)\n    return 0\n"
    with SandboxExecutor(workers=1, cache_dir=None) as first:
        stopped = _one(first, slow_wrong)
    with SandboxExecutor(workers=1, cache_dir=None, all_tests=True) as every:
        full = _one(every, slow_wrong)
    assert stopped.verdict == full.verdict == "fail"
    assert stopped.extra["tests_run"] == 1
    assert full.extra["tests_run"] == 3


def test_outputs_digest_clusters_equal_behaviour(executor):
    a = _one(executor, ADD)
    b = _one(executor, "def add(x, y):\n    return y + x  # same behaviour\n")
    c = _one(executor, "def add(a, b):\n    return a * b\n")
    assert a.outputs == b.outputs
    assert c.outputs != a.outputs


def test_zero_timeout_means_the_default(executor):
    assert _one(executor, ADD, IO, timeout=0.0).verdict == "pass"


def test_results_stream_as_they_finish(executor):
    jobs = [ExecJob(("slow", 0), "import time\ndef add(a, b):\n    time.sleep(0.5)\n    return a + b\n", IO, 3.0)]
    jobs += [ExecJob(("fast", i), ADD, IO, 3.0) for i in range(4)]
    order = [r.key[0] for r in executor.run(jobs)]
    assert sorted(order) == ["fast"] * 4 + ["slow"]
    assert order[0] == "fast"  # submitted first, the slow job does not hold the others back


def test_cache_hits_across_executors_and_ignores_formatting(tmp_path):
    jobs = [ExecJob(("p", 0), ADD, IO, 2.0), ExecJob(("p", 1), "def add(a,b):  # comment\n  return a+b\n", IO, 2.0)]
    with SandboxExecutor(workers=1, cache_dir=tmp_path) as first:
        cold = sorted(first.run(jobs[:1]), key=lambda r: r.key)
    with SandboxExecutor(workers=1, cache_dir=tmp_path) as second:
        warm = sorted(second.run(jobs), key=lambda r: r.key)
    assert [r.extra["cached"] for r in cold] == [False]
    assert [r.extra["cached"] for r in warm] == [True, True]
    assert [r.verdict for r in warm] == ["pass", "pass"]
    assert warm[0].outputs == cold[0].outputs


def test_cache_key_includes_the_suite_and_policy(tmp_path):
    with SandboxExecutor(workers=1, cache_dir=tmp_path, timeout_policy="a") as ex:
        list(ex.run([ExecJob(("p", 0), ADD, IO, 2.0)]))
        other_suite = IOSuite("add", ((1, 2),), (4,))
        assert _one(ex, ADD, other_suite).verdict == "fail"
    with SandboxExecutor(workers=1, cache_dir=tmp_path, timeout_policy="b") as ex:
        assert _one(ex, ADD).extra["cached"] is False


SPIN = "def add(a, b):\n    while True:\n        pass\n"
NAP_THEN_ADD = "import time\ndef add(a, b):\n    time.sleep(0.4)\n    return a + b\n"


def test_cpu_clock_stops_a_spinner_at_its_cpu_limit(executor):
    assert executor.limits.clock == "cpu"
    result = _one(executor, SPIN, timeout=0.3)
    assert result.verdict == "timeout" and "CPU-time limit" in result.detail
    assert 0.3 <= result.extra["cpu_s"] < 0.3 + 0.1, result


def test_cpu_clock_does_not_charge_waiting(executor):
    """A job that waits (a loaded machine, a sleep) is not charged for it on the CPU clock, so
    the same program gets the same verdict on an idle laptop and a busy server."""
    assert _one(executor, NAP_THEN_ADD, timeout=0.2).verdict == "pass"
    with SandboxExecutor(workers=1, cache_dir=None, limits=Limits(clock="wall")) as wall:
        result = _one(wall, NAP_THEN_ADD, timeout=0.2)
        assert result.verdict == "timeout" and "wall-clock" in result.detail


def test_cpu_clock_ends_a_sleeper_at_the_wall_backstop(executor):
    backstop = executor.limits.wall_backstop_s(0.2)
    result = _one(executor, "import time\ndef add(a, b):\n    time.sleep(10**6)\n", timeout=0.2)
    assert result.verdict == "timeout" and "wall-clock" in result.detail
    assert backstop <= result.duration_s < backstop + 2.0, result


def test_without_cpu_times_the_wall_clock_is_the_limit(monkeypatch):
    """Where the fork server cannot read CPU times (no /proc: macOS) it says so at start-up and
    the parent holds each job to its timeout in wall time, not to the longer backstop."""
    from stages.verifiers.sandbox import worker

    blind = worker.zygote_source().replace("\nmain()\n", "\ndef _cpu_used(pid):\n    return None\n\n\nmain()\n")
    assert blind != worker.zygote_source()
    monkeypatch.setattr(worker, "zygote_source", lambda: blind)
    with SandboxExecutor(workers=1, cache_dir=None) as ex:
        result = _one(ex, NAP_THEN_ADD, timeout=0.2)
        assert [w.cpu_clock for w in ex._all] == [False]
    assert result.verdict == "timeout" and "wall-clock" in result.detail
    assert result.duration_s < ex.limits.wall_backstop_s(0.2)


def test_cache_key_includes_the_clock(tmp_path):
    with SandboxExecutor(workers=1, cache_dir=tmp_path, limits=Limits(clock="wall")) as ex:
        assert _one(ex, ADD).extra["cached"] is False
    with SandboxExecutor(workers=1, cache_dir=tmp_path, limits=Limits(clock="cpu")) as ex:
        assert _one(ex, ADD).extra["cached"] is False
        assert _one(ex, ADD).extra["cached"] is True


def test_make_executor_reads_verify_params(tmp_path):
    params = VerifyParams(workers=1, cache=False, sandbox="rlimits", memory_mb=512, all_tests=True)
    with make_executor(params, cache_dir=tmp_path) as ex:
        assert (ex.workers, ex.cache, ex.sandbox_level, ex.all_tests) == (1, None, "rlimits", True)
        assert (ex.limits.memory_mb, ex.limits.clock) == (512, "cpu")
        assert ex.default_timeout_s == params.timeout_floor_s
    with make_executor(VerifyParams(timeout_clock="wall"), cache_dir=tmp_path) as ex:
        assert ex.limits.clock == "wall"


def test_unknown_level_is_a_clear_error():
    with pytest.raises(ValueError, match="sandbox level"):
        SandboxExecutor(sandbox="docker")


def test_inputs_keep_their_types(executor):
    """Tuples, sets, non-finite floats reach the candidate as such (EvalPlus relies on it)."""
    kinds = "def f(x):\n    return type(x).__name__\n"
    suite = IOSuite("f", (((1, 2),), ({3},), (float("inf"),), ({1: "a"},), ([1],)),
                    ("tuple", "set", "float", "dict", "list"))
    assert _one(executor, kinds, suite).verdict == "pass"
    pre_typed = IOSuite("f", (({"$tuple": [1, 2]},),), ("tuple",))  # typed JSON left tagged
    assert _one(executor, kinds, pre_typed).verdict == "pass"


def _kill_the_first_run(ex: SandboxExecutor) -> None:
    """In a thread: kill the only worker's fork server from outside (a job can no longer kill
    it) 0.2 s after its first job started (not while the worker starts)."""
    import signal
    import threading
    import time

    def kill() -> None:
        while not (ex._all and ex._all[0]._inflight and ex._all[0]._inflight[0].started):
            time.sleep(0.01)
        time.sleep(0.2)
        os.killpg(ex._all[0].proc.pid, signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()


def test_jobs_queued_behind_a_lost_worker_run_again():
    """A fork server that dies loses only the running job; the job queued behind it in the same
    worker is handed back and runs on a fresh one."""
    killer = "import time\ndef add(a, b):\n    time.sleep(30)\n    return a + b\n"
    jobs = [ExecJob(("killer", 0), killer, IO, 2.0)] + [ExecJob(("ok", i), ADD, IO, 2.0) for i in range(3)]
    with SandboxExecutor(workers=1, cache_dir=None) as ex:
        _kill_the_first_run(ex)
        results = {r.key: r.verdict for r in ex.run(jobs)}
    assert results == {("killer", 0): "error", ("ok", 0): "pass", ("ok", 1): "pass", ("ok", 2): "pass"}


SLOW_ADD = "import time\ndef add(a, b):\n    time.sleep(0.3)\n    return a + b\n"


def test_repeats_of_a_running_program_wait_for_its_verdict(tmp_path):
    """With the cache on, the feeder is far ahead of the workers: repeats of a program (here
    also reformatted) must not each miss the cache and run; they get the one run's verdict."""
    variants = [SLOW_ADD, SLOW_ADD.replace("a + b", "a+b  # same tree")]
    jobs = [ExecJob(("p", i), variants[i % 2], IO, 5.0) for i in range(6)]
    with SandboxExecutor(workers=2, cache_dir=tmp_path) as ex:
        results = {r.key: r for r in ex.run(jobs)}
    assert set(results) == {("p", i) for i in range(6)}
    assert sorted(r.extra["cached"] for r in results.values()) == [False] + [True] * 5
    assert {(r.verdict, r.outputs) for r in results.values()} == {("pass", results[("p", 0)].outputs)}


def test_repeats_of_a_program_that_does_not_compile_all_get_its_verdict(tmp_path):
    """``return`` outside a function parses but does not compile: its key was claimed before
    the compile failed, and the repeats parked behind it must still get a verdict."""
    jobs = [ExecJob(("p", i), "return 1\n", IO, 2.0) for i in range(3)]
    with SandboxExecutor(workers=1, cache_dir=tmp_path) as ex:
        verdicts = sorted((r.key, r.verdict) for r in ex.run(jobs))
    assert verdicts == [(("p", i), "syntax_error") for i in range(3)]


def test_repeats_parked_behind_a_lost_worker_run_themselves(tmp_path):
    """A run whose worker was lost says nothing about the program: its repeats are run, not
    given its error."""
    program = "import time\ndef add(a, b):\n    time.sleep(0.5)\n    return a + b\n"
    jobs = [ExecJob(("p", i), program, IO, 10.0) for i in range(3)]
    with SandboxExecutor(workers=1, cache_dir=tmp_path) as ex:
        _kill_the_first_run(ex)
        results = sorted((r.key, r.verdict, r.extra["cached"]) for r in ex.run(jobs))
    assert results[0] == (("p", 0), "error", False)
    assert sorted(r[1:] for r in results[1:]) == [("pass", False), ("pass", True)]


def test_a_job_that_brings_its_fork_server_down_before_it_starts_gets_an_error(monkeypatch):
    """A message the fork server cannot read (here: a new suite without its kind, which
    ``job_message`` never sends) kills it before the job starts; the job is retried on a fresh
    worker, but not forever, and the job behind it still runs."""
    from stages.verifiers.sandbox import executor as executor_module
    from stages.verifiers.sandbox.messages import job_message

    def malformed(kind, entry_point, program, code=None):
        message = job_message(kind, entry_point, program, code)
        if "MALFORMED" in program:
            del message["k"]
        return message

    monkeypatch.setattr(executor_module, "job_message", malformed)
    own_suite = IOSuite("add", ((2, 2),), (4,))  # sent with the bad job's every message: it kills
    jobs = [ExecJob(("bad", 0), ADD + "# MALFORMED\n", own_suite, 2.0), ExecJob(("ok", 0), ADD, IO, 2.0)]
    with SandboxExecutor(workers=1, cache_dir=None) as ex:
        results = {r.key: (r.verdict, r.detail) for r in ex.run(jobs)}
    assert results[("ok", 0)][0] == "pass"
    assert results[("bad", 0)] == ("error", "sandbox worker lost before the job started, 3 times")


def test_an_executor_dropped_without_close_leaves_no_worker():
    import gc
    import os

    def labelled(label: str) -> int:
        count = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    count += label.encode() in fh.read().split(b"\0")
            except OSError:
                pass
        return count

    ex = SandboxExecutor(workers=1, cache_dir=None)
    assert _one(ex, ADD).verdict == "pass"
    label = ex.label
    assert labelled(label) > 0
    del ex
    gc.collect()
    assert labelled(label) == 0


def test_output_with_more_than_4300_digits_is_encoded(executor):
    """CPython 3.11+ refuses int -> str past 4,300 digits by default; the sandbox child lifts
    that, and so does the parent (codec.allow_long_ints), so a huge output is compared."""
    suite = IOSuite("f", ((5000,),), (10**5000,))
    assert _one(executor, "def f(n):\n    return 10 ** n\n", suite).verdict == "pass"
    assert _one(executor, "def f(n):\n    return 10 ** n + 1\n", suite).verdict == "fail"


def test_set_compare_ignores_order_but_not_content(executor):
    """IOSuite.compare = "set" (EvalPlus's set-equality oracle for MBPP+ tasks such as Mbpp/2)."""
    exact = IOSuite("f", ((3,),), ([1, 2, 3],))
    as_set = IOSuite("f", ((3,),), ([1, 2, 3],), compare="set")
    reordered = "def f(n):\n    return tuple(reversed(range(1, n + 1)))\n"
    assert _one(executor, reordered, exact).verdict == "fail"
    assert _one(executor, reordered, as_set).verdict == "pass"
    assert _one(executor, "def f(n):\n    return (1, 2)\n", as_set).verdict == "fail"
    assert _one(executor, "def f(n):\n    return 6\n", as_set).verdict == "fail"  # not a collection


def test_candidate_outputs_cannot_crash_the_parent_comparison(executor):
    """Outputs the parent cannot compare are wrong outputs, never an exception in the harness."""
    floats = IOSuite("f", ((1,),), (1.5,))
    assert _one(executor, "def f(x):\n    return 10 ** 400\n", floats).verdict == "fail"
    deep = "import sys\nsys.setrecursionlimit(100000)\ndef f(x):\n    v = []\n    for _ in range(20000):\n        v = [v]\n    return v\n"
    assert _one(executor, deep, IOSuite("f", ((1,),), ([],))).verdict in ("fail", "error")
