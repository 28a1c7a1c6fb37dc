"""Scheduled state: a value that changes at given sandbox times.

Every "task moves on its own" scenario (Send.ai leaving PROCESSING, a Maxsight review being
closed, a Deepomatic task finishing) is a list of ``(at, value)`` steps; the state shown is the
last step whose time has come. Keeping this in one place means no provider can get the
"is it visible yet?" comparison subtly different from the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["reached", "state_at"]

T = TypeVar("T")


def reached(at: float | None, now: float) -> bool:
    """Whether a change scheduled for sandbox time ``at`` has happened (``None`` = never)."""
    return at is not None and at <= now


def state_at(steps: Sequence[tuple[float, T]], now: float) -> T | None:
    """The value of the latest step at or before ``now``; ``None`` if none has happened yet.

    ``steps`` must be sorted by time.
    """
    current: T | None = None
    for at, value in steps:
        if at <= now:
            current = value
        else:
            break
    return current
