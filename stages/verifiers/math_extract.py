"""Final-answer extraction from free-form math solutions: pure string code, no sympy.

Kept apart from the comparison (``math_answer``) because extraction decides *which* answer a
sample gave, and that choice must be inspectable: every extraction records its method, and the
last-number fallback is declared as such (it is the least reliable rule: Lewkowycz et al. 2022,
"Minerva", and Hendrycks et al. 2021, "MATH", both grade the ``\\boxed{}`` answer only).

Order of rules (first that finds something wins):
1. the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces balanced, ``\\boxed 5`` accepted);
2. the last ``#### n`` line (GSM8K's own gold format, Cobbe et al. 2021);
3. the last "the answer is ..." / "final answer: ...";
4. the last number in the text (fallback, method ``last_number``).

:func:`final_answer` then decides whether the sample committed to that answer: a reply cut off
at the token limit (``finish_reason == "length"``) committed only to a ``\\boxed{}`` answer (the
last number of a truncated derivation is an intermediate value), and under ``verify.math_strict``
only a ``\\boxed{}`` answer counts (the Minerva/MATH rule). What was found and set aside is kept
in ``Extraction.rejected`` so that the verdict's ``detail`` shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

METHODS: Final[tuple[str, ...]] = ("boxed", "hash", "answer_is", "last_number", "none")

_BOX = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s+)")
_HASH = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:\.(?:\s|$)|\n|$)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_GROUPED_NUMBER = re.compile(r"^-?\d{1,3}(?:,\s*\d{3})+(?:\.\d+)?$")
_DEGREES = re.compile(r"\s*\^\s*\{?\\circ\}?\s*(?:[CF]\b)?")
_LEADING_NUMBER = re.compile(r"^(-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?)\s+[A-Za-z].*$")


_INT = re.compile(r"^-?\d+$")
_GROUPED = re.compile(r"^-?\d{1,3}(?:,\d{3})+$")
_DECIMAL = re.compile(r"^-?\d*\.\d+$")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{?(\d+)\}?\{?(\d+)\}?$")
_SLASH = re.compile(r"^(-?\d+)/(\d+)$")
_UNITS = re.compile(r"\^\{?\\circ\}?|\\(?:text|mbox)\{[^}]*\}(?:\^\d)?$")


@dataclass(frozen=True)
class Extraction:
    """The answer text a sample committed to, and the rule that found it."""

    answer: str | None
    method: str  # one of METHODS
    rejected: str | None = None  # the rule whose answer was set aside, and why (final_answer)

    def detail(self) -> str:
        """What the verdict's ``detail`` records: ``method=<rule>`` [``; rejected=<rule> (why)``]."""
        return f"method={self.method}" + (f"; rejected={self.rejected}" if self.rejected else "")


def _balanced(text: str, open_at: int) -> str | None:
    """Contents of the brace group whose ``{`` is at ``open_at``; None when never closed."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "\\":  # skip escaped characters such as \{ and \}
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{}``/``\\fbox{}``, braces nested at any depth."""
    found = None
    for match in _BOX.finditer(text):
        if match.group(1) == "{":
            inner = _balanced(text, match.end() - 1)
            if inner is not None:
                found = inner
        else:  # "\boxed 5": the next whitespace-delimited token
            rest = text[match.end() :].split()
            if rest:
                found = rest[0].rstrip(".,;$")
    return found


def tidy(answer: str) -> str:
    """Strip what is notation, not value: math delimiters, ``\\%``, dollar signs, a final period.

    A percentage loses its sign (``50\\%`` -> ``50``): GSM8K and MATH state percentages as the
    number, so ``50\\%`` and gold ``50`` agree while ``0.5`` and ``50\\%`` do not.
    """
    s = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "").replace("\\!", "")
    s = _DEGREES.sub("", s)  # "-10^\\circ F" -> "-10": the unit letter would read as a variable
    s = s.lstrip("$").rstrip("$").strip().rstrip(".").strip().replace("{,}", ",")
    if _GROUPED_NUMBER.match(s):  # "11,\\! 111,\\! 111,\\! 100" -> "11111111100"
        s = re.sub(r",\s*", "", s)
    if s.startswith("\\text{") and s.endswith("}") and _balanced(s, 5) == s[6:-1]:
        inner = s[6:-1].strip()
        if _NUMBER.fullmatch(inner):
            s = inner
    lead = _LEADING_NUMBER.match(s)
    if lead and "\\" not in s:
        s = lead.group(1)  # "18 dollars" -> "18"
    return s


def extract_answer(text: str | None) -> Extraction:
    """Apply the rules in order; an empty or answerless text gives method ``none``."""
    if not text or not text.strip():
        return Extraction(None, "none")
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return Extraction(tidy(boxed), "boxed")
    hashes = _HASH.findall(text)
    if hashes:
        return Extraction(tidy(hashes[-1]), "hash")
    stated = [m for m in _ANSWER_IS.findall(text) if m.strip()]
    if stated:
        return Extraction(tidy(stated[-1]), "answer_is")
    numbers = _NUMBER.findall(text)
    if numbers:
        return Extraction(tidy(numbers[-1].replace(" ", "")), "last_number")
    return Extraction(None, "none")


CUT_OFF: Final[str] = "cut off at max tokens"
STRICT: Final[str] = "verify.math_strict"


def final_answer(text: str | None, finish_reason: str | None = None, strict: bool = False) -> Extraction:
    """The answer a sample committed to: :func:`extract_answer`, less what a cut-off reply or
    strict mode does not commit to (see module docstring); a boxed answer always counts."""
    ext = extract_answer(text)
    if ext.method in ("boxed", "none"):
        return ext
    if strict:
        return Extraction(None, "none", f"{ext.method} ({STRICT})")
    if finish_reason == "length":
        return Extraction(None, "none", f"{ext.method} ({CUT_OFF})")
    return ext


def exact_number(answer: str) -> Fraction | None:
    """The exact value of a plain numeric answer (integer, decimal, fraction); else None.

    Units, degrees and a ``x=`` prefix are dropped: ``864 \\mbox{ inches}^2`` -> 864.
    """
    s = _UNITS.sub("", tidy(answer)).replace(" ", "")
    s = re.sub(r"^[a-z]=", "", s)  # "x=5"
    if _GROUPED.match(s):
        s = s.replace(",", "")
    if _INT.match(s) or _DECIMAL.match(s):
        return Fraction(s)
    if m := _FRAC.match(s):
        sign, num, den = m.groups()
        return None if int(den) == 0 else Fraction(int(num), int(den)) * (-1 if sign else 1)
    if m := _SLASH.match(s):
        return None if int(m.group(2)) == 0 else Fraction(int(m.group(1)), int(m.group(2)))
    return None
