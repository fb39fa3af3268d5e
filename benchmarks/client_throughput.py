"""How fast the sglang/openai backends turn server replies into sample rows.

The server is the local test server (``tests/backends/fake_server.py --instant``), answering
instantly in its own process, so the figures measure the client: request building, the retry
wrapper, JSON decoding and row building. They are NOT measurements of a GPU server. The anchor
is a bare aiohttp loop posting the same bodies to the same server with the same concurrency
(no retries, no rows), measured in the same run; the backend's rate is reported as a ratio of it.

    python benchmarks/client_throughput.py [--problems 400] [--samples 64] [--concurrency 64]

Targets: >= 5,000 samples/s with 16 samples of one prompt per request (issue 16; issue 5 asked
for 2,000), >= 300 requests/s with n = 1. A second server plays SGLang's Rust router (one
sample per request: ``sglang.request_shape: auto`` falls back to it), to show what that shape
costs the client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages.backends import get_backend
from stages.backends.server_lifecycle import healthy
from stages.params import GenerateParams
from stages.shards import ShardStore, fill


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def problems(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": [f"B/{i}" for i in range(n)],
            "kind": ["code"] * n,
            "prompt": [f'def f{i}(x):\n    """Return x."""\n' for i in range(n)],
        }
    )


def backend_rate(
    backend: str, url: str, probs: pl.DataFrame, n: int, batch: int, conc: int
) -> tuple[float, float, int, int]:
    """(samples/s, requests/s, error rows) through the backend's generate()."""
    section = {
        "url": url if backend == "sglang" else url + "/v1",
        "batch_size": batch,
        "concurrency": conc,
    }
    p = GenerateParams(backend=backend, model="fake/test-model", **{backend: section})
    t0 = time.perf_counter()
    samples = errors = 0
    b = get_backend(backend, p)
    for frame in b.generate(probs, n, 1):
        samples += frame.height
        errors += frame["error"].is_not_null().sum()
    dt = time.perf_counter() - t0
    per_request = batch if getattr(b, "shape", "batch") == "batch" else 1
    requests = probs.height * -(-n // per_request)
    return samples / dt, requests / dt, errors, per_request


def stage_rate(url: str, probs: pl.DataFrame, n: int, batch: int, conc: int) -> float:
    """samples/s through ``stages.shards.fill``: the backend plus durable shard writes."""
    p = GenerateParams(
        backend="sglang",
        model="fake/test-model",
        sglang={"url": url, "batch_size": batch, "concurrency": conc},
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = fill(ShardStore(tmp), get_backend("sglang", p), probs, n, 1)
        return out.height / (time.perf_counter() - t0)


def anchor_rate(
    url: str, probs: pl.DataFrame, n: int, batch: int, conc: int
) -> tuple[float, float]:
    """(samples/s, requests/s) of a bare aiohttp loop sending the same /generate bodies."""
    bodies = [
        orjson.dumps(
            {
                "text": [p] * batch,
                "sampling_params": [{"max_new_tokens": 512, "sampling_seed": i}] * batch,
                "return_logprob": True,
            }
        )
        for p in probs["prompt"]
        for i in range(-(-n // batch))
    ]

    async def go() -> None:
        it = iter(bodies)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:

            async def worker() -> None:
                for body in it:
                    async with s.post(
                        url + "/generate", data=body, headers={"Content-Type": "application/json"}
                    ) as r:
                        orjson.loads(await r.read())

            await asyncio.gather(*(worker() for _ in range(conc)))

    t0 = time.perf_counter()
    asyncio.run(go())
    dt = time.perf_counter() - t0
    return len(bodies) * batch / dt, len(bodies) / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=400)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--requests", type=int, default=4000, help="requests in the n = 1 scenario")
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()

    port, router_port = free_port(), free_port()
    url, router_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{router_port}"
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.backends.fake_server", "--instant", "--port", str(p_),
             *extra],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for p_, extra in ((port, []), (router_port, ["--router"]))
    ]
    try:
        deadline = time.monotonic() + 30
        for u, server in zip((url, router_url), servers):
            while not healthy(u, timeout=1):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the local test server did not start")
                time.sleep(0.1)
        print(
            f"client throughput against the local test server (instant replies, not a GPU server); "
            f"{os.cpu_count()} cores, concurrency {args.concurrency}"
        )
        big = problems(args.problems)
        one = problems(args.requests // 4)
        scenarios = [
            (
                "sglang",
                url,
                f"n=16 per request, {args.problems} problems x {args.samples}",
                big,
                args.samples,
                16,
            ),
            ("sglang", router_url, f"router: 1 per request, {args.requests // 4} x 16",
             one, 16, 16),
            ("sglang", url, f"n=1 per request, {args.requests} requests", one, 4, 1),
            ("openai", url, f"n=1 per request, {args.requests} requests", one, 4, 1),
        ]
        for backend, u, label, probs, n, batch in scenarios:
            b_samples, b_requests, errors, per_request = backend_rate(
                backend, u, probs, n, batch, args.concurrency
            )
            a_samples, a_requests = anchor_rate(url, probs, n, per_request, args.concurrency)
            target = "  target >= 5,000 samples/s: " + ("met" if b_samples >= 5000 else "NOT met")
            print(
                f"{backend:6s} {label:40s} {b_samples:9,.0f} samples/s {b_requests:7,.0f} requests/s "
                f"errors={errors}  | anchor (bare aiohttp /generate) {a_samples:9,.0f} samples/s "
                f"{a_requests:7,.0f} requests/s  ratio {b_requests / a_requests:.2f}"
                + (target if batch == 16 else "")
            )
        rate = stage_rate(url, big, args.samples, 16, args.concurrency)
        print(f"sglang n=16, through the stage's shard writer (fill)       {rate:9,.0f} samples/s")
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
