"""Real time that skips every wait, for suites that use real sockets but must not spend real seconds
on `Retry-After` or backoff.

`clock()` is the monotonic clock plus every second slept so far; `sleep()` records the wait, adds it to
the clock and only yields. Real I/O (a read timeout, a slow upstream) still takes real time and still
shows on the clock, so deadlines computed from it stay honest. Use it for sequential calls: one
caller's skipped wait moves every caller's clock.
"""

from __future__ import annotations

import time

import anyio


class WarpTime:
    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += max(0.0, seconds)
        await anyio.sleep(0)
