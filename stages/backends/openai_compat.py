"""The ``openai`` backend: any OpenAI-compatible ``/completions`` or ``/chat/completions`` server.

Works with vLLM, llama.cpp's server, SGLang's OpenAI endpoints and hosted APIs. ``n`` samples
of one prompt go in one request (``openai.batch_size``); the request's ``seed`` is the
per-sample seed of its first sample, so with ``batch_size: 1`` (the default) every sample has
its own seed. A server that honours ``seed`` with n > 1 by giving n identical samples (SGLang
in deterministic mode) must be run with ``batch_size: 1``.

The API key is read from the environment variable NAMED by ``openai.api_key_env`` when each
request is sent; it is never stored on the backend, in params, logs, MLflow or samples.
Latency is the client-measured request time (OpenAI replies carry no server timing).

Before the first request the served models are read from ``GET /models`` and
``generate.model`` must be among them (a run that forgot to set it would otherwise record the
wrong name); a server that lists none is used with a warning. Logprobs are asked for as each
server needs them: ``logprobs: N`` on completions, ``logprobs: true`` with ``top_logprobs`` on
chat (llama-cpp-python returns none without it; OpenAI's API does not need it); a server that
still returns none is warned about once, and those samples have null logprob columns (the
strategies that rank by them then have nothing to rank by), never a made-up score.
``openai.launch: llamacpp`` starts a CPU server for the run (:mod:`stages.backends.llamacpp`)
and sends one request at a time, as that server serves one at a time.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from stages.backends.base import sample_seed, sampling_json
from stages.backends.http_client import (
    HttpClient,
    RequestFailed,
    RetryPolicy,
    ServerGone,
    bearer_from_env,
    chunks,
    drive,
    failure_reason,
)
from stages.backends.prompting import (
    chat_messages,
    completion_from_reply,
    error_row,
    failed_request_rows,
    frame,
    render_prompt,
    sample_row,
    stop_sequences,
)
from stages.errors import InputError

log = logging.getLogger(__name__)


class _BadReply(Exception):
    """A reply that does not have the documented shape (kept as error rows, not fatal)."""


@dataclass(frozen=True)
class Job:
    """One request: some samples of one problem."""

    problem_id: str
    kind: str
    prompt: str
    idxs: tuple[int, ...]
    skip: frozenset[int]  # indices already made (their rows are dropped, not duplicated)


def jobs(
    problems: pl.DataFrame,
    n_samples: int,
    batch: int,
    skip: frozenset[tuple[str, int]],
    fixed_batches: bool,
) -> Iterator[Job]:
    """Request batches, problem by problem.

    With ``fixed_batches`` the batches are the same fixed chunks on every run (needed when one
    seed covers a whole batch, so a resumed run sends the very same requests); otherwise only
    the missing samples are requested.
    """
    for row in problems.select("problem_id", "kind", "prompt").iter_rows():
        pid, kind, prompt = row
        missing = [i for i in range(n_samples) if (pid, i) not in skip]
        if not missing:
            continue
        if fixed_batches:
            for r in chunks(0, n_samples, batch):
                done = frozenset(i for i in r if (pid, i) in skip)
                if len(done) < len(r):
                    yield Job(pid, kind, prompt, tuple(r), done)
        else:
            for lo in range(0, len(missing), batch):
                yield Job(pid, kind, prompt, tuple(missing[lo : lo + batch]), frozenset())


class OpenAIBackend:
    name = "openai"
    path_prefix = ""  # "/v1" when the client's base URL is a server root (SGLang's chat path)

    def __init__(self, params: Any) -> None:
        self.params = params
        self.settings = params.openai
        self.model = params.model
        self.metadata: dict[str, Any] = {"backend": self.name, "model": self.model}
        self.samples_without_logprobs = 0  # warned about once, counted in metadata

    def _sampling(self, kind: str) -> str:
        s = self.settings
        return sampling_json(
            endpoint="chat/completions" if s.chat else "completions",
            temperature=self.params.temperature,
            top_p=self.params.top_p,
            max_new_tokens=self.params.max_new_tokens,
            n=s.batch_size,
            stop=stop_sequences(kind, self.params.prompts, s.chat),
        )

    def request_body(self, job: Job, seed: int) -> dict[str, Any]:
        """The JSON body for one job (exposed for the request-shape tests)."""
        s, p = self.settings, self.params
        text = render_prompt(job.prompt, job.kind, p.prompts, s.chat)
        body: dict[str, Any] = {
            "model": self.model,
            "n": len(job.idxs),
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "seed": seed,
        }
        if s.chat:
            body["messages"] = chat_messages(text, p.prompts.system)
            if s.logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = s.top_logprobs
        else:
            body["prompt"] = text
            stop = stop_sequences(job.kind, p.prompts, False)
            if stop:
                body["stop"] = stop
            if s.logprobs:
                body["logprobs"] = 1
        return body

    def generate(
        self,
        problems: pl.DataFrame,
        n_samples: int,
        seed: int,
        skip: frozenset[tuple[str, int]] = frozenset(),
    ) -> Iterator[pl.DataFrame]:
        s = self.settings
        policy = RetryPolicy.from_params(s)
        env_name = s.api_key_env
        # A launched llama.cpp server serves one request at a time: more in flight would only
        # queue inside it, where their timeout_s runs (docs/backends.md, single-slot servers).
        concurrency = 1 if s.launch == "llamacpp" else s.concurrency

        async def handle(c: HttpClient, job: Job) -> pl.DataFrame:
            return await self.run_job(c, job, seed)

        with self._server() as url:
            yield from drive(
                lambda: HttpClient(url, concurrency, policy, seed=seed, auth_env=env_name,
                                   headers=lambda: bearer_from_env(env_name)),
                jobs(problems, n_samples, s.batch_size, skip, fixed_batches=s.batch_size > 1),
                handle,
                workers=concurrency,
                setup=self.connect,
            )

    def _server(self) -> contextlib.AbstractContextManager[str]:
        """The base URL to send to: ``openai.url``, or that of the server launched for the run."""
        if self.settings.launch == "llamacpp":
            from stages.backends.llamacpp import launched

            return launched(self.settings)
        return contextlib.nullcontext(self.settings.url)

    def fingerprint(self) -> str:
        """For the run key: the launched GGUF's sha256 (other weights, other shards)."""
        if self.settings.launch != "llamacpp":
            return ""
        from stages.backends.llamacpp import model_file

        return "gguf:" + model_file(self.settings)[1]

    async def connect(self, client: HttpClient) -> None:
        """Check ``generate.model`` against the server's ``GET /models`` before any sample."""
        try:
            reply = await client.get_json(self.path_prefix + "/models")
        except RequestFailed as exc:
            if not str(exc).startswith("HTTP 404"):
                raise ServerGone(f"the server at {client.base_url} did not list its models: {exc}") from None
            reply = None
        served = [str(m.get("id")) for m in ((reply or {}).get("data") or []) if isinstance(m, dict)]
        if not served:
            log.warning("the server at %s lists no models (GET /models); generate.model '%s' "
                        "is recorded unchecked", client.base_url, self.model)
        elif self.model not in served:
            raise InputError(
                f"the server at {client.base_url} serves {', '.join(repr(m) for m in served)}, "
                f"but generate.model is '{self.model}'; set generate.model to the served model"
            )
        self.metadata = {"backend": self.name, "model": self.model, "url": client.base_url,
                         "served_models": served}
        if self.settings.launch == "llamacpp":
            self.metadata["launch"] = "llamacpp"

    async def run_job(self, client: HttpClient, job: Job, base_seed: int) -> pl.DataFrame:
        """Send one job and turn the reply (or its failure) into rows."""
        req_seed = sample_seed(base_seed, job.problem_id, job.idxs[0])
        sampling = self._sampling(job.kind)
        path = self.path_prefix + ("/chat/completions" if self.settings.chat else "/completions")
        t0 = time.perf_counter()
        try:
            reply = await client.post_json(path, self.request_body(job, req_seed))
            rows = self._rows(job, reply, sampling, req_seed, time.perf_counter() - t0)
        except (RequestFailed, _BadReply, KeyError, TypeError, IndexError) as exc:  # not ServerGone
            rows = failed_request_rows(job.problem_id, [(i, req_seed) for i in job.idxs], failure_reason(exc),
                                       backend=self.name, model=self.model, sampling=sampling)
        return frame([r for r in rows if r["sample_idx"] not in job.skip])

    def _rows(self, job: Job, reply: dict, sampling: str, seed: int, latency: float) -> list[dict]:
        choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
        if len(choices) != len(job.idxs):
            raise _BadReply(f"asked for {len(job.idxs)} choices, got {len(choices)}")
        usage = reply.get("usage") or {}
        rows = []
        for idx, ch in zip(job.idxs, choices):
            chat = self.settings.chat
            text = (ch.get("message") or {}).get("content") or "" if chat else ch.get("text") or ""
            lps = _choice_logprobs(ch, chat)
            if lps is None and self.settings.logprobs:
                self._no_logprobs()
            reason = ch.get("finish_reason") or "stop"
            common = dict(backend=self.name, model=self.model, sampling=sampling, seed=seed)
            if reason == "abort":
                rows.append(
                    error_row(job.problem_id, idx, error="server aborted the request", **common)
                )
                continue
            n_tok = (
                len(lps)
                if lps is not None
                else (usage.get("completion_tokens") if len(choices) == 1 else None)
            )
            rows.append(
                sample_row(
                    job.problem_id,
                    idx,
                    completion=completion_from_reply(text, job.kind, chat),
                    raw_completion=text,
                    prompt_tokens=usage.get("prompt_tokens"),
                    completion_tokens=n_tok,
                    latency_s=latency,
                    finish_reason=reason,
                    logprobs=lps,
                    **common,
                )
            )
        return rows


    def _no_logprobs(self) -> None:
        if not self.samples_without_logprobs:
            log.warning(
                "the server at %s returned no logprobs although they were asked for; "
                "mean_logprob/sum_logprob stay null and score-based selection has no scores",
                self.settings.url if self.settings.launch == "none" else "(launched)",
            )
        self.samples_without_logprobs += 1
        self.metadata["samples_without_logprobs"] = self.samples_without_logprobs


def _choice_logprobs(choice: dict, chat: bool) -> list[float | None] | None:
    """The sampled tokens' logprobs; None when the server sent none (not an empty list)."""
    lp = choice.get("logprobs")
    if not lp:
        return None
    if chat:
        return [t.get("logprob") for t in lp["content"]] if lp.get("content") else None
    return list(lp["token_logprobs"]) if lp.get("token_logprobs") else None


def from_params(params: Any) -> OpenAIBackend:
    return OpenAIBackend(params)
