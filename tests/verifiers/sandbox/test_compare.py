"""Default output equality is EvalPlus 0.3.1's, with its special oracles; the typed comparison stays an option."""

from __future__ import annotations

import json
import math

from stages.verifiers import code_tests
from stages.verifiers.base import IOSuite
from stages.verifiers.sandbox.codec import encode, encode_args, evalplus_equal, is_floats
from stages.verifiers.sandbox.oracles import poly_root
from stages.verifiers.sandbox.verdicts import IOCheck
from tests.verifiers.sandbox.judged import verdicts


def test_bool_and_int_are_equal_as_in_evalplus():
    """HumanEval programs that return 1/0 where the reference returns True/False pass
    EvalPlus (and HumanEval's own asserts): ``1 == True``."""
    assert evalplus_equal(1, True) and evalplus_equal(False, 0) and evalplus_equal([1, 0], [True, False])
    assert evalplus_equal(2, 2.0) and evalplus_equal(2.0, 2)
    assert not evalplus_equal(None, 0) and not evalplus_equal("1", 1) and not evalplus_equal(2, True)


def test_float_tolerance_is_evalplus_allclose():
    assert is_floats(0.5) and is_floats([0.5, 1.0]) and not is_floats([0.5, 1]) and not is_floats([])
    assert evalplus_equal(0.1 + 0.2, 0.3, 1e-6)
    assert evalplus_equal(1e9 + 50, 1e9, 1e-6)  # rtol 1e-7 x 1e9 = 100
    assert not evalplus_equal(0.3 + 2e-6, 0.3, 1e-6)
    assert not evalplus_equal(0.1 + 0.2, 0.3, 0.0)  # no tolerance: out == exp only
    assert not evalplus_equal(3, 3.0000001, 1e-6)  # inexact needs type(out) == type(exp)
    assert evalplus_equal([1.0, 2.0000001], [1.0, 2.0], 1e-6)
    assert not evalplus_equal([1.0], [1.0, 2.0], 1e-6)
    assert not evalplus_equal(math.nan, math.nan, 1e-6)  # np.allclose: equal_nan=False
    assert evalplus_equal(math.inf, math.inf, 1e-6) and not evalplus_equal(math.inf, 1e308, 1e-6)
    assert not evalplus_equal(["a"], ["b"], 1e-6) and not evalplus_equal(10**400, 1.5, 1e-6)


def _check(outputs, expected, atol=0.0, compare="exact") -> int | None:
    check = IOCheck([encode(e) for e in expected], atol, False, compare)
    for i, out in enumerate(outputs):
        check.on_line(b"O %d " % i + encode(out).encode())
    return check.mismatch


def test_tolerance_sticks_after_the_first_float_output():
    """EvalPlus sets ``atol = 1e-6`` inside its loop over inputs, so from the first float
    expected output on, later (non-float) outputs compare with that tolerance too."""
    assert _check([[1, 2.0000001]], [[1, 2.0]]) == 0  # mixed list: is_floats is False
    assert _check([0.5, [1, 2.0000001]], [0.5, [1, 2.0]]) is None
    assert _check([0.5 + 1e-9], [0.5], compare="exact") is None


def test_strict_option_keeps_the_typed_comparison():
    assert _check([1, 0], [True, False]) is None
    assert _check([1, 0], [True, False], compare="strict") == 0


def test_strict_is_a_verify_param():
    problem = {"problem_id": "p", "entry_point": "f", "inputs_strong": json.dumps([[1]]),
               "outputs_strong": json.dumps([True]), "atol": 0.0, "dataset": "humanevalplus",
               "inputs_weak": "", "test": "", "prompt": "", "program_prefix": ""}  # a problems row's columns
    assert code_tests._suite("strong_io", problem).compare == "exact"
    assert code_tests._suite("strong_io", problem, "strict").compare == "strict"


def test_a_program_returning_ints_for_bools_passes_in_the_sandbox():
    suite = IOSuite("is_even", ((2,), (3,)), (True, False))
    program = "def is_even(n):\n    return 1 if n % 2 == 0 else 0\n"
    strict = IOSuite("is_even", ((2,), (3,)), (True, False), compare="strict")
    assert verdicts((program, suite), (program, strict)) == ["pass", "fail"]


def test_find_zero_accepts_any_root_of_the_polynomial_as_evalplus_does():
    """HumanEval/32 asks for *a* zero of the polynomial; EvalPlus's oracle (and HumanEval's own
    check) accept any x with ``abs(poly(xs, x)) <= atol``, not only the reference's root."""
    cubic = [-6, 11, -6, 1]  # (x - 1)(x - 2)(x - 3)
    assert poly_root(cubic, 1.0, 1e-4) and poly_root(cubic, 3, 1e-4) and poly_root(cubic, 2.00001, 1e-4)
    assert not poly_root(cubic, 1.5, 1e-4) and not poly_root(cubic, 2.001, 1e-4)
    assert not poly_root(cubic, "1", 1e-4) and not poly_root(cubic, None, 1e-4)
    assert not poly_root(cubic, [1.0], 1e-4) and not poly_root(cubic, 1e308, 1e-4)  # overflow


def _root_check(coefficients, expected_root, out) -> int | None:
    check = IOCheck([encode(expected_root)], 1e-4, False, "poly_root",
                    arguments=[encode_args([coefficients])])
    check.on_line(b"O 0 " + encode(out).encode())
    return check.mismatch


def test_the_polynomial_oracle_reads_the_input_not_the_reference_output():
    cubic = [-6, 11, -6, 1]
    assert _root_check(cubic, 1.0, 3.0) is None  # another root: right
    assert _root_check(cubic, 1.0, 1.5) == 0
    assert _root_check(cubic, 1.5, 1.5) == 0  # equal to a wrong "reference": still wrong


def test_find_zero_gets_the_polynomial_oracle_under_both_comparisons():
    row = {"entry_point": "find_zero", "atol": 0.0001, "dataset": "humanevalplus"}
    assert code_tests.oracle(row) == ("poly_root", 1e-4)
    assert code_tests.oracle(row, "strict") == ("poly_root", 1e-4)
    # plain HumanEval carries no tolerance: its check's own 1e-4 is used
    assert code_tests.oracle(row | {"dataset": "humaneval", "atol": 0.0}) == ("poly_root", 1e-4)
    assert code_tests.oracle(row | {"entry_point": "g"}) == ("exact", 1e-4)


def test_a_program_finding_another_root_passes_in_the_sandbox():
    inputs = (([-6, 11, -6, 1],), ([2, -3, 1],))  # roots {1, 2, 3} and {1, 2}
    suite = IOSuite("find_zero", inputs, (1.0, 1.0), 1e-4, "poly_root")
    another = "def find_zero(xs):\n    return 2.0\n"
    none = "def find_zero(xs):\n    return 1.5\n"
    assert verdicts((another, suite), (none, suite)) == ["pass", "fail"]
