"""The asynchronous HTTP client that the server backends share: retries, concurrency, batching.

Why one client: a nightly run sends tens of thousands of requests to a GPU server, and the
failure modes (a restarting server, an overloaded router answering 429/503, a dropped
keep-alive connection, a reply cut off mid-body, a request stuck past its deadline) are the
same for SGLang and every OpenAI-compatible server. Each is retried with exponential backoff
and jitter ("equal jitter": half fixed, half random, so a fleet of clients does not retry in
lock-step); ``Retry-After`` is honoured when a server sends it. A request that still fails
raises :class:`RequestFailed`, which the backends turn into error rows (never a gap).

:func:`drive` runs a bounded pool of worker coroutines over a lazy stream of request specs and
hands the sync caller one result frame at a time, so memory stays flat however many samples a
run asks for, and the pipeline's stages stay synchronous.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson

S = TypeVar("S")
R = TypeVar("R")

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RequestFailed(RuntimeError):
    """A request that failed for good (non-retryable status, or retries exhausted)."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.reason, self.attempts = reason, attempts


def failure_reason(exc: Exception) -> str:
    """Why a request produced no samples: the client's own message for a request that failed
    after its retries, else the malformed reply named by type (a parsing bug, not the server)."""
    if isinstance(exc, RequestFailed):
        return str(exc)
    return f"unexpected reply: {type(exc).__name__}: {exc}"


class ServerGone(ValueError):
    """Too many requests in a row failed for good: the server is down or refuses us.

    Raised instead of producing error rows for every remaining sample; the run stops, the
    samples already made stay in the shards, and starting the run again resumes it.
    """


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    timeout_s: float = 600.0
    give_up_after: int = 32

    @classmethod
    def from_params(cls, p: Any) -> RetryPolicy:
        return cls(p.max_retries, p.backoff_s, p.backoff_max_s, p.timeout_s, p.give_up_after)


def backoff_delay(
    attempt: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None
) -> float:
    """Delay before retry number ``attempt`` (0-based): capped exponential with equal jitter."""
    cap = min(policy.backoff_max_s, policy.backoff_s * (2**attempt))
    delay = cap / 2 + rng.random() * cap / 2
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.backoff_max_s))
    return delay


def bearer_from_env(env_name: str) -> dict[str, str]:
    """Authorization header from the environment variable NAMED ``env_name`` (never stored)."""
    key = os.environ.get(env_name, "") if env_name else ""
    return {"Authorization": f"Bearer {key}"} if key else {}


def auth_hint(env_name: str) -> str:
    """Where the key of a refused request came from (the variable's name, never its value)."""
    if not env_name:
        return "no API key was sent (api_key_env is empty)"
    if os.environ.get(env_name):
        return f"the API key was read from ${env_name}"
    return f"no API key was sent: ${env_name} is unset or empty"


class HttpClient:
    """One keep-alive connection pool to one server; use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        concurrency: int,
        policy: RetryPolicy,
        headers: Callable[[], dict[str, str]] | None = None,
        seed: int = 0,
        auth_env: str | None = None,
    ) -> None:
        """``auth_env``: the NAME of the variable the bearer key comes from, named in the
        message of a 401/403 reply (None: the client sends no key of its own)."""
        self.base_url = base_url.rstrip("/")
        self._auth_env = auth_env
        self.policy = policy
        self._headers = headers or dict
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._rng = random.Random(seed)
        self.retries = 0  # how many retries this client made (reported by benchmarks and tests)
        self.failures_in_a_row = 0

    async def __aenter__(self) -> HttpClient:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def get_json(self, path: str) -> Any:
        return await self.request("GET", path, None)

    async def post_json(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)

    async def request(self, method: str, path: str, body: Any) -> Any:
        """Send, retrying transient failures; return the decoded JSON (None for an empty body)."""
        try:
            reply = await self._with_retries(
                method, f"{self.base_url}{path}", orjson.dumps(body) if body is not None else None
            )
        except RequestFailed as exc:
            self.failures_in_a_row += 1
            if self.failures_in_a_row >= self.policy.give_up_after:
                raise ServerGone(
                    f"{self.failures_in_a_row} requests in a row to {self.base_url} failed "
                    f"(last: {exc}); stopping the run: start it again to resume"
                ) from None
            raise
        self.failures_in_a_row = 0
        return reply

    async def _with_retries(self, method: str, url: str, data: bytes | None) -> Any:
        for attempt in range(self.policy.max_retries + 1):
            try:
                async with self._limit:
                    return await self._once(method, url, data)
            except _Retryable as exc:
                if attempt == self.policy.max_retries:
                    raise RequestFailed(exc.reason, attempt + 1) from None
                self.retries += 1
                await asyncio.sleep(backoff_delay(attempt, self.policy, self._rng, exc.retry_after))
        raise AssertionError("unreachable")

    async def _once(self, method: str, url: str, data: bytes | None) -> Any:
        headers = {"Content-Type": "application/json", **self._headers()}
        try:
            async with self._session.request(method, url, data=data, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise _Retryable(f"timeout after {self.policy.timeout_s:g} s") from None
        except aiohttp.ClientPayloadError as exc:
            raise _Retryable(f"truncated reply: {type(exc).__name__}") from None
        except aiohttp.ClientConnectionError as exc:
            raise _Retryable(f"connection error: {type(exc).__name__}: {exc}") from None
        if status in RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {_snippet(raw)}", retry_after)
        if status >= 400:
            hint = f" ({auth_hint(self._auth_env)})" if status in (401, 403) and self._auth_env is not None else ""
            raise RequestFailed(f"HTTP {status}: {_snippet(raw)}{hint}", 1)
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Retryable(f"malformed JSON reply ({len(raw)} bytes)") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _snippet(raw: bytes, limit: int = 200) -> str:
    return raw[:limit].decode("utf-8", errors="replace").replace("\n", " ")


def chunks(start: int, stop: int, size: int) -> Iterator[range]:
    """Fixed request batches over sample indices: the same on every run and every resume."""
    for lo in range(start - start % size, stop, size):
        yield range(max(lo, start), min(lo + size, stop))


def drive(
    make_client: Callable[[], HttpClient],
    specs: Iterable[S],
    handle: Callable[[HttpClient, S], Awaitable[R]],
    workers: int,
    setup: Callable[[HttpClient], Awaitable[None]] | None = None,
) -> Iterator[R]:
    """Run ``handle`` over ``specs`` with ``workers`` coroutines; yield results as they finish.

    The event loop lives in this generator (no thread): it runs while the caller waits for the
    next result. Closing the generator early cancels the requests still in flight.
    """
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue[R] = asyncio.Queue(maxsize=max(2 * workers, 8))
    it = iter(specs)

    async def worker(client: HttpClient) -> None:
        for spec in it:  # one shared iterator: each spec goes to exactly one worker
            await queue.put(await handle(client, spec))

    async def main() -> None:
        async with make_client() as client:
            if setup is not None:
                await setup(client)
            tasks = [asyncio.ensure_future(worker(client)) for _ in range(workers)]
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    task = loop.create_task(main())
    try:
        while True:
            getter = loop.create_task(queue.get())
            loop.run_until_complete(
                asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            )
            if getter.done():
                yield getter.result()
                while not queue.empty():  # drain what else arrived, without a loop round trip
                    yield queue.get_nowait()
                continue
            getter.cancel()
            loop.run_until_complete(asyncio.gather(getter, return_exceptions=True))
            task.result()  # all work done (or a worker's error, re-raised here)
            return
    finally:
        if not task.done():
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
