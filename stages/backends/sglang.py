"""The ``sglang`` backend: SGLang's native ``/generate`` API over HTTP (no ``sglang`` import).

The request shape follows SGLang's ``GenerateReqInput`` and ``SamplingParams`` (sources cited
in docs/backends.md). Samples of one prompt go together as one batch request: ``text`` is the
prompt repeated and ``sampling_params`` a list with one ``sampling_seed`` per sample, so
SGLang's radix cache prefills the shared prompt once while every sample keeps its own seed
(``sampling_params.n`` would share one seed across the n samples, which under
``--enable-deterministic-inference`` makes them identical). Reproducible non-greedy sampling
needs that server flag (sglang issue #15746); without it seeds are best-effort.

Per sample it records the completion, ``meta_info.prompt_tokens`` / ``completion_tokens`` /
``finish_reason``, mean and total logprob of ``output_token_logprobs`` (for confidence- and
surprisal-based selection), and ``meta_info.e2e_latency`` (server-side, so a resumed run's
table matches an uninterrupted one). The served model comes from ``/get_model_info`` and
must equal ``generate.model``; readiness is ``/health_generate``.

Chat models: with ``sglang.chat`` the server's OpenAI ``/v1/chat/completions`` applies the
model's chat template (one request per sample, ``seed`` = the sample's seed); with
``sglang.chat_template`` set, the template is applied here and ``/generate`` is used.

This backend has been run against the local test server ``tests/backends/fake_server.py``
only, not yet against a real GPU server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import polars as pl

from stages.backends.base import sample_seed, sampling_json
from stages.backends.http_client import (
    HttpClient,
    RequestFailed,
    RetryPolicy,
    drive,
    failure_reason,
)
from stages.backends.openai_compat import Job, OpenAIBackend, jobs
from stages.backends.prompting import (
    completion_from_reply,
    error_row,
    failed_request_rows,
    frame,
    render_prompt,
    sample_row,
    stop_sequences,
)


class _BadReply(Exception):
    """A reply that does not have the documented shape (kept as error rows, not fatal)."""


class ServerUnavailable(ValueError):
    """The server did not answer its readiness probe (after the usual retries)."""


class SglangBackend:
    name = "sglang"

    def __init__(self, params: Any) -> None:
        self.params = params
        self.settings = params.sglang
        self.model = params.model
        self.metadata: dict[str, Any] = {"backend": self.name}
        self._chat_via_server = self.settings.chat and not self.settings.chat_template

    # --- request shapes ----------------------------------------------------------------------
    def sampling_params(self, kind: str, seed: int) -> dict[str, Any]:
        p, s = self.params, self.settings
        sp: dict[str, Any] = {
            "temperature": p.temperature,
            "top_p": p.top_p,
            "top_k": s.top_k,
            "min_p": s.min_p,
            "max_new_tokens": p.max_new_tokens,
            "sampling_seed": seed,
        }
        stop = stop_sequences(kind, p.prompts, s.chat)
        if stop:
            sp["stop"] = stop
        return sp

    def prompt_text(self, job: Job) -> str:
        text = render_prompt(job.prompt, job.kind, self.params.prompts, self.settings.chat)
        if self.settings.chat and self.settings.chat_template:
            text = self.settings.chat_template.replace(
                "{system}", self.params.prompts.system
            ).replace("{prompt}", text)
        return text

    def request_body(self, job: Job, base_seed: int) -> dict[str, Any]:
        """The ``/generate`` JSON body for one job (exposed for the request-shape tests)."""
        text = self.prompt_text(job)
        return {
            "text": [text] * len(job.idxs),
            "sampling_params": [
                self.sampling_params(job.kind, sample_seed(base_seed, job.problem_id, i))
                for i in job.idxs
            ],
            "return_logprob": self.settings.return_logprob,
        }

    def _sampling_json(self, kind: str) -> str:
        p, s = self.params, self.settings
        return sampling_json(
            endpoint="v1/chat/completions" if self._chat_via_server else "generate",
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=s.top_k,
            min_p=s.min_p,
            max_new_tokens=p.max_new_tokens,
            stop=stop_sequences(kind, p.prompts, s.chat),
            chat=s.chat,
        )

    # --- running ----------------------------------------------------------------------------
    def generate(
        self,
        problems: pl.DataFrame,
        n_samples: int,
        seed: int,
        skip: frozenset[tuple[str, int]] = frozenset(),
    ) -> Iterator[pl.DataFrame]:
        s = self.settings
        policy = RetryPolicy.from_params(s)
        if s.launch:
            from stages.backends.server_lifecycle import launched

            server = launched(s, model_path=s.model_path or self.params.model)
        else:
            server = contextlib.nullcontext()
        chat = self._chat_backend() if self._chat_via_server else None

        async def handle(c: HttpClient, job: Job) -> pl.DataFrame:
            if chat is not None:
                parts = await asyncio.gather(
                    *(
                        chat.run_job(
                            c, Job(job.problem_id, job.kind, job.prompt, (i,), frozenset()), seed
                        )
                        for i in job.idxs
                    )
                )
                return pl.concat(parts)
            return await self.run_job(c, job, seed)

        with server:
            yield from drive(
                lambda: HttpClient(s.url, s.concurrency, policy, seed=seed),
                jobs(problems, n_samples, s.batch_size, skip, fixed_batches=False),
                handle,
                workers=s.concurrency,
                setup=self.connect,
            )

    def _chat_backend(self) -> OpenAIBackend:
        s = self.settings
        openai = self.params.openai.model_copy(
            update={"chat": True, "batch_size": 1, "logprobs": s.return_logprob, "api_key_env": ""}
        )
        backend = OpenAIBackend(self.params.model_copy(update={"openai": openai}))
        backend.name, backend.path_prefix = self.name, "/v1"
        return backend

    async def connect(self, client: HttpClient) -> None:
        """Wait for ``/health_generate``, then read the served model from ``/get_model_info``."""
        try:
            await client.get_json("/health_generate")
            info = await client.get_json("/get_model_info")
        except RequestFailed as exc:
            raise ServerUnavailable(
                f"the SGLang server at {self.settings.url} is not ready: {exc} "
                "(start it, or set generate.sglang.launch: true)"
            ) from None
        served = str(info.get("model_path", ""))
        if served != self.params.model:
            raise ValueError(
                f"the SGLang server at {self.settings.url} serves model '{served}', but "
                f"generate.model is '{self.params.model}'; set generate.model to the served model"
            )
        self.model = served
        self.metadata = {
            "backend": self.name,
            "url": self.settings.url,
            "model": served,
            "model_info": info,
        }

    async def run_job(self, client: HttpClient, job: Job, base_seed: int) -> pl.DataFrame:
        sampling = self._sampling_json(job.kind)
        seeds = [sample_seed(base_seed, job.problem_id, i) for i in job.idxs]
        t0 = time.perf_counter()
        try:
            reply = await client.post_json("/generate", self.request_body(job, base_seed))
            outs = reply if isinstance(reply, list) else [reply]
            if len(outs) != len(job.idxs):
                raise _BadReply(f"asked for {len(job.idxs)} samples, got {len(outs)}")
            wall = time.perf_counter() - t0
            rows = [
                self._row(job, i, sd, out, sampling, wall)
                for i, sd, out in zip(job.idxs, seeds, outs)
            ]
        except (
            RequestFailed,
            _BadReply,
            KeyError,
            TypeError,
        ) as exc:  # not ServerGone: that stops the run
            rows = failed_request_rows(job.problem_id, list(zip(job.idxs, seeds)), failure_reason(exc),
                                       backend=self.name, model=self.model, sampling=sampling)
        return frame(rows)

    def _row(self, job: Job, idx: int, seed: int, out: dict, sampling: str, wall: float) -> dict:
        meta = out["meta_info"]
        finish = meta.get("finish_reason") or {}
        kind = finish.get("type") if isinstance(finish, dict) else str(finish)
        common = dict(backend=self.name, model=self.model, sampling=sampling, seed=seed)
        if kind not in ("stop", "length"):
            detail = finish.get("message", "") if isinstance(finish, dict) else ""
            return error_row(
                job.problem_id, idx, error=f"finish_reason {kind!r} {detail}".strip(), **common
            )
        lps = (
            [t[0] for t in meta["output_token_logprobs"]]
            if "output_token_logprobs" in meta
            else None
        )
        return sample_row(
            job.problem_id,
            idx,
            completion=completion_from_reply(out["text"], job.kind, self.settings.chat),
            prompt_tokens=meta.get("prompt_tokens"),
            completion_tokens=meta.get("completion_tokens"),
            latency_s=meta.get("e2e_latency", wall),
            finish_reason=kind,
            logprobs=lps,
            **common,
        )


def from_params(params: Any) -> SglangBackend:
    return SglangBackend(params)
