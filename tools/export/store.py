"""The last few summarize_export results, kept in memory for the `export-summary://` resources.

The id is a short hash of the summary itself: summarizing the same export with the same filters again
gives the same URI (and refreshes it instead of filling the store with copies), and a URI kept from an
earlier server process can only find that same content or fail cleanly, never another summary.
Nothing is written to disk: a restarted server has none. The store belongs to the server, not to a
session: in the 2026-07-28 protocol there are no sessions, and tasklens serves one team (one set of
provider keys, one HTTP token).

What a listing shows must not leak what a source may hide: a signed export URL is a credential, in
its query string and sometimes in its path, so a URL is labelled by its host only, and a local path by
its file name only (no directories). The summary's own `source` field is the tool's, unchanged.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

import httpx

from ..errors import clean_upstream_text
from ..results.compact import compact_json
from .summary import ExportSummary

SUMMARY_SCHEME = "export-summary://"
SUMMARY_MIME_TYPE = "application/json"
LATEST = "latest"
CAPACITY = 8
ID_HEX = 12  # 48 bits: ample for 8 entries, short enough to read and type
LABEL_CHARS = 60


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
    """The last `capacity` summaries, newest last; adding a known one moves it to the end."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, StoredSummary] = OrderedDict()

    def add(self, summary: ExportSummary, label: str) -> ExportSummary:
        """Keep `summary` and return it carrying its `resource` URI (what the tool then returns)."""
        summary_id = hashlib.sha256(compact_json(summary).encode()).hexdigest()[:ID_HEX]
        published = summary.model_copy(update={"resource": SUMMARY_SCHEME + summary_id})
        self._entries.pop(summary_id, None)
        self._entries[summary_id] = StoredSummary(
            summary_id=summary_id,
            text=compact_json(published),
            label=label,
            assets=summary.assets,
            stored_at=datetime.now(UTC),
        )
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return published

    def get(self, summary_id: str) -> StoredSummary | None:
        if summary_id == LATEST:
            return next(reversed(self._entries.values()), None)
        return self._entries.get(summary_id)

    def newest_first(self) -> list[StoredSummary]:
        """The stored summaries, newest first: the order a listing shows them in."""
        return list(reversed(self._entries.values()))


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
