"""The ``sglang`` backend: SGLang's native ``/generate`` API over HTTP (no ``sglang`` import).

The request shape follows SGLang's ``GenerateReqInput`` and ``SamplingParams`` (sources cited
in docs/backends.md). ``n`` is never sent: SGLang
discourages ``n > 1`` (it shares one seed across the n samples, which under
``--enable-deterministic-inference`` makes them identical) and the Rust router (sgl-router /
model gateway) rejects ``n != 1``. Every sample is its own request entry with its own
``sampling_seed`` and ``rid``; the radix cache prefills the shared prompt once.

Two request shapes (``sglang.request_shape``): ``batch`` sends the samples of one prompt as one
``/generate`` call with ``text``, ``sampling_params`` and ``rid`` as lists (SGLang's Python
server, ``GenerateReqInput``); ``single`` sends one call per sample with a string ``text`` and
one ``sampling_params`` object, the only shape the Rust router's ``GenerateRequest`` accepts
(``text: Option<String>``, ``sampling_params: Option<SamplingParams>``). ``auto`` (default)
starts with ``batch`` and, when the server refuses it with HTTP 400/422, switches to ``single``
for the rest of the run (the refused job is re-sent, nothing is lost). Reproducible non-greedy
sampling needs ``--enable-deterministic-inference`` (sglang issue #15746); without it seeds are
best-effort.

Per sample it records the completion, ``meta_info.prompt_tokens`` / ``completion_tokens`` /
``finish_reason``, mean and total logprob of ``output_token_logprobs`` (for confidence- and
surprisal-based selection), and ``meta_info.e2e_latency`` (server-side, so a resumed run's
table matches an uninterrupted one). The served model comes from ``/get_model_info`` and
must equal ``generate.model``; readiness is ``/health_generate``.

Chat models: with ``sglang.chat`` the server's OpenAI ``/v1/chat/completions`` applies the
model's chat template (one request per sample, ``seed`` = the sample's seed); with
``sglang.chat_template`` set, the template is applied here and ``/generate`` is used.

This backend has been run against the local test server ``tests/backends/fake_server.py``
(which also plays the Rust router's stricter ``/generate``) only, not yet against a real GPU
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import polars as pl

from stages.backends.base import sample_seed
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
    sample_row,
)
from stages.backends.sglang_requests import SglangRequests
from stages.errors import InputError

log = logging.getLogger(__name__)

# A refusal of the batched shape (a list ``text``): the Rust router's JSON extractor answers 422,
# other front ends 400. Anything else is a real failure of the request.
_SHAPE_REFUSED = re.compile(r"^HTTP (400|422)\b")


class _ShapeRefused(Exception):
    """The server refused the batched request shape; the job is re-sent one sample a request."""


class _BadReply(Exception):
    """A reply that does not have the documented shape (kept as error rows, not fatal)."""


class ServerUnavailable(ValueError):
    """The server did not answer its readiness probe (after the usual retries)."""


class SglangBackend(SglangRequests):
    name = "sglang"

    def __init__(self, params: Any) -> None:
        self.params = params
        self.settings = params.sglang
        self.model = params.model
        self.metadata: dict[str, Any] = {"backend": self.name}
        self._chat_via_server = self.settings.chat and not self.settings.chat_template
        # ``auto`` starts batched and may fall back to one request per sample (see module doc).
        self.shape = "batch" if self.settings.request_shape == "auto" else self.settings.request_shape
        self._run_token = uuid.uuid4().hex[:12]  # makes rids unique across concurrent runs
        self._probed = False  # auto: has the first batched request been answered?
        self._probe_lock = asyncio.Lock()  # made anew in connect(): one per event loop

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
        self._probe_lock = asyncio.Lock()
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
            raise InputError(
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
        if self.shape == "single" and len(job.idxs) > 1:
            # One request per sample, all in flight together (the radix cache shares the
            # prompt); each sample succeeds or fails on its own.
            parts = await asyncio.gather(
                *(
                    self.run_job(client, Job(job.problem_id, job.kind, job.prompt, (i,),
                                             frozenset()), base_seed)
                    for i in job.idxs
                )
            )
            return pl.concat(parts)
        sampling = self._sampling_json(job.kind)
        seeds = [sample_seed(base_seed, job.problem_id, i) for i in job.idxs]
        t0 = time.perf_counter()
        try:
            outs = await self._post(client, job, base_seed)
            if len(outs) != len(job.idxs):
                raise _BadReply(f"asked for {len(job.idxs)} samples, got {len(outs)}")
            wall = time.perf_counter() - t0
            rows = [
                self._row(job, i, sd, out, sampling, wall)
                for i, sd, out in zip(job.idxs, seeds, outs)
            ]
        except _ShapeRefused:
            return await self.run_job(client, job, base_seed)  # again, one request per sample
        except (
            RequestFailed,
            _BadReply,
            KeyError,
            TypeError,
        ) as exc:  # not ServerGone: that stops the run
            rows = failed_request_rows(job.problem_id, list(zip(job.idxs, seeds)), failure_reason(exc),
                                       backend=self.name, model=self.model, sampling=sampling)
        return frame(rows)

    async def _post(self, client: HttpClient, job: Job, base_seed: int) -> list[dict]:
        """The job's replies, one per sample, in the request shape in force.

        Under ``auto`` the first batched request goes alone (the others wait on a lock): a
        server that refuses the shape refuses it once, not once per request in flight, which
        would otherwise add up to ``give_up_after`` failures in a row and stop the run.
        """
        if self.shape == "single":
            (body,) = self.single_bodies(job, base_seed)
            reply = await client.post_json("/generate", body)
            return reply if isinstance(reply, list) else [reply]
        if self.settings.request_shape == "auto" and not self._probed:
            async with self._probe_lock:
                if self.shape == "single":
                    raise _ShapeRefused  # decided while this job waited
                if not self._probed:
                    try:
                        outs = await self._post_batch(client, job, base_seed)
                    except RequestFailed as exc:
                        if not _SHAPE_REFUSED.match(str(exc)):
                            raise  # not an answer about the shape: the next job probes again
                        log.warning(
                            "the server at %s refused a batched /generate request (%s); sending "
                            "one request per sample (sglang.request_shape: single)",
                            self.settings.url, str(exc)[:160],
                        )
                        self.shape, self._probed = "single", True
                        raise _ShapeRefused from None
                    self._probed = True
                    return outs
        return await self._post_batch(client, job, base_seed)

    async def _post_batch(self, client: HttpClient, job: Job, base_seed: int) -> list[dict]:
        reply = await client.post_json("/generate", self.request_body(job, base_seed))
        return reply if isinstance(reply, list) else [reply]

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
