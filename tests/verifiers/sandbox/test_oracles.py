"""EvalPlus's special oracles, judged in the parent as EvalPlus 0.3.1 judges them."""

from __future__ import annotations

from stages.verifiers import code_tests
from stages.verifiers.base import IOSuite
from stages.verifiers.sandbox.codec import encode, encode_args
from stages.verifiers.sandbox.oracles import extends_equality, not_none
from stages.verifiers.sandbox.verdicts import IOCheck
from tests.verifiers.sandbox.judged import verdicts


def _mismatch(mode: str, inputs: list, expected: list, outputs: list[bytes]) -> int | None:
    check = IOCheck([encode(e) for e in expected], 0.0, False, mode,
                    arguments=[encode_args(a) for a in inputs])
    for i, line in enumerate(outputs):
        check.on_line(line.replace(b"#", b"%d" % i, 1))
    return check.mismatch


def test_not_none_compares_bools_and_otherwise_whether_something_came_back():
    assert not_none(True, True) and not_none(False, False) and not not_none(False, True)
    assert not_none("Valid", True) and not_none(None, False) and not not_none(None, True)
    assert not not_none("", False)  # EvalPlus: "" is not None


def test_an_unencodable_output_counts_as_something_only_for_not_none_tasks():
    """A re.Match cannot be carried out of the sandbox (a ``U`` line): for the not-None tasks
    it is 'something'; anywhere else it stays a wrong output."""
    match = b"U # Unencodable: unencodable output of type Match"
    assert _mismatch("not_none", [["annie"], ["dawood"]], [True, False], [match, b"O # null"]) is None
    assert _mismatch("not_none", [["annie"], ["dawood"]], [True, False], [b"O # null", b"O # null"]) == 0
    assert _mismatch("not_none", [["dawood"]], [False], [match]) == 0
    assert _mismatch("exact", [["annie"]], [True], [match]) == 0


def test_mbpp_oracles_extend_evalplus_equality():
    assert extends_equality("any_output", [1, 2], [36, 57], 0.0)
    assert extends_equality("or_zero", 0, [8], 0.0) and not extends_equality("or_zero", 3, [8], 0.0)
    # Mbpp/581: base 3, height 4: slant sqrt(2.25 + 16), 9 + 6 * slant = 34.6... -> 35
    assert extends_equality("surface_area", 35, [3, 4], 0.0)
    assert not extends_equality("surface_area", 33, [3, 4], 0.0)


def test_digit_distance_pads_the_shorter_number_with_zeros():
    assert extends_equality("digit_distance", 7, [123, 256], 0.0)
    assert extends_equality("digit_distance", 2 + 5 + 5, [1, 256], 0.0)  # 001 vs 256


def test_or_zero_and_surface_area_pass_through_the_check():
    assert _mismatch("or_zero", [[8], [12]], [7.0, 16.0], [b"O # 0", b"O # 16"]) is None
    assert _mismatch("or_zero", [[8]], [7.0], [b"O # 6"]) == 0
    assert _mismatch("surface_area", [[3, 4]], [33], [b"O # 35"]) is None


def test_mbpp_special_tasks_get_their_modes():
    row = {"dataset": "mbppplus", "atol": 0.0}
    assert code_tests.oracle(row | {"entry_point": "check_str"}) == ("not_none", 0.0)
    assert code_tests.oracle(row | {"entry_point": "sum_div"}, "strict") == ("or_zero", 0.0)
    assert code_tests.oracle(row | {"entry_point": "are_equivalent"}) == ("any_output", 0.0)
    assert code_tests.oracle(row | {"entry_point": "similar_elements"}) == ("set", 0.0)
    elsewhere = {"dataset": "humanevalplus", "atol": 0.0, "entry_point": "sum_div"}
    assert code_tests.oracle(elsewhere) == ("exact", 0.0)


def test_a_program_returning_a_match_passes_a_not_none_suite_in_the_sandbox():
    suite = IOSuite("check_str", (("annie",), ("dawood",)), (True, False), 0.0, "not_none")
    regex = "import re\ndef check_str(s):\n    return re.search('^[aeiouAEIOU]', s)\n"
    always_none = "def check_str(s):\n    return None\n"
    assert verdicts((regex, suite), (always_none, suite)) == ["pass", "fail"]
