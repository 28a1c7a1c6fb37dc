"""The bounded cache: entries expire on the caller's clock, and the least recently used goes first."""

from __future__ import annotations

from tasklens.tools.bounded_cache import BoundedCache


def test_entries_expire_and_the_least_recently_used_is_dropped_past_the_bound() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1, expires_at=10.0)
    cache.put("b", 2, expires_at=10.0)
    assert cache.get("a", now=5.0) == 1  # "a" is now the most recently used
    cache.put("c", 3, expires_at=10.0)  # so "b" goes
    assert (cache.get("b", now=5.0), cache.get("a", now=5.0), cache.get("c", now=5.0)) == (None, 1, 3)
    assert cache.get("a", now=10.0) is None and len(cache) == 1  # expired, and dropped on sight
    cache.put("c", 4, expires_at=20.0)  # a new value replaces the old one, still one entry
    assert cache.get("c", now=15.0) == 4 and len(cache) == 1
