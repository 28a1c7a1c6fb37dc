"""The shared HTTP policy against the sandbox's injected faults, with fake time: waits and bounds, proven.

In-process (ASGI) for the status-code cases; real loopback HTTP for what only a socket can show
(read timeouts, bodies cut short).
"""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest

from support.clocks import FakeTime
from tasklens.server.sandbox import SANDBOX_KEYS, Fault, ManualClock, Sandbox, serve_on_loopback
from tasklens.tools.errors import ProviderError
from tasklens.tools.http.policy import MAX_RETRY_AFTER_S, HttpPolicy, RetryPolicy, parse_retry_after
from tasklens.tools.http.rate_limit import SlidingWindowLimiter
from tasklens.tools.providers.deepomatic import DeepomaticClient

pytestmark = pytest.mark.anyio
KEY = SANDBOX_KEYS["deepomatic"]
TASK = "/v0.7/tasks/269999729/"


def policy(
    sandbox: Sandbox,
    fake_time: FakeTime,
    *,
    origin: str | None = None,
    limiter: SlidingWindowLimiter | None = None,
    **retry: float,
) -> HttpPolicy:
    return HttpPolicy(
        provider="deepomatic",
        base_url=sandbox.base_url("deepomatic", origin=origin or "http://sandbox"),
        headers=DeepomaticClient.auth_headers(KEY),
        secrets=(KEY,),
        parse_error=DeepomaticClient.parse_error,
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        limiter=limiter,
        transport=None if origin else httpx.ASGITransport(app=sandbox),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        rng=random.Random(7),
    )


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(clock=ManualClock())


async def test_5xx_burst_is_retried_with_full_jitter_backoff(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="503", times=2, provider="deepomatic"))
    http = policy(sandbox, fake_time)
    task = await http.get_json(TASK)
    assert task["id"] == "269999729"
    assert http.attempts == 3
    assert len(fake_time.sleeps) == 2
    assert 0 <= fake_time.sleeps[0] <= 0.5 and 0 <= fake_time.sleeps[1] <= 1.0


async def test_retry_after_seconds_is_honoured_and_holds_the_limiter(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after=7))
    limiter = SlidingWindowLimiter(100, clock=fake_time.clock, sleep=fake_time.sleep)
    http = policy(sandbox, fake_time, limiter=limiter)
    await http.get_json(TASK)
    # the retry waited exactly Retry-After (the policy's sleep, then the limiter had nothing left to hold)
    assert fake_time.sleeps == [7.0]
    assert http.attempts == 2


async def test_retry_after_http_date_is_honoured() -> None:
    assert parse_retry_after(formatdate(1_000_030.0, usegmt=True), now=1_000_000.0) == pytest.approx(30.0)
    assert parse_retry_after("12", now=0) == 12.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(formatdate(10.0, usegmt=True), now=100.0) == 0.0


async def test_sandbox_http_date_retry_after_round_trip(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after="http-date:20"))
    http = policy(sandbox, fake_time)
    await http.get_json(TASK)
    assert len(fake_time.sleeps) == 1 and 17.0 <= fake_time.sleeps[0] <= 21.0


async def test_500_is_retried_once_only(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="500", times=-1, provider="deepomatic"))
    http = policy(sandbox, fake_time)
    with pytest.raises(ProviderError) as caught:
        await http.get_json(TASK)
    assert caught.value.kind == "unavailable" and caught.value.http_status == 500
    assert http.attempts == 2


async def test_attempts_are_bounded(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="502", times=-1, provider="deepomatic"))
    http = policy(sandbox, fake_time, max_attempts=4)
    with pytest.raises(ProviderError) as caught:
        await http.get_json(TASK)
    assert http.attempts == 4 and len(fake_time.sleeps) == 3
    # the HTML page a gateway sends never reaches the message
    assert "<" not in caught.value.for_model()


async def test_the_deadline_bounds_waits(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="429", times=-1, provider="deepomatic", retry_after=100))
    http = policy(sandbox, fake_time, deadline_s=30)
    with pytest.raises(ProviderError) as caught:
        await http.get_json(TASK)
    error = caught.value
    assert error.kind == "rate_limited" and error.retry_after == 100.0
    assert "Retry in 100 s" in error.for_model()
    assert fake_time.sleeps == [] and http.attempts == 1


async def test_total_time_never_exceeds_the_deadline(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="503", times=-1, provider="deepomatic"))
    start = fake_time.now
    http = policy(sandbox, fake_time, deadline_s=3, max_attempts=50, base_delay_s=1.0)
    with pytest.raises(ProviderError):
        await http.get_json(TASK)
    assert fake_time.now - start < 3


