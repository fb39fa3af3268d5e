"""The shared HTTP client: each injected fault is retried; what cannot succeed fails clearly."""

from __future__ import annotations

import asyncio
import random

import pytest

from stages.backends.http_client import (
    HttpClient,
    RequestFailed,
    RetryPolicy,
    backoff_delay,
    chunks,
    drive,
)
from tests.backends.fake_server import FakeServer, faults_at

FAST = RetryPolicy(max_retries=3, backoff_s=0.001, backoff_max_s=0.01, timeout_s=0.5)


def _post(server: FakeServer, policy: RetryPolicy = FAST) -> tuple[object, int]:
    async def go() -> tuple[object, int]:
        async with HttpClient(server.url, 4, policy) as c:
            reply = await c.post_json(
                "/generate", {"text": "x", "sampling_params": {"sampling_seed": 1}}
            )
            return reply, c.retries

    return asyncio.run(go())


@pytest.mark.parametrize("fault", ["500", "503", "429", "drop", "truncate", "slow"])
def test_each_transient_fault_is_retried_and_the_request_succeeds(fault: str) -> None:
    with FakeServer(faults=faults_at({0: fault}), slow_s=1.0) as clean_run:
        clean, _ = _post(clean_run, FAST)
    with FakeServer(faults=faults_at({0: fault}), slow_s=1.0) as srv:
        reply, retries = _post(srv)
    assert retries == 1
    assert srv.count == 2  # the faulted try and the retry
    assert reply["text"] == clean["text"]  # type: ignore[index]


def test_retries_exhausted_raise_with_the_last_reason() -> None:
    with FakeServer(faults=lambda n, p, b: "500") as srv, pytest.raises(RequestFailed) as err:
        _post(srv)
    assert srv.count == FAST.max_retries + 1
    assert "HTTP 500" in str(err.value) and "4 attempts" in str(err.value)


def test_a_client_error_is_not_retried() -> None:
    with (
        FakeServer(faults=faults_at({0: "400"})) as srv,
        pytest.raises(RequestFailed, match="HTTP 400"),
    ):
        _post(srv)
    assert srv.count == 1


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(backoff_s=1.0, backoff_max_s=8.0)
    rng = random.Random(0)
    for attempt, cap in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = [backoff_delay(attempt, policy, rng) for _ in range(200)]
        assert cap / 2 <= min(delays) and max(delays) <= cap
        assert max(delays) - min(delays) > cap / 4  # jittered, not lock-step
    assert backoff_delay(0, policy, rng, retry_after=5.0) >= 5.0


def test_chunks_are_fixed_whatever_the_start() -> None:
    assert [list(r) for r in chunks(0, 7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [list(r) for r in chunks(4, 7, 3)] == [[4, 5], [6]]


def test_drive_yields_every_result_and_respects_the_worker_count() -> None:
    active, peak = 0, 0

    async def handle(client: HttpClient, i: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.001)
        active -= 1
        return i * i

    with FakeServer() as srv:
        out = list(drive(lambda: HttpClient(srv.url, 3, FAST), range(50), handle, workers=3))
    assert sorted(out) == [i * i for i in range(50)]
    assert peak == 3


def test_closing_drive_early_cancels_the_rest() -> None:
    started = []

    async def handle(client: HttpClient, i: int) -> int:
        started.append(i)
        await asyncio.sleep(0.01)
        return i

    with FakeServer() as srv:
        gen = drive(lambda: HttpClient(srv.url, 2, FAST), range(1000), handle, workers=2)
        first = next(gen)
        gen.close()
    assert first in (0, 1)
    assert len(started) < 20
