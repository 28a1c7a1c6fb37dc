"""Timestamps from any provider, rendered one way: ISO 8601 in UTC, to the second.

Providers send ISO strings with or without fractions and offsets, and Ango sometimes epoch
milliseconds. Sub-second precision costs tokens and never changes a decision about a task.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """A datetime (UTC) from an ISO string or epoch seconds/milliseconds; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 10_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_time(value: object) -> str | None:
    """`value` as `YYYY-MM-DDTHH:MM:SSZ`, or None."""
    parsed = parse_time(value)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else None
