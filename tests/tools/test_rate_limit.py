"""The sliding-window limiter admits at most N requests in any window, waiting instead of failing, and
keeps a margin so that the upstream, counting arrivals rather than admissions, never sees more either.

The window mechanics are tested without the margin (`guard_s=0`), where every figure is exact."""

from __future__ import annotations

import random

import pytest

from support.clocks import FakeTime
from tasklens.tools.http.rate_limit import GUARD_S, SlidingWindowLimiter, WouldExceedDeadline

pytestmark = pytest.mark.anyio


async def test_never_more_than_the_limit_in_any_window(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 60.0, guard_s=0, clock=fake_time.clock, sleep=fake_time.sleep)
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
    limiter = SlidingWindowLimiter(2, 60.0, guard_s=0, clock=fake_time.clock, sleep=fake_time.sleep)
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(WouldExceedDeadline) as caught:
        await limiter.acquire(deadline=fake_time.now + 10)
    assert caught.value.wait_s == pytest.approx(60.0)
    assert fake_time.sleeps == []


async def test_block_until_holds_every_caller(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 60.0, guard_s=0, clock=fake_time.clock, sleep=fake_time.sleep)
    limiter.block_until(fake_time.now + 7.5)
    assert limiter.next_free_in() == pytest.approx(7.5)
    await limiter.acquire()
    assert fake_time.sleeps == [pytest.approx(7.5)]


async def test_free_in_predicts_when_a_round_of_n_requests_is_admitted(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(10, 60.0, guard_s=0, clock=fake_time.clock, sleep=fake_time.sleep)
    assert await limiter.free_in(10) == 0.0
    for _ in range(6):
        await limiter.acquire()
        fake_time.now += 1.0
    # 4 slots left now; the 5th to 8th of a round of 8 wait for the first 4 sends to leave the window
    assert await limiter.free_in(4) == 0.0
    assert await limiter.free_in(8) == pytest.approx(60.0 + 3.0 - 6.0)
    started = fake_time.now
    for _ in range(8):
        await limiter.acquire()
    assert fake_time.now - started == pytest.approx(57.0)  # what free_in(8) said
    limiter.block_until(fake_time.now + 100.0)
    assert await limiter.free_in(1) == pytest.approx(100.0)


def most_in_any_window(arrivals: list[float], window_s: float) -> int:
    """A strict sliding-window counter, as an upstream keeps one: the most arrivals in any [t, t + window)."""
    ordered = sorted(arrivals)
    return max(sum(1 for t in ordered[i:] if t < start + window_s) for i, start in enumerate(ordered))


@pytest.mark.parametrize("pattern", ["bursts", "steady", "mixed"])
async def test_the_upstream_never_counts_more_than_the_rate_despite_arrival_jitter(
    fake_time: FakeTime, pattern: str
) -> None:
    """Admission times replayed with each request arriving upstream up to GUARD_S later (a fresh
    connection, a busy loop): at 40/min no 60 s window of arrivals holds more than 40. Without the
    margin, a burst admitted at a window's start overlaps the late arrivals of the burst before it."""
    rng = random.Random(18)
    limiter = SlidingWindowLimiter(40, 60.0, clock=fake_time.clock, sleep=fake_time.sleep)
    arrivals: list[float] = []
    for i in range(200):
        if pattern == "steady" or (pattern == "mixed" and i % 3 == 0):
            fake_time.now += rng.uniform(0, 3.0)
        await limiter.acquire()
        arrivals.append(fake_time.now + rng.uniform(0, GUARD_S))
    assert most_in_any_window(arrivals, 60.0) <= 40
    # and the margin costs little: 200 requests at 40/min take five windows, plus a guard each
    if pattern == "bursts":
        assert fake_time.now - 1000.0 == pytest.approx(4 * (60.0 + GUARD_S))
