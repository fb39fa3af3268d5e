"""A local HTTP test server that speaks SGLang's native API and the OpenAI API, with faults.

It is a TEST DOUBLE, not a model: replies come from a pluggable ``Responder`` (by default a
deterministic function of prompt and seed). Shapes follow what SGLang documents and serves
(checked in docs/backends.md against sgl-project/sglang ``io_struct.py``, ``sampling_params.py``,
``entrypoints/openai/protocol.py`` and the native-API docs):

- ``POST /generate``: ``text`` (str or list), ``sampling_params`` (dict or list, ``n``,
  ``max_new_tokens``, ``stop``, ``sampling_seed``), ``return_logprob``. Reply: one object (or a
  list for a batch / n > 1) ``{"text", "output_ids", "meta_info": {"id", "finish_reason":
  {"type": "stop"|"length", ...}, "prompt_tokens", "completion_tokens", "cached_tokens",
  "e2e_latency", "output_token_logprobs": [[logprob, token_id, null], ...]}}``.
- ``GET /health_generate``, ``GET /health``: 200 once "loaded" (``startup_delay_s``).
- ``GET /get_model_info`` (and ``/model_info``): ``model_path``, ``tokenizer_path``, ...
- ``POST /v1/completions`` and ``POST /v1/chat/completions`` in OpenAI's shapes (``n``,
  ``logprobs``, ``seed``, ``usage``); a bearer key is required when ``api_key`` is set.

Faults (``faults(request_no, path, body) -> name | None``): ``"500"``, ``"503"``, ``"429"``,
``"400"``, ``"drop"`` (close the connection without a reply), ``"slow"`` (reply after
``slow_s``), ``"truncate"`` (announce the full length, send half, close).

Run standalone with SGLang's launch flags (used by the server-lifecycle test)::

    python -m tests.backends.fake_server --model-path fake/model --port 30000 [--tp N] [--dp N]

The raw asyncio server keeps per-request cost low so that the client throughput benchmark
measures the client, not this server.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.backends.fake_replies import (  # noqa: F401  (re-exported for other tests)
    FAULTS,
    FaultFn,
    GenReply,
    GenRequest,
    Responder,
    deterministic_responder,
    faults_at,
    faults_when,
    generate_reply,
    instant_responder,
    openai_reply,
)


@dataclass
class FakeServer:
    """Serve on 127.0.0.1 in a background thread (``with FakeServer() as s: s.url``)."""

    responder: Responder = deterministic_responder
    faults: FaultFn | None = None
    model_path: str = "fake/test-model"
    api_key: str | None = None
    slow_s: float = 2.0
    delay_s: float = 0.0  # added to every generation reply (a slow GPU)
    startup_delay_s: float = 0.0
    # Play SGLang's Rust router (sgl-router GenerateRequest): `text` must be a string and
    # `sampling_params` one object (422 otherwise, from its JSON extractor); n != 1 is refused.
    router: bool = False
    port: int = 0
    list_models: bool = True  # False: /v1/models lists nothing (some servers do)
    rewrite: Callable[[str, dict, Any], Any] | None = None  # (path, body, reply) -> reply to send
    record: bool = True
    requests: list[tuple[str, dict]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    count: int = 0
    in_flight: int = 0  # generation requests being answered now, and the most at once
    max_in_flight: int = 0

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._open())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-sglang")
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            tasks = [t for t in self._tasks if not t.done()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _open(self) -> None:
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self._ready_at = time.monotonic() + self.startup_delay_s
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    # --- HTTP/1.1 keep-alive loop ----------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                if not await self._answer(writer, method, path.split("?")[0], headers, raw):
                    break
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
    ) -> bool:
        """Write one reply; False closes the connection."""
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            _write(writer, 400, {"error": {"message": "body is not JSON"}})
            return True
        n = self.count
        self.count += 1
        if self.record:
            self.requests.append((path, body))
            self.headers_seen.append(headers)
        fault = self.faults(n, path, body) if self.faults else None
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
        if fault in ("500", "503", "429", "400"):
            extra = b"Retry-After: 0\r\n" if fault == "429" else b""
            _write(writer, int(fault), {"error": {"message": f"injected {fault}"}}, extra)
            return True
        generation = path in ("/generate", "/v1/completions", "/v1/chat/completions")
        self.in_flight += generation
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.delay_s and generation:
            await asyncio.sleep(self.delay_s)
        self.in_flight -= generation
        try:
            status, payload = self._route(method, path, headers, body)
            if self.rewrite is not None and status == 200:
                payload = self.rewrite(path, body, payload)
        except (
            KeyError,
            TypeError,
            ValueError,
        ) as exc:  # a malformed request: say so, like a server
            status, payload = (
                400,
                {"error": {"message": f"bad request: {type(exc).__name__}: {exc}"}},
            )
        if fault == "truncate":
            data = orjson.dumps(payload)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(data)).encode()
                + b"\r\n\r\n"
                + data[: len(data) // 2]
            )
            await writer.drain()
            writer.transport.abort()
            return False
        _write(writer, status, payload)
        if writer.transport.get_write_buffer_size() > 1 << 16:
            await writer.drain()
        return headers.get("connection", "").lower() != "close"

    # --- endpoints --------------------------------------------------------------------------
    def _route(
        self, method: str, path: str, headers: dict[str, str], body: dict
    ) -> tuple[int, Any]:
        loaded = time.monotonic() >= self._ready_at
        if path in ("/health", "/health_generate"):
            return (200, None) if loaded else (503, {"error": "loading"})
        if not loaded:
            return 503, {"error": {"message": "server is loading"}}
        if path in ("/get_model_info", "/model_info"):
            return 200, {
                "model_path": self.model_path,
                "tokenizer_path": self.model_path,
                "is_generation": True,
                "preferred_sampling_params": None,
                "weight_version": "default",
                "has_image_understanding": False,
                "has_audio_understanding": False,
                "model_type": "fake",
                "architectures": ["FakeForCausalLM"],
            }
        if path == "/generate":
            if self.router:
                sp = body.get("sampling_params") or {}
                if not isinstance(body.get("text"), str) or not isinstance(sp, dict):
                    return 422, {"error": "Failed to deserialize the JSON body into the target "
                                          "type: text: invalid type: sequence, expected a string"}
                if int(sp.get("n", 1)) != 1:
                    return 400, {"error": {"message": "n != 1 is not supported"}}
            return generate_reply(self.responder, body)
        if path.startswith("/v1/"):
            if (
                self.api_key is not None
                and headers.get("authorization") != f"Bearer {self.api_key}"
            ):
                return 401, {"error": {"message": "invalid API key", "type": "auth"}}
            if path == "/v1/completions":
                return openai_reply(self.responder, body, False, self.model_path)
            if path == "/v1/chat/completions":
                return openai_reply(self.responder, body, True, self.model_path)
            if path == "/v1/models":
                models = [{"id": self.model_path, "object": "model"}] if self.list_models else []
                return 200, {"object": "list", "data": models}
        return 404, {"detail": "Not Found"}


_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


def _write(writer: asyncio.StreamWriter, status: int, payload: Any, extra: bytes = b"") -> None:
    data = b"" if payload is None else orjson.dumps(payload)
    writer.write(
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        % (status, _REASONS.get(status, b"X"), len(data), extra)
        + data
    )


def main(argv: list[str] | None = None) -> None:
    """Stand in for ``python -m sglang.launch_server`` (unknown flags are accepted and ignored)."""
    ap = argparse.ArgumentParser(
        description="infscale fake SGLang/OpenAI test server (not a model)"
    )
    ap.add_argument("--model-path", default="fake/test-model")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=30000)
    ap.add_argument("--tp", type=int, default=1)
    ap.add_argument("--dp", type=int, default=1)
    ap.add_argument("--startup-delay", type=float, default=0.0)
    ap.add_argument("--instant", action="store_true", help="cheapest replies (benchmarks)")
    ap.add_argument("--router", action="store_true", help="refuse list fields like sgl-router")
    args, unknown = ap.parse_known_args(argv)
    print(
        f"fake server: model={args.model_path} tp={args.tp} dp={args.dp} ignored={unknown}",
        flush=True,
    )
    server = FakeServer(
        responder=instant_responder if args.instant else deterministic_responder,
        model_path=args.model_path,
        port=args.port,
        record=False,
        startup_delay_s=args.startup_delay,
        router=args.router,
    )
    server.start()
    print(f"fake server: listening on {server.url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.2):
        pass
    server.stop()


if __name__ == "__main__":
    main()
