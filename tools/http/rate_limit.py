"""A sliding-window request limiter, one per provider, shared by every tool call in the server.

Providers publish limits as "N requests per minute" (Ango: 100 on the Standard plan). A token bucket
lets a burst plus the refill through, which can exceed N in some 60 s window; a sliding window of the
last N send times cannot, so "never exceeds the configured rate" holds for any window, not on average.

The upstream counts a request when it arrives, not when it was admitted here: a request admitted at
the start of a window can arrive later (a fresh connection, a busy event loop) than one admitted at
the start of the next. So a slot stays counted for the window plus `guard_s`, the most a request may
take from admission to arrival; then no window the upstream counts, however it aligns, holds more
than N.

Callers reserve their send time under a short lock and sleep outside it, so a caller with a near
deadline is never stuck behind one willing to wait longer, and admission order is first come, first
served. The clock and sleep are injectable so tests prove all this without waiting.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import anyio

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
GUARD_S = 2.0  # admission to arrival upstream: a TLS handshake on a slow link, with room to spare


class WouldExceedDeadline(Exception):
    """The limiter cannot admit a request before the caller's deadline; `wait_s` says how long it would take."""

    def __init__(self, wait_s: float, reason: str = "") -> None:
        super().__init__(f"rate limit slot free in {wait_s:.1f} s")
        self.wait_s = wait_s
        self.reason = reason  # why the budget is smaller than usual, for the caller's sentence


class RateBudget(Protocol):
    """What the HTTP policy and the poller need from a provider's rate budget, local or shared."""

    async def acquire(self, deadline: float | None = None) -> None: ...

    async def hold(self, seconds: float) -> None: ...

    async def free_in(self, n: int = 1) -> float: ...


class SlidingWindowLimiter:
    """Admits at most `max_requests` in any `window_s + guard_s` seconds, in arrival order."""

    def __init__(
        self,
        max_requests: int,
        window_s: float = 60.0,
        *,
        guard_s: float = GUARD_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.max_requests = max_requests
        self.span_s = window_s + guard_s  # how long a slot stays counted
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque()  # reserved send times, non-decreasing, possibly in the future
        self._blocked_until = -math.inf
        self._lock = anyio.Lock()

    def block_until(self, when: float) -> None:
        """Hold every caller until `when` (clock time), e.g. after an upstream 429 with Retry-After."""
        self._blocked_until = max(self._blocked_until, when)

    async def hold(self, seconds: float) -> None:
        """Hold every caller for `seconds` from now."""
        self.block_until(self._clock() + seconds)

    def occupy(self, send_times: Iterable[float]) -> None:
        """Count requests as sent at `send_times` (clock time) though they were admitted elsewhere.

        A budget that takes over from a shared one uses it for what the shared one admitted and may
        still be counted upstream."""
        self._slots = deque(sorted([*self._slots, *send_times]))

    def sent_within_window(self) -> list[float]:
        """The send times still counted (clock time), oldest first."""
        self._earliest(self._clock())
        return list(self._slots)

    def next_free_in(self) -> float:
        """Seconds until a request could be admitted, if one were asked for now."""
        now = self._clock()
        return max(0.0, self._earliest(now) - now)

    async def free_in(self, n: int = 1) -> float:
        """Seconds until `n` requests asked for now would all have been admitted (0 if at once).

        A poller uses it to tell whether a round of `n` reads fits in what is left of its wait, and
        to tell its caller when a whole round will fit again."""
        now = self._clock()
        self._earliest(now)  # drops the slots that have left the window
        return round_free_in(list(self._slots), n, self.max_requests, self.span_s, now, self._blocked_until)

    async def acquire(self, deadline: float | None = None) -> None:
        """Reserve the earliest admissible send time and wait for it; never wait past `deadline`."""
        async with self._lock:
            now = self._clock()
            when = self._earliest(now)
            if deadline is not None and when > deadline:
                raise WouldExceedDeadline(when - now)
            self._slots.append(when)
        if when > now:
            await self._sleep(when - now)

    def _earliest(self, now: float) -> float:
        # A slot stays counted while `slot + window > now`; the same expression decides when the
        # oldest one frees up, so rounding can never admit N+1 in a window.
        while self._slots and self._slots[0] + self.span_s <= now:
            self._slots.popleft()
        when = max(now, self._blocked_until)
        if len(self._slots) >= self.max_requests:
            when = max(when, self._slots[-self.max_requests] + self.span_s)
        return when


def round_free_in(
    slots: list[float], n: int, max_requests: int, span_s: float, now: float, blocked_until: float
) -> float:
    """Seconds from `now` until `n` more requests would all be admitted, given the counted `slots` (oldest
    first, at least the newest `max_requests` of them) and a hold until `blocked_until`."""
    slots = list(slots)
    when = now
    for _ in range(max(1, n)):
        when = max(now, blocked_until)
        if len(slots) >= max_requests:
            when = max(when, slots[-max_requests] + span_s)
        slots.append(when)
    return when - now
