"""LLM-as-a-judge verifier: a server judge (SGLang / OpenAI-compatible) and a synthetic stand-in.

A judge is a *weak* verifier: where gold exists (math), its false positives are measured
(``stages.stats.judge_quality``) and cap best-of-n exactly as weak unit tests do. Verdict rows
carry verifier ``judge:<model>`` (or ``judge:synthetic``), ``score`` = P(yes) (binary mode) or
(score - 1) / 9 (1-10 mode), and in ``detail`` the prompt hash, temperature, seed and k, so a
judgment can be traced to exactly what was asked.

k judge samples per candidate (judge-time scaling) are combined by vote or mean; sample j is
sent with a seed derived from (seed, candidate hash, j). Judgments are cached on disk under
``.cache/judge/<model hash>/<prompt hash>/<candidate hash>.json``; a candidate with any HTTP
error is not cached, so a rerun retries it.

The ``synthetic`` judge is an offline stand-in, NOT a model: it says yes with probability
``tpr`` for a correct candidate and ``fpr`` for a wrong one (truth from the math verifier, or
given), optionally more often for longer answers (the verbosity bias reported by Zheng et al.
2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena").
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.backends.http_client import (
    HttpClient,
    RequestFailed,
    RetryPolicy,
    bearer_from_env,
    drive,
)
from stages.datasets.mirror import PROJECT_ROOT
from stages.params import JudgeParams, VerifyParams
from stages.schemas import ACCEPTED, TIMINGS, VERDICTS_SCHEMA, conform, empty
from stages.verifiers.judge_prompts import Judgment, combine, digest, read_reply, render, rubric

CACHE_DIR = PROJECT_ROOT / ".cache" / "judge"


@dataclass(frozen=True)
class Candidate:
    problem_id: str
    sample_idx: int
    prompt: str  # the rendered rubric
    prompt_hash: str  # hash of the rubric template and the judging settings
    candidate_hash: str  # hash of what is judged (problem, completion, reference if shown)


def prompt_hash(template: str, s: JudgeParams) -> str:
    return digest(template, s.mode, s.temperature, s.seed, s.k, s.max_tokens, s.reference_guided)


def candidates(problems: pl.DataFrame, samples: pl.DataFrame, s: JudgeParams) -> list[Candidate]:
    """One rendered judge prompt per sample; unknown problems are errors."""
    joined = samples.join(
        problems.select("problem_id", "kind", "prompt", "reference", "answer"),
        on="problem_id", how="left",
    )
    missing = joined.filter(pl.col("kind").is_null())["problem_id"].unique().to_list()
    if missing:
        raise ValueError(f"judge: samples refer to unknown problem(s): {sorted(missing)[:5]}")
    out = []
    templates: dict[str, tuple[str, str]] = {}
    for pid, idx, completion, kind, prompt, reference in joined.select(
        "problem_id", "sample_idx", "completion", "kind", "prompt", "reference"
    ).iter_rows():
        if kind not in templates:
            t = rubric(kind, s.mode, s.rubric_math if kind == "math" else s.rubric_code)
            templates[kind] = (t, prompt_hash(t, s))
        template, ph = templates[kind]
        ref = reference if s.reference_guided else None
        text = render(template, prompt, completion or "", ref)
        out.append(Candidate(pid, idx, text, ph, digest(prompt, completion or "", ref or "")))
    return out


# --- cache ------------------------------------------------------------------------------------
def _cache_path(root: Path, model: str, c: Candidate) -> Path:
    return root / digest(model)[:16] / c.prompt_hash[:16] / f"{c.candidate_hash}.json"


def cache_get(root: Path, model: str, c: Candidate) -> list[Judgment] | None:
    path = _cache_path(root, model, c)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [Judgment(j["status"], j["p_yes"], j["raw"]) for j in data["judgments"]]


def cache_put(root: Path, model: str, c: Candidate, judgments: list[Judgment]) -> None:
    path = _cache_path(root, model, c)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"model": model, "prompt_hash": c.prompt_hash, "candidate_hash": c.candidate_hash,
            "judgments": [j.__dict__ for j in judgments]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh)
    os.replace(tmp, path)


# --- server judge -----------------------------------------------------------------------------
def judge_seed(seed: int, candidate_hash: str, j: int) -> int:
    h = hashlib.blake2b(f"{seed}\x1f{candidate_hash}\x1f{j}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big") >> 1


def request_body(s: JudgeParams, prompt: str, seed: int) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"model": s.model, "temperature": s.temperature, "seed": seed,
                            "max_tokens": s.max_tokens}
    if s.chat:
        body["messages"] = [{"role": "user", "content": prompt}]
        if s.mode == "binary":
            body.update(logprobs=True, top_logprobs=s.top_logprobs)
        return "/chat/completions", body
    body["prompt"] = prompt
    if s.mode == "binary":
        body["logprobs"] = s.top_logprobs
    return "/completions", body


def read_choice(reply: Any, mode: str, chat: bool) -> Judgment:
    """Parse one OpenAI-shaped reply; a malformed body is unparseable, not an error."""
    try:
        choice = reply["choices"][0]
        lp = choice.get("logprobs") or None
        if chat:
            text = choice["message"]["content"] or ""
            entries = lp.get("content") if lp else None
        else:
            text = choice["text"] or ""
            entries = None
            if lp and lp.get("tokens"):
                tops = lp.get("top_logprobs") or [{}] * len(lp["tokens"])
                entries = [{"token": t, "logprob": v,
                            "top_logprobs": [{"token": a, "logprob": b} for a, b in (top or {}).items()]}
                           for t, v, top in zip(lp["tokens"], lp["token_logprobs"], tops)]
    except (KeyError, IndexError, TypeError, AttributeError):
        return Judgment("unparseable", None, json.dumps(reply)[:200])
    return read_reply(text, mode, entries)


def server_judgments(
    cands: list[Candidate], s: JudgeParams
) -> tuple[dict[tuple[str, int], list[Judgment]], dict[tuple[str, int], float]]:
    """k judgments per candidate from the server, concurrently, via the shared HTTP client;
    and each candidate's summed request time."""
    specs = [(c, j) for c in cands for j in range(s.k)]
    policy = RetryPolicy(s.max_retries, s.backoff_s, s.backoff_max_s, s.timeout_s)

    def make_client() -> HttpClient:
        return HttpClient(s.url, s.concurrency, policy, headers=lambda: bearer_from_env(s.api_key_env))

    async def handle(client: HttpClient, spec: tuple[Candidate, int]) -> tuple[Candidate, int, Judgment, float]:
        c, j = spec
        path, body = request_body(s, c.prompt, judge_seed(s.seed, c.candidate_hash, j))
        start = time.perf_counter()
        try:
            reply = await client.post_json(path, body)
        except RequestFailed as exc:
            return c, j, Judgment("error", None, str(exc)[:200]), time.perf_counter() - start
        return c, j, read_choice(reply, s.mode, s.chat), time.perf_counter() - start

    out: dict[tuple[str, int], list[Judgment | None]] = {}
    took: dict[tuple[str, int], float] = {}
    for c, j, judgment, secs in drive(make_client, specs, handle, workers=s.concurrency):
        key = (c.problem_id, c.sample_idx)
        out.setdefault(key, [None] * s.k)[j] = judgment
        took[key] = took.get(key, 0.0) + secs
    return {key: [j for j in js if j is not None] for key, js in out.items()}, took


