"""EvalPlus's special oracles: tasks whose right answer is not "equal to the reference's output".

A few tasks of HumanEval+ and MBPP+ have more than one right answer, or a reference whose output
cannot be compared; EvalPlus 0.3.1 special-cases them in ``unsafe_execute``
(``evalplus/eval/__init__.py``, with the helpers of ``evalplus/eval/_special_oracle.py``), and
so do we, with the same arithmetic. Each runs in the trusted parent on the candidate's output
as parsed JSON and on the task's own input (trusted data), so no candidate code runs here; a
value of the wrong type raises ``TypeError``/``ValueError``, which the caller reads as wrong.

Modes (``IOSuite.compare``; :func:`stages.verifiers.code_tests.oracle` assigns them):

* ``poly_root`` (HumanEval/32 ``find_zero``): a root of the input's polynomial within ``atol``.
* ``not_none`` (MBPP+'s three tasks whose reference returns a ``re.Match``): the expected output
  is whether the reference returned something (``is not None``); a bool output is compared with
  it, any other output by ``out is not None``.
* ``any_output`` (Mbpp/164 ``are_equivalent``), ``or_zero`` (Mbpp/295 ``sum_div``),
  ``surface_area`` (Mbpp/581), ``digit_distance`` (Mbpp/558): EvalPlus's equality, or else the
  oracle's own test (:func:`extends_equality`).
"""

from __future__ import annotations

import math

EXTENDING = frozenset({"any_output", "or_zero", "surface_area", "digit_distance"})


def poly_root(coefficients, out, atol):
    """HumanEval/32's oracle (``find_zero``): ``out`` is right when the polynomial with these
    coefficients is within ``atol`` of 0 there.

    A polynomial can have several real roots and the task asks for any one, so comparing with
    the reference's root fails correct programs. The arithmetic is EvalPlus's ``_poly``
    (``sum(c * math.pow(x, i))``, accepted when its absolute value is ``<= atol``), which is also
    what HumanEval's own ``check`` computes. Anything that is not a number is wrong.
    """
    if type(out) not in (int, float, bool):
        return False
    try:
        value = sum(c * math.pow(out, i) for i, c in enumerate(coefficients))
    except (OverflowError, ValueError, TypeError):
        return False
    return abs(value) <= atol


def not_none(out, exp) -> bool:
    """MBPP+'s ``MBPP_OUTPUT_NOT_NONE_TASKS``: ``exp`` says whether the reference returned
    something; a bool output must equal it, any other output counts by ``is not None``."""
    return out == exp if type(out) is bool else exp == (out is not None)


def _surface_area(base_edge, height):
    """EvalPlus's oracle for Mbpp/581 (the height read as the pyramid's perpendicular height)."""
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance(num1, num2):
    """EvalPlus's oracle for Mbpp/558 (the shorter number padded with zeros)."""
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def extends_equality(mode: str, out, args: list, atol: float) -> bool:
    """The oracle's own test for an output that EvalPlus's equality rejected (``EXTENDING``)."""
    if mode == "any_output":  # EvalPlus: ``exact_match = exact_match or True``
        return True
    if mode == "or_zero":
        return out == 0
    if mode == "surface_area":
        return abs(out - _surface_area(*args)) <= atol
    if mode == "digit_distance":
        return out == _digit_distance(*args)
    return False
