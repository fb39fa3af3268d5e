"""Time limits per input, from the reference's time on each input (issues 13.9 and 16).

The HumanEval/60 case: HumanEval+'s reference of ``sum_to_n`` is O(1), HumanEval's own canonical
solution ``sum(range(n + 1))`` is O(n), and the suite holds inputs up to 10^6. A limit for the
whole suite of ``max(floor, factor x reference time)`` times the correct linear solution out;
a limit per input of the same rule lets it pass (docs/sandbox.md).
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from stages.schemas import PROBLEMS, conform
from stages.verifiers import code_tests
from stages.verifiers.base import ExecJob
from stages.verifiers.sandbox import SandboxExecutor
from stages.verifiers.sandbox.calibrate import calibrate_problems
from stages.verifiers.sandbox.reruns import RERUN_LIMIT_FACTOR

FLOOR, FACTOR = 0.25, 20.0
INPUTS = [[1], [5], [10], [30]] + [[10**6 - i] for i in range(40)]  # as HumanEval+'s plus inputs
PROBLEM = {"dataset": "humanevalplus", "kind": "code", "prompt": "", "program_prefix": "",
           "atol": 0.0, "answer": "", "dataset_hash": "", "test": "", "problem_id": "HumanEval/60",
           "entry_point": "sum_to_n", "reference": "def sum_to_n(n):\n    return n * (n + 1) // 2\n",
           "inputs_weak": json.dumps(INPUTS[:4]),
           "outputs_weak": json.dumps([n * (n + 1) // 2 for [n] in INPUTS[:4]]),
           "inputs_strong": json.dumps(INPUTS),
           "outputs_strong": json.dumps([n * (n + 1) // 2 for [n] in INPUTS])}
CANONICAL = "def sum_to_n(n):\n    return sum(range(n + 1))\n"  # HumanEval's canonical solution
SPIN = "def sum_to_n(n):\n    while True:\n        pass\n"


@pytest.fixture(scope="module")
def setup():
    problems = conform(pl.DataFrame([PROBLEM]), PROBLEMS, "problems")
    executor = SandboxExecutor(workers=1, cache_dir=None)
    timeouts = calibrate_problems(problems, FLOOR, FACTOR, executor)
    yield problems, executor, timeouts
    executor.close()


def _run(setup, programs: list[str], timeouts=None):
    problems, executor, calibrated = setup
    samples = pl.DataFrame({"problem_id": ["HumanEval/60"] * len(programs),
                            "sample_idx": list(range(len(programs))), "completion": programs})
    results = code_tests.run_verifier("strong_io", problems, samples, executor,
                                      calibrated if timeouts is None else timeouts)
    return sorted(results, key=lambda r: r.key)


def test_every_input_gets_its_own_limit(setup):
    _, _, timeouts = setup
    per_input = timeouts.inputs["HumanEval/60"]
    assert len(per_input) == len(INPUTS)  # the weak inputs are among the strong ones
    assert set(per_input.values()) == {FLOOR}  # an O(1) reference: every input at the floor


def test_linear_solution_passes_with_per_input_limits(setup):
    """The canonical O(n) solution spends about 20 ms of CPU per input of 10^6 (about 1 s in
    all): within each input's floor, over any whole-suite limit the O(1) reference implies."""
    result = _run(setup, [CANONICAL])[0]
    assert result.verdict == "pass", result
    assert result.extra["cpu_s"] > timeouts_whole(setup)["HumanEval/60"]
    old = _run(setup, [CANONICAL], timeouts_whole(setup))[0]  # the previous rule, for contrast
    assert old.verdict == "timeout"


def timeouts_whole(setup) -> dict[str, float]:
    _, _, timeouts = setup
    return dict(timeouts)  # the whole-suite limits alone: what the verifier used before


def test_a_hang_costs_its_input_limit_in_each_run_not_the_suite_budget(setup):
    """The first run stops at input 0's limit; the second (reruns: does a wrong output follow?)
    at 4x that limit: both far below the suite's budget (44 inputs x the floor)."""
    result = _run(setup, [SPIN])[0]
    assert result.verdict == "timeout" and "per-input CPU-time limit on input 0" in result.detail
    assert result.extra["cpu_s"] < FLOOR + 0.1, result  # the first run's
    assert result.extra["second_run_s"] < RERUN_LIMIT_FACTOR * FLOOR * 2 + 1.0 < len(INPUTS) * FLOOR