# --- synthetic judge --------------------------------------------------------------------------
def _uniforms(seed: int, keys: list[tuple[str, int]], k: int, salt: str) -> np.ndarray:
    """(n, k) uniforms from hashes of (seed, problem, sample, j): order- and batch-independent."""
    u = np.empty((len(keys), k))
    for r, (pid, idx) in enumerate(keys):
        for j in range(k):
            h = hashlib.blake2b(f"{seed}\x1f{salt}\x1f{pid}\x1f{idx}\x1f{j}".encode(), digest_size=8)
            u[r, j] = (int.from_bytes(h.digest(), "big") >> 11) / float(1 << 53)
    return u


def synthetic_judgments(
    samples: pl.DataFrame, truth: pl.DataFrame, s: JudgeParams
) -> dict[tuple[str, int], list[Judgment]]:
    """The stand-in's k judgments per sample: yes ~ Bernoulli(tpr or fpr, plus length bias)."""
    rows = samples.select("problem_id", "sample_idx", "completion").join(
        truth.select("problem_id", "sample_idx", "correct"), on=["problem_id", "sample_idx"], how="left"
    ).with_columns(
        loglen=(pl.col("completion").fill_null("").str.len_chars() + 1).log(2),
    ).with_columns(rel=pl.col("loglen") - pl.col("loglen").mean().over("problem_id"))
    if rows["correct"].null_count():
        raise ValueError("synthetic judge: truth lacks some (problem_id, sample_idx) of the samples")
    syn = s.synthetic
    p = np.where(rows["correct"].to_numpy(), syn.tpr, syn.fpr) + syn.length_bias * rows["rel"].to_numpy()
    p = np.clip(p, 0.0, 1.0)
    keys = list(zip(rows["problem_id"].to_list(), rows["sample_idx"].to_list(), strict=True))
    says_yes = _uniforms(s.seed, keys, s.k, "vote") < p[:, None]
    # The stand-in's stated confidence: high when it says yes, low when it says no.
    conf = 0.5 + 0.5 * _uniforms(s.seed, keys, s.k, "conf")
    stated = np.where(says_yes, conf, 1.0 - conf)
    return {key: [Judgment("ok", float(v), "yes" if y else "no") for v, y in zip(pv, yv)]
            for key, pv, yv in zip(keys, stated, says_yes, strict=True)}


