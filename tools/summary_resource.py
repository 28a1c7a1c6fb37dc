"""The `export-summary://{summary_id}` resources: the last summarize_export results, for clients that
attach resources rather than call tools.

A summary can take minutes to compute (a multi-gigabyte export, or an Ango project export built on
request), and putting it in front of the model again should not mean computing it again. The server
keeps its last results (`tasklens.tools.export_summaries`), as the exact compact JSON the tool
returned, lists them in resources/list and serves them here; `export-summary://latest` is the newest.

What the listing shows must not leak what a source may hide: a signed export URL is a credential, in
its query string and sometimes in its path, so a URL is shown by its host only, and a local path by
its file name only (no directories). The summary's own `source` field is the tool's, unchanged.
"""

from __future__ import annotations

from pathlib import PurePath

import httpx
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from .app_state import app_state
from .errors import clean_upstream_text
from .export_summaries import SUMMARY_MIME_TYPE, SUMMARY_SCHEME

SUMMARY_URI_TEMPLATE = SUMMARY_SCHEME + "{summary_id}"
LABEL_CHARS = 60

__all__ = ["SUMMARY_MIME_TYPE", "SUMMARY_URI_TEMPLATE", "read_export_summary", "summary_label"]


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


async def read_export_summary(summary_id: str, ctx: Context) -> str:
    """One of the last 8 summarize_export results, as the JSON the tool returned; `latest` is the newest."""
    store = app_state(ctx).summaries
    entry = store.get(summary_id)
    if entry is None:
        raise ResourceNotFoundError(
            f"No export summary {clean_upstream_text(summary_id, limit=40)!r} is kept (the server keeps its last "
            f"{store.capacity} in memory); run summarize_export again."
        )
    return entry.text
