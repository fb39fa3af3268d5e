"""Synthetic math samples: the offline stand-in's text for kind == "math" problems. NOT a model.

A seeded generator that writes reasoning-like text (sentences of the dataset's own reference
solution, calculator annotations and boxes removed) ending in ``\\boxed{}``. A correct sample
boxes the gold answer in one of several equivalent forms (``0.5``, ``\\frac{1}{2}``, ``1/2``,
``1,000``), so that a verifier comparing strings instead of values is caught out; a wrong one
boxes a plausible error: off by one, a sign error, a reciprocal, or a different intermediate
quantity taken from the reference solution (the classic slip of stopping one step early).

Pure Python (``fractions``), no sympy, so that generating 100 samples per problem stays fast;
wrongness of numeric answers is guaranteed by exact rational arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from stages.verifiers.math_extract import exact_number as as_fraction

_NUMBERS_IN_TEXT = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_FIRST_INT = re.compile(r"(?<![\\\w])-?\d+")
_CALC = re.compile(r"<<[^>]*>>")


@dataclass(frozen=True)
class MathSample:
    text: str
    boxed: str  # what was put in the box
    mutation: str | None  # None for a correct sample; else the wrong-answer operator


def _terminates(q: Fraction) -> bool:
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def number_forms(q: Fraction) -> list[str]:
    """Equivalent written forms of an exact number."""
    if q.denominator == 1:
        n = q.numerator
        forms = [str(n), f"{n}.0", f"\\text{{{n}}}"]
        if abs(n) >= 1000:
            forms.append(f"{n:,}")
        return forms
    sign = "-" if q < 0 else ""
    a, b = abs(q.numerator), q.denominator
    forms = [f"{sign}\\frac{{{a}}}{{{b}}}", f"{q.numerator}/{b}", f"{sign}\\dfrac{{{a}}}{{{b}}}"]
    if _terminates(q):
        forms.append(decimal_string(q))
    return forms


def decimal_string(q: Fraction) -> str:
    """A terminating fraction written out exactly in positional notation (never ``6.72e-05``)."""
    digits = 0
    while (q * 10**digits).denominator != 1:
        digits += 1
    scaled = abs(q.numerator * 10**digits // q.denominator)
    whole, frac = divmod(scaled, 10**digits)
    return ("-" if q < 0 else "") + f"{whole}." + str(frac).rjust(digits, "0")


def gold_forms(gold: str) -> list[str]:
    """Forms that a correct verifier must accept as the gold answer."""
    q = as_fraction(gold)
    if q is not None:
        return number_forms(q)
    compact = re.sub(r"\\left|\\right", "", gold).replace(" ", "")
    return [gold, compact] if compact != gold else [gold]


def _intermediates(reference: str, gold: str, exclude: Fraction | None) -> list[Fraction]:
    """Numbers in the reference solution other than the answer (or any number written in it)."""
    in_gold = {Fraction(t) for t in _NUMBERS_IN_TEXT.findall(gold)}
    found = []
    for tok in _NUMBERS_IN_TEXT.findall(_CALC.sub("", reference.split("####")[0])):
        q = Fraction(tok)
        if q != exclude and q not in in_gold and q not in found:
            found.append(q)
    return found


def wrong_answer(gold: str, reference: str, rng: np.random.Generator) -> tuple[str, str]:
    """A plausible wrong answer and the name of the slip that made it."""
    q = as_fraction(gold)
    steps = _intermediates(reference, gold, q)
    ops: list[tuple[str, Any]] = []
    if q is not None:
        ops += [("off_by_one", q + rng.choice([-1, 1])), ("intermediate", None)]
        if q != 0:
            ops.append(("sign_error", -q))
        if q.denominator != 1 and q.numerator not in (0, q.denominator, -q.denominator):
            ops.append(("reciprocal", 1 / q))
    elif _FIRST_INT.search(gold):
        ops += [("intermediate", None), ("component_off_by_one", None)]
    else:
        ops += [("intermediate", None), ("plus_one", None)]
    name, value = ops[int(rng.integers(len(ops)))]
    if name == "intermediate":
        if not steps:  # nothing to stop early at: fall back to an off-by-one slip
            name = "off_by_one" if q is not None else "plus_one"
            value = q + 1 if q is not None else None
        else:
            value = steps[int(rng.integers(len(steps)))]
    if name == "plus_one":
        return f"{gold}+1", name
    if name == "component_off_by_one":  # "(3,4]" -> "(4,4]": one coordinate or bound slipped
        m = _FIRST_INT.search(gold)
        assert m is not None
        return gold[: m.start()] + str(int(m.group()) + 1) + gold[m.end() :], name
    forms = number_forms(value)
    return forms[int(rng.integers(len(forms)))], name


def reasoning(reference: str, rng: np.random.Generator) -> str:
    """A few sentences of the reference with its answer markers removed."""
    text = _CALC.sub("", reference.split("####")[0])
    text = re.sub(r"\\boxed\s*", "", re.sub(r"\[asy\].*?\[/asy\]", "", text, flags=re.DOTALL))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    keep = sentences[: max(1, int(rng.integers(1, 4)))] if sentences else []
    return " ".join(keep)


_ENDINGS = (
    "Therefore, the final answer is $\\boxed{{{a}}}$.",
    "So the answer is \\boxed{{{a}}}.",
    "Final answer: \\boxed{{{a}}}",
)


def math_sample(problem_row: dict, rng: np.random.Generator, correct: bool) -> MathSample:
    """One synthetic sample for a math problem row (schema PROBLEMS)."""
    gold = problem_row["answer"]
    if correct:
        forms = gold_forms(gold)
        boxed, mutation = forms[int(rng.integers(len(forms)))], None
    else:
        boxed, mutation = wrong_answer(gold, problem_row.get("reference") or "", rng)
    body = reasoning(problem_row.get("reference") or "", rng)
    ending = _ENDINGS[int(rng.integers(len(_ENDINGS)))].format(a=boxed)
    return MathSample(f"Let's think step by step. {body}\n{ending}", boxed, mutation)


def sample_math(problem_row: dict, rng: np.random.Generator, correct: bool) -> str:
    """Text only (the synthetic backend's hook for kind == "math" rows)."""
    return math_sample(problem_row, rng, correct).text
