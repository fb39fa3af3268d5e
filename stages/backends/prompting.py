"""What a server backend shows the model, and how a reply becomes a sample row.

Shared by the ``sglang`` and ``openai`` backends so both build prompts and rows the same way.
Base models continue the problem's prompt (HumanEval: the function signature and docstring),
stopping at the Codex stop sequences (Chen et al. 2021). Chat models get a user message per
dataset kind (code: complete the function; math: final answer in ``\\boxed{}``); for code, the
first fenced code block of the reply is kept and stored after a newline, so that
``program_prefix + completion`` is the prompt's docstring-only stub followed by the model's
whole function, whose later definition replaces the stub when the program runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import polars as pl

from stages.schemas import SAMPLES

_FENCE = re.compile(
    r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE
)


def render_prompt(prompt: str, kind: str, templates: Any, chat: bool) -> str:
    """The text for one problem: its kind's template with ``{prompt}`` replaced."""
    if kind == "math":
        template = templates.math
    else:
        template = templates.code_chat if chat else templates.code_completion
    return template.replace("{prompt}", prompt)


def stop_sequences(kind: str, templates: Any, chat: bool) -> list[str]:
    """Stop strings for base models; chat models stop at their end-of-turn token."""
    if chat:
        return []
    return list(templates.math_stop if kind == "math" else templates.code_stop)


def chat_messages(user: str, system: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": user}]


def extract_code(text: str) -> str:
    """The first fenced code block of a chat reply (the whole reply when there is none)."""
    m = _FENCE.search(text)
    return m.group(1) if m else text


def completion_from_reply(text: str, kind: str, chat: bool) -> str:
    """What goes in the ``completion`` column (program = ``program_prefix + completion``)."""
    if chat and kind != "math":
        return "\n" + extract_code(text)
    return text


def logprob_stats(logprobs: Sequence[float | None] | None) -> tuple[float | None, float | None]:
    """(mean, sum) of the sampled tokens' logprobs; (None, None) when the server sent none."""
    if not logprobs:
        return None, None
    vals = [float(v) for v in logprobs if v is not None]
    if not vals:
        return None, None
    total = sum(vals)
    return total / len(vals), total


def sample_row(
    problem_id: str,
    sample_idx: int,
    *,
    completion: str,
    backend: str,
    model: str,
    sampling: str,
    seed: int | None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    latency_s: float | None = None,
    finish_reason: str,
    logprobs: Sequence[float | None] | None = None,
    error: str | None = None,
    raw_completion: str | None = None,
) -> dict[str, Any]:
    """One SAMPLES row. ``raw_completion``: the reply as the server sent it, kept next to the
    ``completion`` made from it (a chat reply's code block) so that extraction can be audited."""
    mean_lp, sum_lp = logprob_stats(logprobs)
    return {
        "problem_id": problem_id,
        "sample_idx": sample_idx,
        "completion": completion,
        "raw_completion": raw_completion,
        "backend": backend,
        "model": model,
        "sampling_params": sampling,
        "seed": seed,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency_s": latency_s,
        "finish_reason": finish_reason,
        "mean_logprob": mean_lp,
        "sum_logprob": sum_lp,
        "error": error,
    }


def error_row(
    problem_id: str,
    sample_idx: int,
    *,
    backend: str,
    model: str,
    sampling: str,
    seed: int | None,
    error: str,
) -> dict[str, Any]:
    """A sample that could not be generated: kept as a row so that it is never a silent gap."""
    return sample_row(
        problem_id,
        sample_idx,
        completion="",
        backend=backend,
        model=model,
        sampling=sampling,
        seed=seed,
        finish_reason="error",
        error=error,
    )


def failed_request_rows(
    problem_id: str,
    idx_seeds: list[tuple[int, int | None]],
    reason: str,
    *,
    backend: str,
    model: str,
    sampling: str,
) -> list[dict[str, Any]]:
    """Error rows for every sample of one request that failed after its retries."""
    return [
        error_row(problem_id, i, backend=backend, model=model, sampling=sampling, seed=sd,
                  error=reason)
        for i, sd in idx_seeds
    ]


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLES)
