"""Rubric prompts for LLM judges, the parsing of their replies, and the combination of k judgments.

Pure functions with no I/O, shared by the server judge and the synthetic stand-in so that both
go through the same reply -> verdict path.

Failure is never a judgment: a reply that is not a yes/no (or a 1-10 score) is
``judge_unparseable``, and an HTTP error is ``judge_error``; neither is scored "incorrect".
Other tools have scored API error strings as negative judgments (inspect_ai issue #4026,
lighteval issue #1296), which silently biases a judge's measured accuracy.

P(yes) comes from the verdict token's log-probabilities when the server returns them (Zheng et
al. 2023, "Judging LLM-as-a-Judge"; the G-Eval probability weighting of Liu et al. 2023): with
top-k alternatives, P(yes) = p_yes / (p_yes + p_no); with only the chosen token, its own
probability (or one minus it for "no"). Without logprobs, P(yes) is 1 or 0 from the text.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Final

RUBRIC_MATH: Final[str] = (
    "You are grading a student's solution to a math problem.\n\n"
    "Problem:\n{problem}\n\nStudent's solution:\n{completion}\n\n{reference}"
    "Is the student's final answer correct? {instruction}"
)
RUBRIC_CODE: Final[str] = (
    "You are reviewing a candidate solution to a programming task.\n\n"
    "Task:\n{problem}\n\nCandidate solution:\n{completion}\n\n{reference}"
    "Is the candidate solution correct for all valid inputs? {instruction}"
)
INSTRUCTION: Final[dict[str, str]] = {
    "binary": "Reply with exactly one word: yes or no.",
    "score": "Reply with a single integer from 1 (certainly wrong) to 10 (certainly correct).",
}
_YES: Final = frozenset({"yes"})
_NO: Final = frozenset({"no"})
_SCORE = re.compile(r"\s*(?:score\s*[:=]?\s*)?(10|[1-9])(?:\s*/\s*10)?\s*\.?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Judgment:
    """One judge sample's reading. ``status``: ok | unparseable | error."""

    status: str
    p_yes: float | None = None  # P(yes), or (score - 1) / 9 in score mode
    raw: str = ""


def rubric(kind: str, mode: str, custom: str = "") -> str:
    """The template for a problem kind (``custom`` overrides the built-in)."""
    base = custom or (RUBRIC_MATH if kind == "math" else RUBRIC_CODE)
    return base.replace("{instruction}", INSTRUCTION[mode])


def render(template: str, problem: str, completion: str, reference: str | None) -> str:
    ref = f"Reference solution:\n{reference}\n\n" if reference else ""
    return template.format(problem=problem, completion=completion, reference=ref)


def digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _word(token: str) -> str:
    return re.sub(r"[^a-z]", "", token.lower())


def p_yes_from_logprobs(entries: list[dict[str, Any]]) -> float | None:
    """P(yes) at the first yes/no token of OpenAI-style logprob entries; None if none found.

    Each entry: ``{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}``.
    """
    for entry in entries:
        word = _word(str(entry.get("token", "")))
        if word not in _YES | _NO:
            continue
        py = pn = 0.0
        for alt in entry.get("top_logprobs") or []:
            w = _word(str(alt.get("token", "")))
            if w in _YES:
                py += math.exp(float(alt["logprob"]))
            elif w in _NO:
                pn += math.exp(float(alt["logprob"]))
        if py + pn > 0:
            return py / (py + pn)
        p = math.exp(float(entry["logprob"]))
        return p if word in _YES else 1.0 - p
    return None


def read_binary(text: str, logprob_entries: list[dict[str, Any]] | None) -> Judgment:
    words = text.strip().split()
    first = _word(words[0]) if words else ""
    if first not in _YES | _NO:
        return Judgment("unparseable", None, text[:200])
    said_yes = first in _YES
    p = p_yes_from_logprobs(logprob_entries) if logprob_entries else None
    if p is None:
        p = 1.0 if said_yes else 0.0
    return Judgment("ok", p, text[:200])


def read_score(text: str) -> Judgment:
    m = _SCORE.fullmatch(text)
    if not m:
        return Judgment("unparseable", None, text[:200])
    return Judgment("ok", (int(m.group(1)) - 1) / 9.0, text[:200])


def read_reply(text: str, mode: str, logprob_entries: list[dict[str, Any]] | None) -> Judgment:
    return read_binary(text, logprob_entries) if mode == "binary" else read_score(text)


def combine(judgments: list[Judgment], how: str, threshold: float) -> tuple[str, float | None, str]:
    """(verdict, score, detail) for one candidate from its k judgments.

    ``vote``: each parsed judgment votes yes when its P(yes)/score reaches ``threshold``; the
    majority decides, a tie falls to the mean. ``mean``: the mean against ``threshold``.
    Unparsed judgments are left out of the vote and counted in ``detail``; with none parsed the
    verdict is ``judge_unparseable`` (some reply unreadable) or ``judge_error`` (all failed).
    """
    ok = [j.p_yes for j in judgments if j.status == "ok" and j.p_yes is not None]
    n_bad = sum(j.status == "unparseable" for j in judgments)
    n_err = sum(j.status == "error" for j in judgments)
    detail = f"k={len(judgments)} parsed={len(ok)} unparseable={n_bad} error={n_err}"
    if not ok:
        first = next((j.raw for j in judgments if j.raw), "")
        return ("judge_unparseable" if n_bad else "judge_error"), None, f"{detail}; {first[:160]}"
    mean = sum(ok) / len(ok)
    if how == "vote":
        yes = sum(p >= threshold for p in ok)
        accept = yes * 2 > len(ok) or (yes * 2 == len(ok) and mean >= threshold)
    else:
        accept = mean >= threshold
    return ("correct" if accept else "incorrect"), mean, detail
