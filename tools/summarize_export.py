"""The `summarize_export` tool: an Ango export of any size, read once in bounded memory, summarized."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from .app_state import app_state
from .export.accumulate import Filters
from .export.service import summarize
from .export.store import summary_label
from .export.summary import ExportSummary
from .results.task import ResponseFormat

Source = Annotated[str, Field(max_length=8192, description="file path, https URL, or ango:<project_id>")]
Filter = Annotated[str | None, Field(max_length=200)]
TopK = Annotated[int, Field(ge=1, le=50)]
DEFAULT_TOP_K = 10


async def summarize_export(
    source: Source,
    ctx: Context,
    stage: Filter = None,
    batch: Filter = None,
    annotator: Filter = None,
    top_k: TopK = DEFAULT_TOP_K,
    response_format: ResponseFormat = "concise",
) -> ExportSummary:
    """Summarize an Ango export (JSON or NDJSON, zip or gz; any size, one pass): labels per class, answers,
    workflow and review rates, people, consensus, anomalies. stage/batch/annotator keep matching assets
    (case-insensitive); lists are top_k; `approximate` names estimated figures.
    """
    state = app_state(ctx)

    async def progress(done: float, total: float | None, message: str | None) -> None:
        await ctx.report_progress(done, total, message)

    summary = await summarize(
        source,
        settings=state.exports,
        registry=state.registry,
        filters=Filters(stage=stage, batch=batch, annotator=annotator),
        top_k=top_k,
        detailed=response_format == "detailed",
        progress=progress,
    )
    label = summary_label(
        source,
        stage=stage,
        batch=batch,
        annotator=annotator,
        top_k=None if top_k == DEFAULT_TOP_K else top_k,
        detailed=response_format == "detailed",
    )
    summary = await state.summaries.add(summary, label)
    await ctx.notify_resources_changed()  # reaches subscriptions/listen streams (2026-07-28 clients)
    return summary