def test_a_run_a_limit_stopped_has_no_answer_and_no_load_dependent_detail(setup):
    """Where a limit falls moves with the machine's load, so neither the verdict's detail nor
    the cluster digest may depend on it: a run cut short by a clock has no answer (``outputs``
    None), and a detail names the clock, never a time (issue 15: dvc.lock stays unchanged)."""
    slow_on_big = "def sum_to_n(n):\n    while n >= 10:\n        pass\n    return n * (n + 1) // 2\n"
    fine, cut = _run(setup, [CANONICAL, slow_on_big])
    assert fine.verdict == "pass" and fine.outputs is not None
    assert cut.verdict == "timeout" and cut.outputs is None
    assert cut.detail == "exceeded its per-input CPU-time limit on input 2"


def _wrong_then(on_30: str) -> str:
    """Wrong on input 0 (n = 1), right elsewhere; ``on_30``: what it does first on n = 30, the
    last clustering input (the weak inputs are the first four)."""
    return ("import time\ndef sum_to_n(n):\n    if n == 30:\n" + on_30 +
            "    return n * (n + 1) // 2 + (n == 1)\n")


def test_a_fail_a_limit_cut_gets_its_answer_from_a_looser_rerun(setup):
    """Issue 15 (HumanEval/75 sample 11): a program already failed on an input, and then spends
    1.5x the limit of a clustering input. Whether a limit cuts it there moves with load, so its
    answer comes from a re-run of the clustering inputs under 4x the limits: the same digest as
    a program with the same outputs that is fast, and the same verdict and detail."""
    spin = ("        t = time.process_time()\n"
            f"        while time.process_time() - t < {1.5 * FLOOR}:\n            pass\n")
    fast, slow = _run(setup, [_wrong_then("        pass\n"), _wrong_then(spin)])
    assert fast.verdict == slow.verdict == "fail"
    assert fast.detail == slow.detail == "wrong output on input 0; got 2"
    assert slow.extra["tests_run"] < 4  # the first run was cut on a clustering input
    assert fast.outputs is not None and slow.outputs == fast.outputs


def test_a_fail_that_hangs_on_a_clustering_input_has_no_answer(setup):
    hang = "        while True:\n            pass\n"
    result = _run(setup, [_wrong_then(hang)])[0]
    assert (result.verdict, result.detail) == ("fail", "wrong output on input 0; got 2")
    assert result.outputs is None


def _slow_on_first_input(wrong_on_5: bool) -> str:
    """1.5x input 0's limit (n = 1, at the floor) of CPU, then right on it; on n = 5 (input 1)
    wrong if ``wrong_on_5``, else right everywhere."""
    return ("import time\ndef sum_to_n(n):\n    if n == 1:\n        t = time.process_time()\n"
            f"        while time.process_time() - t < {1.5 * FLOOR}:\n            pass\n"
            f"    return n * (n + 1) // 2 + {int(wrong_on_5)} * (n == 5)\n")


def test_a_wrong_program_a_limit_cut_first_is_a_fail_as_when_fast(setup):
    """Issue 15 (HumanEval/75 sample 11, a fail idle and a timeout under load): a limit cuts the
    program on input 0, before its wrong output on input 1. Its second run, under 4x the limits,
    reaches the wrong output: the verdict, detail and answer are those of the same program
    without the slow start, whatever the load."""
    fast = _wrong_then("        pass\n").replace("+ (n == 1)", "+ (n == 5)")
    fast_result, slow_result = _run(setup, [fast, _slow_on_first_input(wrong_on_5=True)])
    assert (fast_result.verdict, fast_result.detail) == ("fail", "wrong output on input 1; got 16")
    assert (slow_result.verdict, slow_result.detail) == (fast_result.verdict, fast_result.detail)
    assert slow_result.outputs is not None and slow_result.outputs == fast_result.outputs
    assert slow_result.extra["second_run_s"] > 0  # it was decided by the second run


