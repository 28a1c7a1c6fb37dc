"""Running the export reader in-process on bytes, the way the tests need it (no MCP, no files)."""

from __future__ import annotations

import json
from typing import Any

from tasklens.tools.export.accumulate import Filters
from tasklens.tools.export.pipeline import ExportReader
from tasklens.tools.export.summary import build_summary
from tasklens.tools.export.unpack import Limits
from tasklens.tools.results.compact import compact_json


def read_bytes(
    data: bytes, *, chunk: int = 1 << 16, filters: Filters | None = None, limits: Limits | None = None
) -> ExportReader:
    reader = ExportReader(filters, limits)
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
    reader.finish()
    return reader


def summary_of(
    data: bytes,
    *,
    chunk: int = 1 << 16,
    filters: Filters | None = None,
    top_k: int = 50,
    detailed: bool = True,
    source: str = "x",
) -> dict[str, Any]:
    """The summary's wire JSON for an export held in memory."""
    reader = read_bytes(data, chunk=chunk, filters=filters)
    summary = build_summary(
        reader.accumulator,
        source=source,
        top_k=top_k,
        detailed=detailed,
        unreadable=(reader.unreadable.count, reader.unreadable.first_offset),
    )
    return json.loads(compact_json(summary))
