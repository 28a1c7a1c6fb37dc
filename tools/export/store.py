"""The last few summarize_export results, kept in memory for the `export-summary://` resources.

The id is a short hash of the summary itself: summarizing the same export with the same filters again
gives the same URI (and refreshes it instead of filling the store with copies), and a URI kept from an
earlier server process can only find that same content or fail cleanly, never another summary.
Nothing is written to disk: a restarted server has none, unless replicas share them through Redis
(`TASKLENS_REDIS_URL`), where they expire after a day. The store belongs to the server, not to a
session: in the 2026-07-28 protocol there are no sessions, and tasklens serves one team (one set of
provider keys).

What a listing shows must not leak what a source may hide: a signed export URL is a credential, in
its query string and sometimes in its path, so a URL is labelled by its host only, and a local path by
its file name only (no directories). The summary's own `source` field is the tool's, unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import clean_upstream_text
from ..results.compact import compact_json
from ..shared.link import SharedLink, SharedStateDown
from .summary import ExportSummary

if TYPE_CHECKING:
    from redis.asyncio import Redis

SUMMARY_SCHEME = "export-summary://"
SUMMARY_MIME_TYPE = "application/json"
LATEST = "latest"
CAPACITY = 8
SHARED_TTL_S = 24 * 3600  # how long replicas keep a summary in Redis: a working day's agents can read it back
ID_HEX = 12  # 48 bits: ample for 8 entries, short enough to read and type
LABEL_CHARS = 60
_ID = re.compile(f"[0-9a-f]{{{ID_HEX}}}")


@dataclass(frozen=True)
class StoredSummary:
    summary_id: str
    text: str  # exactly the JSON the tool returned
    label: str  # what a listing may show: no directories, no URL path or query
    assets: int
    stored_at: datetime

    @property
    def uri(self) -> str:
        return SUMMARY_SCHEME + self.summary_id


class SummaryStore:
    """The last `capacity` summaries, newest first in a listing; adding a known one makes it the newest.

    With `shared`, the summaries live in Redis for `ttl_s`, so a URI made through one replica reads back
    through any other; each is kept in this process's memory as well, which answers while Redis is away.
    """

    def __init__(
        self, capacity: int = CAPACITY, *, shared: SharedLink | None = None, ttl_s: int = SHARED_TTL_S
    ) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, StoredSummary] = OrderedDict()
        self._shared = shared
        self._ttl_s = ttl_s

    async def add(self, summary: ExportSummary, label: str) -> ExportSummary:
        """Keep `summary` and return it carrying its `resource` URI (what the tool then returns)."""
        summary_id = hashlib.sha256(compact_json(summary).encode()).hexdigest()[:ID_HEX]
        published = summary.model_copy(update={"resource": SUMMARY_SCHEME + summary_id})
        stored = StoredSummary(
            summary_id=summary_id,
            text=compact_json(published),
            label=label,
            assets=summary.assets,
            stored_at=datetime.now(UTC),
        )
        self._entries.pop(summary_id, None)
        self._entries[summary_id] = stored
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        if self._shared is not None:
            try:
                await self._shared.run(lambda client: self._put(client, stored))
            except SharedStateDown:
                pass  # kept here; SharedLink has said what that means
        return published

    async def get(self, summary_id: str) -> StoredSummary | None:
        if summary_id == LATEST:
            newest = await self.newest_first()
            return newest[0] if newest else None
        if not _ID.fullmatch(summary_id):  # the caller's text: only an id this store makes is looked up
            return None
        if self._shared is not None:
            try:
                found = await self._shared.run(lambda client: client.hgetall(self._key(summary_id)))
            except SharedStateDown:
                found = None
            if found:
                return _from_fields(summary_id, found)
        return self._entries.get(summary_id)

    async def newest_first(self) -> list[StoredSummary]:
        """The stored summaries, newest first: the order a listing shows them in."""
        if self._shared is not None:
            try:
                return await self._shared.run(self._newest_shared)
            except SharedStateDown:
                pass
        return list(reversed(self._entries.values()))

    def _key(self, summary_id: str) -> str:
        assert self._shared is not None
        return self._shared.key("summary", summary_id)

    async def _put(self, client: Redis, stored: StoredSummary) -> None:
        assert self._shared is not None
        index = self._shared.key("summaries")
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(stored.summary_id),
                mapping={
                    "text": stored.text,
                    "label": stored.label,
                    "assets": stored.assets,
                    "stored_at": stored.stored_at.isoformat(),
                },
            )
            pipe.expire(self._key(stored.summary_id), self._ttl_s)
            pipe.zadd(index, {stored.summary_id: stored.stored_at.timestamp()})
            pipe.zremrangebyrank(index, 0, -self.capacity - 1)
            pipe.expire(index, self._ttl_s)
            await pipe.execute()

    async def _newest_shared(self, client: Redis) -> list[StoredSummary]:
        assert self._shared is not None
        newest: list[Any] = await client.zrevrange(self._shared.key("summaries"), 0, self.capacity - 1)
        ids = [raw.decode() for raw in newest]
        async with client.pipeline(transaction=False) as pipe:
            for summary_id in ids:
                pipe.hgetall(self._key(summary_id))
            found = await pipe.execute()
        # An id whose summary expired is skipped (the index outlives no entry by more than one TTL).
        return [_from_fields(summary_id, fields) for summary_id, fields in zip(ids, found, strict=True) if fields]


def _from_fields(summary_id: str, fields: Mapping[Any, Any]) -> StoredSummary:
    return StoredSummary(
        summary_id=summary_id,
        text=fields[b"text"].decode(),
        label=fields[b"label"].decode(),
        assets=int(fields[b"assets"]),
        stored_at=datetime.fromisoformat(fields[b"stored_at"].decode()),
    )


def summary_label(
    source: str, *, stage: str | None, batch: str | None, annotator: str | None, top_k: int | None, detailed: bool
) -> str:
    """A short name for a summary that shows where it came from without revealing any secret in it, and
    the arguments that made it (`top_k` only when it is not the default)."""
    source = source.strip()
    if source.lower().startswith("ango:"):
        shown = source
    elif "://" in source:
        try:
            shown = f"an export from {httpx.URL(source).host}"
        except (httpx.InvalidURL, TypeError):
            shown = "an export URL"
    else:
        shown = PurePath(source).name or "a local export"
    parts = [f"{key}={value}" for key, value in (("stage", stage), ("batch", batch), ("annotator", annotator)) if value]
    parts += [f"top_k={top_k}"] if top_k is not None else []
    parts += ["detailed"] if detailed else []
    label = clean_upstream_text(shown, limit=LABEL_CHARS)
    return f"{label} ({', '.join(clean_upstream_text(p, limit=LABEL_CHARS) for p in parts)})" if parts else label
