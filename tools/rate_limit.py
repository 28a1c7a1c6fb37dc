"""A sliding-window request limiter, one per provider, shared by every tool call in the server.

Providers publish limits as "N requests per minute" (Ango: 100 on the Standard plan). A token bucket
lets a burst plus the refill through, which can exceed N in some 60 s window; a sliding window of the
last N send times cannot, so "never exceeds the configured rate" holds for any window, not on average.
The clock and sleep are injectable so tests prove this without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class WouldExceedDeadline(Exception):
    """The limiter cannot admit a request before the caller's deadline; `wait_s` says how long it would take."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limit slot free in {wait_s:.1f} s")
        self.wait_s = wait_s


class SlidingWindowLimiter:
    """Admits at most `max_requests` in any `window_s` seconds; callers wait their turn in FIFO order."""

    def __init__(
        self,
        max_requests: int,
        window_s: float = 60.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.max_requests = max_requests
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._turn = anyio.Lock()
        self._blocked_until = 0.0

    def block_until(self, when: float) -> None:
        """Hold every caller until `when` (clock time), e.g. after an upstream 429 with Retry-After."""
        self._blocked_until = max(self._blocked_until, when)

    def next_free_in(self) -> float:
        """Seconds until a request could be admitted, if one were asked for now."""
        now = self._clock()
        self._forget_before(now)
        wait = self._blocked_until - now
        if len(self._sent) >= self.max_requests:
            wait = max(wait, self._sent[0] + self.window_s - now)
        return max(0.0, wait)

    async def acquire(self, deadline: float | None = None) -> None:
        """Wait for a slot and record the send; raise `WouldExceedDeadline` rather than wait past `deadline`."""
        async with self._turn:
            while True:
                wait = self.next_free_in()
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
                if deadline is not None and self._clock() + wait > deadline:
                    raise WouldExceedDeadline(wait)
                await self._sleep(wait)

    def _forget_before(self, now: float) -> None:
        horizon = now - self.window_s
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()
