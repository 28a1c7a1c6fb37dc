"""What the tools need from the running server, handed to them through the MCP lifespan context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .export.pipeline import ExportSettings
from .export.store import SummaryStore
from .providers import ProviderRegistry


@dataclass
class AppState:
    """Lives for the server's lifetime: the provider clients (one pooled HTTP client each), what
    summarize_export may read, and its last results (the export-summary:// resources)."""

    registry: ProviderRegistry
    exports: ExportSettings = field(default_factory=ExportSettings)
    summaries: SummaryStore = field(default_factory=SummaryStore)


def app_state(ctx: Any) -> AppState:
    """The `AppState` of the server handling this call, from its request context's lifespan context.

    `ctx` is the SDK's request `Context`; it is read by attribute so that the domain does not import
    the protocol library."""
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):
        raise RuntimeError("tasklens tools need the server built by tasklens.server.app.build_server")
    return state