# --- entry point ------------------------------------------------------------------------------
def verifier_name(params: VerifyParams) -> str:
    return "judge:synthetic" if params.judge == "synthetic" else f"judge:{params.judge_settings.model}"


def rows_from(judgments: dict[tuple[str, int], list[Judgment]], s: JudgeParams, name: str,
              trace: dict[tuple[str, int], str], cached: frozenset[tuple[str, int]] = frozenset(),
              took: dict[tuple[str, int], float] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(VERDICTS, TIMINGS) frames; ``detail`` is deterministic (cache hits go to timings)."""
    rows = []
    for (pid, idx), js in judgments.items():
        verdict, score, detail = combine(js, s.combine, s.threshold)
        rows.append({"problem_id": pid, "sample_idx": idx, "verifier": name, "verdict": verdict,
                     "detail": f"{trace.get((pid, idx), '')} {detail}".strip(), "duration_s": (took or {}).get((pid, idx), 0.0),
                     "cached": (pid, idx) in cached, "sandbox": "none", "answer": None,
                     "score": score})
    frame = pl.DataFrame(rows, schema={**VERDICTS_SCHEMA, **TIMINGS, "verdict": pl.String()})
    frame = frame.sort("problem_id", "sample_idx")
    return conform(frame, VERDICTS_SCHEMA, "verdicts"), conform(frame, TIMINGS, "timings")


def truth_from_verdicts(verdicts: pl.DataFrame) -> pl.DataFrame:
    """(problem_id, sample_idx, correct) from a gold verifier's verdict rows."""
    return verdicts.select("problem_id", "sample_idx",
                           correct=pl.col("verdict").cast(pl.String).is_in(list(ACCEPTED)))


def judge_verdicts_timed(
    problems: pl.DataFrame, samples: pl.DataFrame, params: VerifyParams,
    truth: pl.DataFrame | None = None, cache_dir: Path | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(VERDICTS, TIMINGS) of the configured judge (both empty when ``params.judge == "none"``).

    ``truth`` (problem_id, sample_idx, correct) is needed only by the synthetic judge; for math
    problems it defaults to the math-answer verifier's verdicts. TIMINGS' ``cached`` marks
    judgments read from the on-disk cache.
    """
    s = params.judge_settings
    if params.judge == "none":
        return empty(VERDICTS_SCHEMA), empty(TIMINGS)
    if params.judge == "synthetic":
        if truth is None:
            from stages.verifiers.math_answer import verify_math

            if problems.filter(pl.col("kind") != "math").height:
                raise ValueError("synthetic judge on code problems needs truth= (a gold verifier's verdicts)")
            truth = truth_from_verdicts(verify_math(problems, samples, params.workers))
        note = (f"synthetic judge (offline stand-in) tpr={s.synthetic.tpr} fpr={s.synthetic.fpr} "
                f"length_bias={s.synthetic.length_bias} k={s.k} seed={s.seed};")
        keys = zip(samples["problem_id"].to_list(), samples["sample_idx"].to_list(), strict=True)
        return rows_from(synthetic_judgments(samples, truth, s), s, verifier_name(params),
                         {key: note for key in keys})
    cands = candidates(problems, samples, s)
    root = cache_dir or CACHE_DIR
    found: dict[tuple[str, int], list[Judgment]] = {}
    todo = []
    for c in cands:
        hit = cache_get(root, s.model, c) if s.cache else None
        if hit is not None:
            found[(c.problem_id, c.sample_idx)] = hit
        else:
            todo.append(c)
    fresh, took = server_judgments(todo, s) if todo else ({}, {})
    for c in todo:
        js = fresh[(c.problem_id, c.sample_idx)]
        found[(c.problem_id, c.sample_idx)] = js
        if s.cache and all(j.status != "error" for j in js):
            cache_put(root, s.model, c, js)
    asked = {(c.problem_id, c.sample_idx) for c in todo}
    trace = {(c.problem_id, c.sample_idx): f"model={s.model} prompt={c.prompt_hash[:12]} "
             f"temperature={s.temperature} seed={s.seed};" for c in cands}
    cached = frozenset(key for key in found if key not in asked)
    return rows_from(found, s, verifier_name(params), trace, cached, took)


def judge_verdicts(
    problems: pl.DataFrame, samples: pl.DataFrame, params: VerifyParams,
    truth: pl.DataFrame | None = None, cache_dir: Path | None = None,
) -> pl.DataFrame:
    """VERDICTS rows only (see :func:`judge_verdicts_timed`)."""
    return judge_verdicts_timed(problems, samples, params, truth, cache_dir)[0]
