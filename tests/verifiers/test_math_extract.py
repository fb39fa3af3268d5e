"""Final-answer extraction rules, in their declared order."""

from __future__ import annotations

import pytest

from stages.verifiers.math_extract import extract_answer, last_boxed, tidy


@pytest.mark.parametrize(("text", "answer", "method"), [
    ("so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}", "boxed"),
    ("\\boxed{\\left\\{1,2\\right\\}}", "\\left\\{1,2\\right\\}", "boxed"),
    ("\\boxed{\\frac{\\sqrt{3}}{\\sqrt{2}}}", "\\frac{\\sqrt{3}}{\\sqrt{2}}", "boxed"),
    ("first \\boxed{1} then \\fbox{2}", "2", "boxed"),
    ("\\boxed 5.", "5", "boxed"),
    ("unclosed \\boxed{3 and then 4", "4", "last_number"),
    ("work\n#### 1,000", "1000", "hash"),
    ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}", "answer_is"),
    ("Answer: 42", "42", "answer_is"),
    ("3 apples and 7 pears", "7", "last_number"),
    ("no digits here", None, "none"),
    ("", None, "none"),
])
def test_rules_apply_in_order(text, answer, method):
    got = extract_answer(text)
    assert (got.answer, got.method) == (answer, method)


def test_last_boxed_balances_nested_braces():
    assert last_boxed("x \\boxed{\\frac{a}{b^{2}}} y") == "\\frac{a}{b^{2}}"


@pytest.mark.parametrize(("raw", "clean"), [
    ("$18$", "18"), ("\\$18.", "18"), ("50\\%", "50"), ("1{,}000", "1000"),
    ("11,\\! 111,\\! 100", "11111100"), ("18 dollars", "18"), ("90^\\circ", "90"),
    ("\\text{ 7 }", "7"), ("(1, 234)", "(1, 234)"),
])
def test_tidy_strips_notation_not_value(raw, clean):
    assert tidy(raw) == clean