def test_a_correct_program_a_limit_cut_stays_a_timeout(setup):
    """A slow program with no wrong output is where the limit decides (as in EvalPlus): the
    second run passes, and the verdict stays the first run's timeout, with no answer."""
    result = _run(setup, [_slow_on_first_input(wrong_on_5=False)])[0]
    assert (result.verdict, result.detail) == ("timeout", "exceeded its per-input CPU-time limit on input 0")
    assert result.outputs is None


def test_c_level_hang_and_sleep_are_ended_per_input(setup):
    c_hang = "def sum_to_n(n):\n    return sum(range(10**15))\n"
    sleeper = "import time\ndef sum_to_n(n):\n    time.sleep(100)\n"
    hang, sleep = _run(setup, [c_hang, sleeper])
    assert hang.verdict == "timeout" and "CPU-time" in hang.detail
    assert sleep.verdict == "timeout" and "wall-clock" in sleep.detail
    assert sleep.duration_s < 4 * FLOOR + 0.5 + 1.0, sleep


def test_disarming_the_timer_meets_the_whole_budget(setup):
    """A candidate that turns its per-input timers off is still held to the job's budget (the
    sum of the per-input limits) by the fork server."""
    sneaky = ("import signal\ndef sum_to_n(n):\n    signal.setitimer(signal.ITIMER_PROF, 0)\n"
              "    signal.setitimer(signal.ITIMER_REAL, 0)\n    while True:\n        pass\n")
    problems, executor, timeouts = setup
    job = next(j for j in code_tests.plan_jobs("strong_io", problems, pl.DataFrame(
        {"problem_id": ["HumanEval/60"], "sample_idx": [0], "completion": [sneaky]}), timeouts)
        if isinstance(j, ExecJob))
    small = ExecJob(job.key, job.program, job.suite, 0.5)  # a small budget keeps the test short
    result = next(iter(executor.run([small])))
    assert result.verdict == "timeout" and result.detail == "exceeded its CPU-time limit"
    assert result.outputs is None  # cut short by a clock: no answer to cluster on


NUMPY_SUM = "import numpy as np\n\ndef sum_to_n(n):\n    return int(np.arange(n + 1).sum())\n"


def test_correct_numpy_solution_passes_within_the_floor():
    """``import numpy`` alone costs ~0.3 CPU-s, above the 0.25 s floor: the fork server imports
    it itself the first time a job's code names it, so neither loading the program nor the first
    call spends the floor on it (issue 18); also when the import sits inside the function. A
    fresh executor each, so the first case cannot have loaded numpy for the second."""
    pytest.importorskip("numpy")
    inside = "def sum_to_n(n):\n    import numpy\n    return int(numpy.arange(n + 1).sum())\n"
    for program in (NUMPY_SUM, inside):
        problems = conform(pl.DataFrame([PROBLEM]), PROBLEMS, "problems")
        with SandboxExecutor(workers=1, cache_dir=None) as executor:
            timeouts = calibrate_problems(problems, FLOOR, FACTOR, executor)
            assert [r.verdict for r in _run((problems, executor, timeouts), [program])] == ["pass"]
            from stages.verifiers.base import AssertSuite

            check = AssertSuite("def check(c):\n    assert c(10) == 55\n", "sum_to_n")
            result = next(iter(executor.run([ExecJob(("a", 0), program, check, FLOOR)])))
            assert result.verdict == "pass" and result.extra["cpu_s"] < 0.05, result  # no import paid


def test_jobs_that_never_name_numpy_do_not_load_it(setup):
    """numpy doubles the cost of every fork, so the fork server holds it only once some job
    names it: a job that looks for it in ``sys.modules`` without naming it does not find it."""
    probe = "import sys\n\ndef sum_to_n(n):\n    assert 'nu' + 'mpy' not in sys.modules\n    return n * (n + 1) // 2\n"
    problems = conform(pl.DataFrame([PROBLEM]), PROBLEMS, "problems")
    with SandboxExecutor(workers=1, cache_dir=None) as executor:
        timeouts = calibrate_problems(problems, FLOOR, FACTOR, executor)
        assert [r.verdict for r in _run((problems, executor, timeouts), [probe])] == ["pass"]
