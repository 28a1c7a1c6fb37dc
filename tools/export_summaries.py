"""The last few summarize_export results, kept in memory for the `export-summary://` resources.

The id is a short hash of the summary itself: summarizing the same export with the same filters again
gives the same URI (and refreshes it instead of filling the store with copies), and a URI kept from an
earlier server process can only find that same content or fail cleanly, never another summary.
Nothing is written to disk: a restarted server has none. The store belongs to the server, not to a
session: in the 2026-07-28 protocol there are no sessions, and tasklens serves one team (one set of
provider keys, one HTTP token).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp.types import Annotations
from mcp.types import Resource as MCPResource

from .compact import compact_json
from .export.summary import ExportSummary

SUMMARY_SCHEME = "export-summary://"
SUMMARY_MIME_TYPE = "application/json"
LATEST = "latest"
CAPACITY = 8
ID_HEX = 12  # 48 bits: ample for 8 entries, short enough to read and type


@dataclass(frozen=True)
class StoredSummary:
    summary_id: str
    text: str  # exactly the JSON the tool returned
    label: str  # what the listing may show: no directories, no URL path or query
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

    def listing(self) -> list[MCPResource]:
        """The stored summaries as resources/list entries, newest first."""
        return [
            MCPResource(
                uri=entry.uri,
                name=f"export-summary-{entry.summary_id}",
                title=f"Export summary: {entry.label}",
                description=f"summarize_export result, {entry.assets} assets",
                mime_type=SUMMARY_MIME_TYPE,
                size=len(entry.text.encode()),
                annotations=Annotations(last_modified=entry.stored_at.isoformat(timespec="seconds")),
            )
            for entry in reversed(self._entries.values())
        ]


