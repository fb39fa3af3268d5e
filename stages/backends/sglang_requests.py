"""The JSON bodies the ``sglang`` backend sends to ``/generate`` (a mixin of ``SglangBackend``).

Field names follow SGLang's ``GenerateReqInput`` and ``SamplingParams`` (docs/backends.md). Two
shapes: :meth:`SglangRequests.request_body` batches the samples of one prompt with list fields
(SGLang's Python server); :meth:`SglangRequests.single_bodies` makes one body per sample with a
string ``text`` and one ``sampling_params`` object, the only shape the Rust router accepts.
Neither ever sends ``n``.
"""

from __future__ import annotations

from typing import Any

from stages.backends.base import sample_seed, sampling_json
from stages.backends.openai_compat import Job
from stages.backends.prompting import render_prompt, stop_sequences


class SglangRequests:
    """Request building; expects ``params`` (generate), ``settings`` (its ``sglang`` section),
    ``_chat_via_server`` and ``_run_token`` on the instance (set by ``SglangBackend``)."""

    params: Any
    settings: Any
    _chat_via_server: bool
    _run_token: str

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

    def rid(self, problem_id: str, idx: int) -> str:
        """A request id per sample: SGLang tracks (and can abort) each sample by it."""
        return f"infscale-{self._run_token}-{problem_id}-{idx}"

    def request_body(self, job: Job, base_seed: int) -> dict[str, Any]:
        """The batched ``/generate`` JSON body for one job: lists, one entry per sample."""
        text = self.prompt_text(job)
        return {
            "text": [text] * len(job.idxs),
            "sampling_params": [
                self.sampling_params(job.kind, sample_seed(base_seed, job.problem_id, i))
                for i in job.idxs
            ],
            "rid": [self.rid(job.problem_id, i) for i in job.idxs],
            "return_logprob": self.settings.return_logprob,
        }

    def single_bodies(self, job: Job, base_seed: int) -> list[dict[str, Any]]:
        """One ``/generate`` body per sample (string ``text``, one ``sampling_params``)."""
        text = self.prompt_text(job)
        return [
            {
                "text": text,
                "sampling_params": self.sampling_params(
                    job.kind, sample_seed(base_seed, job.problem_id, i)
                ),
                "rid": self.rid(job.problem_id, i),
                "return_logprob": self.settings.return_logprob,
            }
            for i in job.idxs
        ]

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
