"""Per-problem timeouts from the reference's runtime, and trusted reference outputs."""

from __future__ import annotations

from stages.verifiers.base import ExecJob, IOSuite
from stages.verifiers.sandbox import Limits, SandboxExecutor, compute_outputs, timeout_for
from stages.verifiers.sandbox.calibrate import calibrate_timeouts


def test_timeout_for_is_max_of_floor_and_scaled_reference():
    assert timeout_for(0.001, 1.0, 20.0) == 1.0
    assert timeout_for(0.5, 1.0, 20.0) == 10.0


FAST = "def f(x):\n    return x\n"
SLEEPS = "import time\ndef f(x):\n    time.sleep(0.2)\n    return x\n"
SPINS = ("import time\ndef f(x):\n    end = time.process_time() + 0.2\n"
         "    while time.process_time() < end:\n        pass\n    return x\n")


def _calibrate(clock: str, programs: dict[str, str]) -> dict[str, float]:
    suite = IOSuite("f", ((1,),), (1,))
    jobs = [ExecJob((name, 0), program, suite, 0.0) for name, program in programs.items()]
    with SandboxExecutor(workers=2, cache_dir=None, limits=Limits(clock=clock)) as executor:
        return calibrate_timeouts(jobs, floor_s=0.5, factor=10.0, executor=executor, repeats=1)


def test_calibration_scales_with_the_reference_runtime():
    limits = _calibrate("wall", {"fast": FAST, "slow": SLEEPS})
    assert limits["fast"] == 0.5
    assert limits["slow"] >= 2.0


def test_cpu_clock_calibration_counts_computing_not_waiting():
    """On the CPU clock a reference that waits 0.2 s costs nothing; one that computes does."""
    limits = _calibrate("cpu", {"fast": FAST, "sleeps": SLEEPS, "spins": SPINS})
    assert limits["fast"] == 0.5 and limits["sleeps"] == 0.5
    assert limits["spins"] >= 2.0


def test_compute_outputs_of_a_reference():
    program = "def f(x):\n    return (x, {x}, {x: str(x)})\n"
    values, error = compute_outputs(program, "f", [[1], [2]], timeout_s=5.0)
    assert error == ""
    assert values == [[1, [1], {"1": "1"}], [2, [2], {"2": "2"}]]


def test_compute_outputs_reports_why_it_failed():
    values, error = compute_outputs("def f(x):\n    return 1 // x\n", "f", [[1], [0]], timeout_s=5.0)
    assert values is None and "ZeroDivisionError" in error and "input 1" in error
    values, error = compute_outputs("def f(x):\n    return object()\n", "f", [[1]], timeout_s=5.0)
    assert values is None and "unencodable" in error


def test_executor_calibrates_problems_on_their_slowest_suite():
    import polars as pl

    from stages.params import VerifyParams
    from stages.schemas import PROBLEMS, conform

    base = {"dataset": "t", "kind": "code", "prompt": "", "program_prefix": "", "atol": 0.0,
            "answer": "", "dataset_hash": "", "inputs_weak": "", "outputs_weak": "",
            "outputs_strong": "", "test": "", "inputs_strong": ""}
    rows = [
        dict(base, problem_id="quick", entry_point="f", reference="def f(x):\n    return x\n",
             test="def check(c):\n    assert c(1) == 1\n"),
        dict(base, problem_id="slow_io", entry_point="f",
             reference="import time\ndef f(x):\n    time.sleep(0.1)\n    return x\n",
             inputs_strong="[[1], [2], [3]]"),
        dict(base, problem_id="no_reference", entry_point="f", reference=""),
    ]
    problems = conform(pl.DataFrame(rows), PROBLEMS, "problems")
    params = VerifyParams(timeout_floor_s=0.5, timeout_factor=5.0, timeout_clock="wall")
    with SandboxExecutor(workers=2, cache_dir=None, limits=Limits(clock="wall")) as executor:
        limits = executor.calibrate_timeouts(problems, params)
    assert limits["quick"] == 0.5 and limits["no_reference"] == 0.5
    assert limits["slow_io"] >= 5.0 * 0.3
