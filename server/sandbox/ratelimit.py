"""Ango's documented limit (100 requests per minute on the Standard plan), per API key.

A sliding 60-second window on the *sandbox* clock, so a test can fill the window, see the 429,
advance a ManualClock by a minute and see the key recover, without waiting in real time.
Only accepted requests count, as a typical server-side limiter does.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """At most ``limit`` accepted requests per key in any ``window_s`` seconds."""

    def __init__(self, limit: int | None, window_s: float = 60.0) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be positive, or None for no limit")
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        """Count a request at ``now`` if the key has room; ``False`` means answer 429."""
        if self.limit is None:
            return True
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
