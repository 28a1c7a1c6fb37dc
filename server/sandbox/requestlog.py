"""A bounded record of every request the sandbox answered.

Tests use it to prove client behaviour on the wire: how many retries were made, that the
Deepomatic trailing slash was sent, that the export download carried no API key, what the raw
path bytes were. Only header *names* are kept, never values, so the log cannot leak keys.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(frozen=True)
class RecordedRequest:
    """One answered request. ``status`` is 0 when no response reached the client (a ``reset``
    fault, or a client that hung up during a ``slow`` one). ``at`` is sandbox-clock seconds."""

    provider: str
    method: str
    path: str
    raw_path: bytes
    query: str
    header_names: list[str]
    status: int
    fault: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "raw_path": self.raw_path.decode("latin-1"),
            "query": self.query,
            "header_names": list(self.header_names),
            "status": self.status,
            "fault": self.fault,
            "at": self.at,
        }


class RequestLog(Sequence[RecordedRequest]):
    """List-like, newest last, keeping at most ``maxlen`` entries (default 20,000)."""

    def __init__(self, maxlen: int = 20_000) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def for_provider(self, provider: str) -> list[RecordedRequest]:
        return [r for r in self.snapshot() if r.provider == provider]

    @overload
    def __getitem__(self, index: int) -> RecordedRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[RecordedRequest]: ...
    def __getitem__(self, index: int | slice) -> RecordedRequest | list[RecordedRequest]:
        return self.snapshot()[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"RequestLog(len={len(self)})"
