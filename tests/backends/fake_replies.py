"""Reply shapes of the fake server: SGLang's ``/generate`` and OpenAI's completions, pure.

Split from ``fake_server.py`` (the HTTP loop) so the shapes read on their own; see that module's
docstring for what each endpoint returns and where the shapes were checked.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

FAULTS = ("500", "503", "429", "400", "drop", "slow", "truncate")
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class GenRequest:
    """One sample the server is asked for, whatever the endpoint."""

    endpoint: str
    prompt: str  # the text prompt; for chat, the last user message
    messages: tuple[dict, ...] | None
    seed: int | None
    index: int  # position within the request (batch item x n)
    max_new_tokens: int
    temperature: float


@dataclass(frozen=True)
class GenReply:
    text: str
    finish_reason: str = "stop"  # "stop" | "length" (recomputed when max_new_tokens cuts)
    token_logprobs: tuple[float, ...] | None = None  # default: derived from the tokens
    # Per generated token, alternatives {token: logprob} (e.g. {"Yes": -0.1, "No": -2.4} for an
    # LLM judge); sent as OpenAI ``top_logprobs`` when the request asks for logprobs.
    top_logprobs: tuple[dict[str, float], ...] | None = None


Responder = Callable[[GenRequest], GenReply]
FaultFn = Callable[[int, str, dict], str | None]


def _h(*parts: object) -> int:
    return int.from_bytes(
        hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "big"
    )


def deterministic_responder(req: GenRequest) -> GenReply:
    """A reply that depends only on (prompt, seed) (or the index when no seed is sent)."""
    # /generate items carry their own seed; an OpenAI request's n choices share one seed, so
    # they differ by index there (as on vLLM or OpenAI).
    key = (
        req.seed
        if req.endpoint == "/generate" and req.seed is not None
        else f"{req.seed}/{req.index}"
    )
    v = _h(req.prompt, key)
    return GenReply(text=f"    return {v % 997}  # fake sample {v % 100000}\n")


def instant_responder(req: GenRequest) -> GenReply:
    """The cheapest reply, for throughput benchmarks."""
    return GenReply(text="    return 0\n")


def faults_at(schedule: Mapping[int, str]) -> FaultFn:
    """Fault the request with sequence number n (0-based, counting every request) as given."""
    return lambda n, path, body: schedule.get(n)


def faults_when(substring: str, fault: str) -> FaultFn:
    """Fault every request whose body mentions ``substring`` (a poisoned prompt)."""
    needle = substring.encode()
    return lambda n, path, body: fault if needle in orjson.dumps(body) else None


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass
class _Sample:
    text: str
    finish: dict
    prompt_tokens: int
    logprobs: list[float]
    token_ids: list[int]
    tokens: list[str]
    top: list[dict[str, float]]


def _sample(responder: Responder, req: GenRequest, stop: list[str], prompt: str) -> _Sample:
    reply = responder(req)
    text, finish = reply.text, {"type": reply.finish_reason}
    for s in stop:
        cut = text.find(s)
        if cut >= 0:
            text, finish = text[:cut], {"type": "stop", "matched": s}
    toks = _tokens(text)
    if len(toks) > req.max_new_tokens:
        toks = toks[: req.max_new_tokens]
        text, finish = "".join(toks), {"type": "length", "length": req.max_new_tokens}
    elif finish["type"] == "length":
        finish["length"] = len(toks)
    lps = (
        list(reply.token_logprobs)
        if reply.token_logprobs is not None
        else [-((_h(t, i) % 1000) / 500.0) for i, t in enumerate(toks)]
    )
    top = list(reply.top_logprobs or ())[: len(toks)]
    top += [{} for _ in range(len(toks) - len(top))]
    return _Sample(
        text, finish, len(_tokens(prompt)), lps, [_h(t) % 50000 for t in toks], toks, top
    )


def generate_reply(responder: Responder, body: dict) -> tuple[int, Any]:
    text = body.get("text")
    if text is None:
        return 400, {"error": {"message": "text or input_ids is required"}}
    single = isinstance(text, str)
    texts = [text] if single else list(text)
    sps = body.get("sampling_params") or {}
    sps = sps if isinstance(sps, list) else [sps] * len(texts)
    want_lp = body.get("return_logprob") or False
    out, index = [], 0
    for prompt, sp in zip(texts, sps, strict=True):
        stop = sp.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        for _ in range(int(sp.get("n", 1))):
            req = GenRequest(
                "/generate",
                prompt,
                None,
                sp.get("sampling_seed"),
                index,
                int(sp.get("max_new_tokens", 128)),
                float(sp.get("temperature", 1.0)),
            )
            s = _sample(responder, req, stop, prompt)
            meta = {
                "id": uuid.uuid4().hex,
                "finish_reason": s.finish,
                "prompt_tokens": s.prompt_tokens,
                "weight_version": "default",
                "completion_tokens": len(s.tokens),
                "cached_tokens": 0,
                "e2e_latency": 0.001 * (1 + len(s.tokens)),
            }
            if want_lp:
                meta["output_token_logprobs"] = [
                    [lp, tid, None] for lp, tid in zip(s.logprobs, s.token_ids)
                ]
            out.append({"text": s.text, "output_ids": s.token_ids, "meta_info": meta})
            index += 1
    return 200, (out[0] if single and len(out) == 1 else out)


def openai_reply(responder: Responder, body: dict, chat: bool, model: str) -> tuple[int, Any]:
    if chat:
        msgs = body.get("messages") or []
        users = [m.get("content", "") for m in msgs if m.get("role") == "user"]
        prompts, messages = [users[-1] if users else ""], tuple(msgs)
    else:
        p = body.get("prompt", "")
        prompts, messages = ([p] if isinstance(p, str) else list(p)), None
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    max_tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 16)
    choices, usage_p, usage_c, index = [], 0, 0, 0
    for prompt in prompts:
        for _ in range(int(body.get("n", 1))):
            req = GenRequest(
                "/v1/chat/completions" if chat else "/v1/completions",
                prompt,
                messages,
                body.get("seed"),
                index,
                max_tokens,
                float(body.get("temperature", 1.0)),
            )
            s = _sample(responder, req, stop, prompt)
            reason = "length" if s.finish["type"] == "length" else "stop"
            usage_p, usage_c = s.prompt_tokens, usage_c + len(s.tokens)
            if chat:
                lp = (
                    {
                        "content": [
                            {
                                "token": t,
                                "logprob": v,
                                "bytes": list(t.encode()),
                                "top_logprobs": [
                                    {"token": a, "logprob": b, "bytes": list(a.encode())}
                                    for a, b in alts.items()
                                ],
                            }
                            for t, v, alts in zip(s.tokens, s.logprobs, s.top)
                        ]
                    }
                    if body.get("logprobs")
                    else None
                )
                choices.append(
                    {
                        "index": index,
                        "message": {"role": "assistant", "content": s.text},
                        "logprobs": lp,
                        "finish_reason": reason,
                    }
                )
            else:
                lp = (
                    {
                        "tokens": s.tokens,
                        "token_logprobs": s.logprobs,
                        "top_logprobs": s.top,
                        "text_offset": [0] * len(s.tokens),
                    }
                    if body.get("logprobs") is not None
                    else None
                )
                choices.append(
                    {"index": index, "text": s.text, "logprobs": lp, "finish_reason": reason}
                )
            index += 1
    return 200, {
        "id": uuid.uuid4().hex,
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": usage_p,
            "completion_tokens": usage_c,
            "total_tokens": usage_p + usage_c,
        },
    }
