"""The sliding-window limiter admits at most N requests in any window, waiting instead of failing."""

from __future__ import annotations

import pytest

from support.clocks import FakeTime
from tasklens.tools.http.rate_limit import SlidingWindowLimiter, WouldExceedDeadline

pytestmark = pytest.mark.anyio


async def test_never_more_than_the_limit_in_any_window(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 60.0, clock=fake_time.clock, sleep=fake_time.sleep)
    sent: list[float] = []
    for _ in range(350):
        await limiter.acquire()
        sent.append(fake_time.now)
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + 60.0]
        assert len(in_window) <= 100
    # and it is not needlessly slow: 350 requests at 100/min take 3 full windows, no more
    assert sent[-1] - sent[0] == pytest.approx(180.0)


async def test_deadline_refuses_instead_of_waiting_past_it(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(2, 60.0, clock=fake_time.clock, sleep=fake_time.sleep)
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(WouldExceedDeadline) as caught:
        await limiter.acquire(deadline=fake_time.now + 10)
    assert caught.value.wait_s == pytest.approx(60.0)
    assert fake_time.sleeps == []


async def test_block_until_holds_every_caller(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 60.0, clock=fake_time.clock, sleep=fake_time.sleep)
    limiter.block_until(fake_time.now + 7.5)
    assert limiter.next_free_in() == pytest.approx(7.5)
    await limiter.acquire()
    assert fake_time.sleeps == [pytest.approx(7.5)]


async def test_free_in_predicts_when_a_round_of_n_requests_is_admitted(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(10, 60.0, clock=fake_time.clock, sleep=fake_time.sleep)
    assert limiter.free_in(10) == 0.0
    for _ in range(6):
        await limiter.acquire()
        fake_time.now += 1.0
    # 4 slots left now; the 5th to 8th of a round of 8 wait for the first 4 sends to leave the window
    assert limiter.free_in(4) == 0.0
    assert limiter.free_in(8) == pytest.approx(60.0 + 3.0 - 6.0)
    started = fake_time.now
    for _ in range(8):
        await limiter.acquire()
    assert fake_time.now - started == pytest.approx(57.0)  # what free_in(8) said
    limiter.block_until(fake_time.now + 100.0)
    assert limiter.free_in(1) == pytest.approx(100.0)
