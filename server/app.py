"""Building the tasklens `MCPServer`: its tools, resources, instructions, and the provider clients' lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from mcp.types import Resource as MCPResource
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from tasklens.tools.app_state import AppState
from tasklens.tools.errors import clean_upstream_text
from tasklens.tools.export.download import DownloadPolicy, origin_of
from tasklens.tools.export.helpers import HelperPool
from tasklens.tools.export.pipeline import ExportSettings
from tasklens.tools.export.store import SUMMARY_MIME_TYPE, SummaryStore
from tasklens.tools.find_tasks import find_tasks
from tasklens.tools.get_task import get_task
from tasklens.tools.get_task_history import get_task_history
from tasklens.tools.poll_task import poll_task
from tasklens.tools.providers import SPECS, ProviderRegistry, ProviderSettings, Runtime
from tasklens.tools.providers.spec import in_words
from tasklens.tools.results.provider_name import ProviderName
from tasklens.tools.shared.link import SharedLink
from tasklens.tools.summarize_export import summarize_export

from . import __version__
from .argument_errors import argument_error
from .config import Config
from .resources import (
    SUMMARY_URI_TEMPLATE,
    TASK_MIME_TYPE,
    TASK_URI_TEMPLATE,
    read_export_summary,
    read_task_resource,
    summary_resources,
)
from .results import as_mcp_tool
from .sandbox import SANDBOX_KEYS, Sandbox
from .schemas import tidy_schema, tool_description

logger = logging.getLogger("tasklens")

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# Three lines an agent reads once per session: which tool answers which question.
INSTRUCTIONS = (
    f"Read-only task status on {in_words([spec.label for spec in SPECS], 'and')}; errors say what to do next.\n"
    "get_task: a task's state now. get_task_history: how it got there (stages, people, times). "
    "poll_task: wait, bounded, for a running task to finish. find_tasks: which tasks match a state, stage "
    "or assignee, counted.\n"
    "summarize_export: an Ango export's counts and classes, not its raw file. "
    "waiting_on_human means a person must act: report it, don't poll."
)

RuntimeFactory = Callable[[ProviderName], Runtime]


def sandbox_providers(sandbox: Sandbox, origin: str = "http://sandbox") -> dict[ProviderName, ProviderSettings]:
    """Settings that point every provider at `sandbox` (served at `origin`) with its fixed keys."""
    return {
        spec.name: ProviderSettings(
            name=spec.name,
            api_key=SANDBOX_KEYS[spec.name],
            base_url=sandbox.base_url(spec.name, origin=origin),
            requests_per_minute=spec.requests_per_minute,
            defaults=spec.sandbox_defaults,
            sandbox=True,
        )
        for spec in SPECS
    }


def shared_sandbox(config: Config, origin: str) -> Config:
    """The config that points every provider at the `tasklens sandbox` running at `origin`, which several
    replicas can share (its request log then shows what all of them sent)."""
    return replace(config, providers=sandbox_providers(Sandbox(), origin), sandbox=True)


def in_process_sandbox(config: Config, sandbox: Sandbox | None = None) -> tuple[Config, RuntimeFactory]:
    """The config and transport that wire the server to an in-process sandbox (no sockets at all)."""
    sandbox = sandbox or Sandbox()
    transport = httpx.ASGITransport(app=sandbox)
    return replace(config, providers=sandbox_providers(sandbox), sandbox=True), lambda name: Runtime(
        transport=transport
    )


class TasklensServer(MCPServer):
    """`MCPServer` publishing tidy input schemas (see `tasklens.server.schemas`), answering a call
    that does not fit them with one short sentence built from the schema, never from what was sent,
    and listing the summarize_export results it keeps as resources.

    The SDK's resource manager can add concrete resources but not remove them, so the kept summaries
    are not registered there: resources/list reads the store each time, and the
    `export-summary://{summary_id}` template reads them back."""

    def __init__(self, *args: Any, summaries: SummaryStore, shared: SharedLink | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.summaries = summaries
        self.shared = shared

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *await summary_resources(self.summaries)]

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        for tool in tools:
            tidy_schema(tool.input_schema)
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        tool = self._tool_manager.get_tool(name)
        if tool is None:  # the SDK would quote the whole name back, however long or odd
            names = ", ".join(t.name for t in self._tool_manager.list_tools())
            raise ToolError(f"Unknown tool {clean_upstream_text(name, limit=60)!r}; the tools are {names}.")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            # Exactly the SDK's argument-validation failure: a plain ToolError caused by the
            # ValidationError of the arguments model (output-conversion failures are UnexpectedToolError).
            if type(error) is ToolError and isinstance(error.__cause__, ValidationError):
                raise ToolError(argument_error(name, error.__cause__, tool.parameters)) from error.__cause__
            raise


def build_server(config: Config, runtime: RuntimeFactory | None = None) -> MCPServer:
    """The MCP server with every tool registered. Provider clients open with it and close with it."""

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        registry = ProviderRegistry(config.providers, runtime, shared=shared)
        logger.info(
            "tasklens %s ready%s; providers configured: %s%s",
            __version__,
            " (sandbox)" if config.sandbox else "",
            ", ".join(registry.configured) or "none",
            f"; shared state in Redis at {shared.location} ({config.replicas} replicas)" if shared else "",
        )
        exports = export_settings(config, runtime)
        try:
            yield AppState(registry=registry, exports=exports, summaries=summaries)
        finally:
            exports.close()
            await registry.aclose()
            if shared is not None:
                await shared.aclose()

    # Both outlive lifespans: one per server, shared by its sessions (and, through Redis, by its replicas).
    shared = SharedLink(config.redis_url, replicas=config.replicas) if config.redis_url else None
    summaries = SummaryStore(shared=shared)
    server = TasklensServer(
        "tasklens",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        summaries=summaries,
        shared=shared,
    )
    for fn, title in (
        (get_task, "Get task"),
        (get_task_history, "Get task history"),
        (poll_task, "Poll tasks"),
        (summarize_export, "Summarize export"),
        (find_tasks, "Find tasks"),
    ):
        server.add_tool(as_mcp_tool(fn), title=title, description=tool_description(fn), annotations=READ_ONLY)
    server.resource(
        TASK_URI_TEMPLATE,
        name="task",
        title="Task state",
        description=tool_description(read_task_resource),
        mime_type=TASK_MIME_TYPE,
    )(read_task_resource)
    server.resource(
        SUMMARY_URI_TEMPLATE,
        name="export-summary",
        title="Export summary",
        description=tool_description(read_export_summary),
        mime_type=SUMMARY_MIME_TYPE,
    )(read_export_summary)
    return server


def export_settings(config: Config, runtime: RuntimeFactory | None) -> ExportSettings:
    """What summarize_export may read, and its helper processes (started on first use, stopped with the
    server). Links on the configured Ango API origin are trusted as they are (the user chose that host;
    an on-premise Hub serves its exports there). In sandbox mode that origin is the sandbox's
    (in-process, or its loopback port), and no other local origin is trusted."""
    transport = runtime("ango").transport if (runtime is not None and config.sandbox) else None
    ango = config.providers.get("ango")
    origin = origin_of(ango.base_url) if ango is not None and ango.base_url else None
    return ExportSettings(
        roots=config.export_roots,
        sandbox=config.sandbox,
        download=DownloadPolicy(
            trusted_origins=frozenset({origin} if origin else ()),
            sandbox_transport=transport,
        ),
        helpers=HelperPool() if config.export_helper else None,
    )
