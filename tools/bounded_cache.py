"""A small cache that can never grow without bound: each entry expires, and the least recently used
entry is dropped once `max_entries` are held.

What a provider client caches is keyed by ids, and ids come from callers; a cache without a bound
would hold whatever stream of distinct ids it is fed for the server's lifetime.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most `max_entries` values, each until its own expiry time (on the caller's clock)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float) -> V | None:
        """The value for `key` if it has not expired by `now`, else None (and an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, expires_at: float) -> None:
        """Keep `value` until `expires_at`, dropping the least recently used entries beyond the bound."""
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
