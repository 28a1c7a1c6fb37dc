"""The fake clocks of the suite: a provider client's `clock`/`sleep` pair that records waits instead of
spending them. (`virtual_time.VirtualTime` is the one shared with the sandbox, for whole polls.)"""

from __future__ import annotations

import time

import anyio


class FakeTime:
    """A clock that only moves when someone sleeps: each sleep is recorded, added, and returns at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


class WarpTime(FakeTime):
    """Real time that skips every wait, for suites that use real sockets but must not spend real seconds
    on `Retry-After` or backoff.

    `clock()` is the monotonic clock plus every second slept so far. Real I/O (a read timeout, a slow
    upstream) still takes real time and still shows on the clock, so deadlines computed from it stay
    honest. Use it for sequential calls: one caller's skipped wait moves every caller's clock.
    """

    def __init__(self) -> None:
        super().__init__(start=0.0)

    def clock(self) -> float:
        return time.monotonic() + self.now

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await anyio.sleep(0)  # a real caller's sleep lets the other tasks run
