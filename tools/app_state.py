"""What the tools need from the running server, handed to them through the MCP lifespan context."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcp.server.mcpserver import Context

from .export.pipeline import ExportSettings
from .export_summaries import SummaryStore
from .providers import ProviderRegistry


@dataclass
class AppState:
    """Lives for the server's lifetime: the provider clients (one pooled HTTP client each), what
    summarize_export may read, and its last results (the export-summary:// resources)."""

    registry: ProviderRegistry
    exports: ExportSettings = field(default_factory=ExportSettings)
    summaries: SummaryStore = field(default_factory=SummaryStore)


def app_state(ctx: Context) -> AppState:
    """The `AppState` of the server handling this tool call."""
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):
        raise RuntimeError("tasklens tools need the server built by tasklens.server.app.build_server")
    return state