@pytest.mark.parametrize("status", ["400", "401", "404"])
async def test_client_errors_are_not_retried(sandbox: Sandbox, fake_time: FakeTime, status: str) -> None:
    http = policy(sandbox, fake_time)
    path = {"400": TASK, "401": TASK, "404": "/v0.7/tasks/123456789123/"}[status]
    if status == "401":
        http = HttpPolicy(
            provider="deepomatic",
            base_url=sandbox.base_url("deepomatic"),
            headers=DeepomaticClient.auth_headers("wrong-key"),
            secrets=("wrong-key",),
            parse_error=DeepomaticClient.parse_error,
            transport=httpx.ASGITransport(app=sandbox),
            clock=fake_time.clock,
            sleep=fake_time.sleep,
        )
    if status == "400":
        sandbox.faults.add(Fault(kind="echo_headers", times=1, provider="deepomatic"))
    with pytest.raises(ProviderError) as caught:
        await http.get_json(path)
    assert caught.value.http_status == int(status)
    assert http.attempts == 1 and fake_time.sleeps == []
    assert KEY not in caught.value.for_model() and "wrong-key" not in caught.value.for_model()


async def test_non_idempotent_calls_are_never_retried(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="503", times=1, provider="deepomatic"))
    http = policy(sandbox, fake_time)
    with pytest.raises(ProviderError):
        await http.request_json("POST", TASK, json_body={}, idempotent=False)
    assert http.attempts == 1


async def test_malformed_json_is_a_clear_error(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="malformed", times=1, provider="deepomatic"))
    with pytest.raises(ProviderError) as caught:
        await policy(sandbox, fake_time).get_json(TASK)
    assert caught.value.kind == "bad_response" and "not valid JSON" in caught.value.for_model()


async def test_html_instead_of_json_is_a_clear_error(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="html", times=1, provider="deepomatic"))
    with pytest.raises(ProviderError) as caught:
        await policy(sandbox, fake_time).get_json(TASK)
    assert caught.value.kind == "bad_response" and "<" not in caught.value.for_model()


async def test_response_size_cap(sandbox: Sandbox, fake_time: FakeTime) -> None:
    with pytest.raises(ProviderError) as caught:
        await policy(sandbox, fake_time, max_response_bytes=64).get_json(TASK)
    assert caught.value.kind == "bad_response" and "stopped reading" in caught.value.for_model()


async def test_loopback_read_timeout_is_retried_then_succeeds(
    sandbox: Sandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.faults.add(Fault(kind="slow", times=1, provider="deepomatic", delay_s=2.0))
    async with serve_on_loopback(sandbox) as origin:
        http = policy(sandbox, fake_time, origin=origin, read_timeout_s=0.3)
        try:
            with caplog.at_level("INFO", logger="tasklens.http"):
                task = await http.get_json(TASK)
        finally:
            await http.aclose()
    assert task["status"] == "success" and http.attempts == 2
    sent = [record.getMessage() for record in caplog.records if record.getMessage().startswith("upstream ")]
    assert [line.split(" -> ")[0] for line in sent] == [f"upstream deepomatic GET /deepomatic{TASK}"] * 2
    assert [line.split(" -> ")[1].split(" in ")[0] for line in sent] == ["timeout", "200"]


async def test_every_request_sent_is_one_log_line_with_its_status_and_without_its_query(
    sandbox: Sandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.faults.add(Fault(kind="503", times=2, provider="deepomatic"))
    http = policy(sandbox, fake_time)
    with caplog.at_level("INFO", logger="tasklens.http"):
        await http.get_json(TASK, params={"token": "query-value"})
    sent = [record.getMessage() for record in caplog.records if record.getMessage().startswith("upstream ")]
    assert [line.split(" in ")[0] for line in sent] == [
        f"upstream deepomatic GET /deepomatic{TASK} -> {status}" for status in (503, 503, 200)
    ]
    assert all(line.endswith(" ms") for line in sent) and "query-value" not in caplog.text


async def test_loopback_timeouts_exhaust_into_a_timeout_error(sandbox: Sandbox, fake_time: FakeTime) -> None:
    sandbox.faults.add(Fault(kind="slow", times=-1, provider="deepomatic", delay_s=2.0))
    async with serve_on_loopback(sandbox) as origin:
        http = policy(sandbox, fake_time, origin=origin, read_timeout_s=0.2, max_attempts=2)
        try:
            with pytest.raises(ProviderError) as caught:
                await http.get_json(TASK)
        finally:
            await http.aclose()
    assert caught.value.kind == "timeout" and http.attempts == 2


@pytest.mark.parametrize("kind", ["truncated", "reset"])
async def test_loopback_broken_bodies_are_retried(sandbox: Sandbox, fake_time: FakeTime, kind: str) -> None:
    sandbox.faults.add(Fault(kind=kind, times=1, provider="deepomatic"))
    async with serve_on_loopback(sandbox) as origin:
        http = policy(sandbox, fake_time, origin=origin)
        try:
            task = await http.get_json(TASK)
        finally:
            await http.aclose()
    assert task["id"] == "269999729" and http.attempts == 2


async def test_a_429_with_retry_after_holds_other_callers_too(sandbox: Sandbox, fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, clock=fake_time.clock, sleep=fake_time.sleep)
    http = policy(sandbox, fake_time, limiter=limiter)
    sandbox.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after=9))
    await http.get_json(TASK)  # the first caller waits out its own 429
    fake_time.sleeps.clear()
    limiter.block_until(fake_time.now + 5)  # as a 429 seen by another call would
    await http.get_json(TASK)
    assert fake_time.sleeps == [pytest.approx(5.0)]


