"""Sandbox time: one clock drives every simulated state change.

Every provider in the sandbox reads "now" from the same clock, so a test can move all of them
forward together with :meth:`ManualClock.advance` instead of sleeping, and the embedded demo can
run on real time with :class:`WallClock`. Clock values are *seconds since the sandbox started*;
:attr:`epoch` anchors second 0 to a calendar instant so payload timestamps look like real ones.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_EPOCH",
    "Clock",
    "ManualClock",
    "WallClock",
    "format_iso_ms",
    "format_iso_s",
    "format_iso_us",
    "instant",
    "parse_iso",
]

#: Calendar instant of second 0 for a ManualClock, fixed so seeded payloads are reproducible.
DEFAULT_EPOCH = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """What the sandbox needs from a clock: elapsed seconds and the instant they count from."""

    @property
    def epoch(self) -> datetime: ...

    def now(self) -> float: ...


class WallClock:
    """Real elapsed time, for the embedded demo sandbox.

    Second 0 is the moment the clock is created and :attr:`epoch` is the real UTC time then, so
    seeded tasks look recent and the timed transitions happen while a newcomer watches.
    """

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._epoch = datetime.now(UTC)

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def now(self) -> float:
        return time.monotonic() - self._start

    def __repr__(self) -> str:
        return f"WallClock(now={self.now():.3f})"


class ManualClock:
    """Time that only moves when a test says so, which makes timed transitions deterministic."""

    def __init__(self, start: float = 0.0, *, epoch: datetime = DEFAULT_EPOCH) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self._now = float(start)
        self._epoch = epoch

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward; use set() to jump")
        self._now += float(seconds)
        return self._now

    def set(self, seconds: float) -> float:
        """Jump to an absolute sandbox time, e.g. to replay a scenario from the start."""
        self._now = float(seconds)
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now:.3f})"


def instant(clock: Clock, t: float) -> datetime:
    """The calendar instant of sandbox second ``t`` (negative ``t`` lies before the start)."""
    return clock.epoch + timedelta(seconds=t)


def parse_iso(text: str) -> datetime:
    """Parse the ISO-8601 UTC strings used in provider docs (``...Z`` with 0, 3 or 6 decimals)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def format_iso_ms(moment: datetime) -> str:
    """Millisecond precision with ``Z``, the way Ango (a Node/Mongo service) writes times."""
    m = _utc(moment)
    return m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z"


def format_iso_us(moment: datetime) -> str:
    """Microsecond precision with ``Z``, the way Django REST Framework (Deepomatic) writes times."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_iso_s(moment: datetime) -> str:
    """Whole seconds with ``Z``, the way the Send.ai and Maxsight docs samples write times."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