async def test_a_wild_retry_after_does_not_disable_the_provider(sandbox: Sandbox, fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, clock=fake_time.clock, sleep=fake_time.sleep)
    http = policy(sandbox, fake_time, limiter=limiter)
    sandbox.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after=86400))
    with pytest.raises(ProviderError):
        await http.get_json(TASK)
    assert limiter.next_free_in() <= http.retry.deadline_s


async def test_an_absurd_retry_after_is_capped_and_said(
    sandbox: Sandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """Retry-After: 1000000000 is honoured for MAX_RETRY_AFTER_S at most; the error and the log say so,
    and the provider's other callers are held no longer than one call's deadline."""
    limiter = SlidingWindowLimiter(100, clock=fake_time.clock, sleep=fake_time.sleep)
    http = policy(sandbox, fake_time, limiter=limiter)
    sandbox.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after=1_000_000_000))
    with caplog.at_level("WARNING", logger="tasklens.http"), pytest.raises(ProviderError) as caught:
        await http.get_json(TASK)
    error = caught.value
    assert error.kind == "rate_limited" and error.retry_after == MAX_RETRY_AFTER_S
    assert "asking for a wait of 1000000000 s, which tasklens caps at 120 s; retry in 120 s" in error.for_model()
    assert "Retry-After of 1000000000 s; tasklens honours at most 120 s" in caplog.text
    assert limiter.next_free_in() <= http.retry.deadline_s
    assert parse_retry_after("9" * 5000, now=0) is None  # past int()'s digit limit: no wait at all


async def test_the_size_cap_holds_for_streamed_bodies_without_content_length(fake_time: FakeTime) -> None:
    async def streaming_upstream(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})  # type: ignore[operator]
        for _ in range(100):
            await send({"type": "http.response.body", "body": b" " * 1024, "more_body": True})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]

    http = HttpPolicy(
        provider="deepomatic",
        base_url="http://upstream",
        headers={},
        secrets=(),
        parse_error=DeepomaticClient.parse_error,
        retry=RetryPolicy(max_response_bytes=10_000),
        transport=httpx.ASGITransport(app=streaming_upstream),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    with pytest.raises(ProviderError) as caught:
        await http.get_json("/anything")
    assert caught.value.code == "too_large"


async def test_queueing_for_a_connection_slot_counts_against_the_deadline(sandbox: Sandbox) -> None:
    """With one slot busy on a slow answer, a second call with a short deadline gives up on time."""
    import time

    import anyio

    sandbox.faults.add(Fault(kind="slow", times=1, provider="deepomatic", delay_s=1.5))
    async with serve_on_loopback(sandbox) as origin:
        http = HttpPolicy(
            provider="deepomatic",
            base_url=sandbox.base_url("deepomatic", origin=origin),
            headers=DeepomaticClient.auth_headers(KEY),
            secrets=(KEY,),
            parse_error=DeepomaticClient.parse_error,
            retry=RetryPolicy(max_attempts=1),
            max_concurrency=1,
        )
        outcome: dict[str, float] = {}
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(http.get_json, TASK)
                await anyio.sleep(0.1)  # the slow call holds the only slot
                started = time.monotonic()
                with pytest.raises(ProviderError) as caught:
                    await http.get_json(TASK, deadline=http.deadline() - http.retry.deadline_s + 0.4)
                outcome["waited"] = time.monotonic() - started
        finally:
            await http.aclose()
    assert caught.value.kind == "timeout"
    assert outcome["waited"] < 1.0
