"""Building the tasklens `MCPServer`: its tools, its instructions, and the provider clients' lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.types import Tool as MCPTool
from mcp.types import ToolAnnotations

from tasklens.tools.app_state import AppState
from tasklens.tools.export.download import DownloadPolicy
from tasklens.tools.export.pipeline import ExportSettings
from tasklens.tools.get_task import get_task
from tasklens.tools.models import PROVIDERS, ProviderName
from tasklens.tools.providers import ProviderRegistry, ProviderSettings, Runtime
from tasklens.tools.summarize_export import summarize_export

from . import __version__
from .config import DEFAULT_REQUESTS_PER_MINUTE, Config
from .sandbox import SANDBOX_KEYS, Sandbox
from .schemas import tidy_schema, tool_description

logger = logging.getLogger("tasklens")

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=True)
INSTRUCTIONS = (
    "Read-only status of tasks on Ango Hub, Deepomatic, Send.ai and Moody's Maxsight. "
    "get_task gives one task's normalized state; waiting_on_human means a person must act, so report it "
    "instead of polling. summarize_export reads a whole Ango export into a compact summary. "
    "Errors say what to do next."
)
SANDBOX_SENDAI_DEFAULTS = {"team_id": "team_123456", "project_id": "proj_123456"}

RuntimeFactory = Callable[[ProviderName], Runtime]


def sandbox_providers(sandbox: Sandbox, origin: str = "http://sandbox") -> dict[ProviderName, ProviderSettings]:
    """Settings that point every provider at `sandbox` (served at `origin`) with its fixed keys."""
    return {
        name: ProviderSettings(
            name=name,
            api_key=SANDBOX_KEYS[name],
            base_url=sandbox.base_url(name, origin=origin),
            requests_per_minute=DEFAULT_REQUESTS_PER_MINUTE[name],
            defaults=SANDBOX_SENDAI_DEFAULTS if name == "sendai" else {},
            sandbox=True,
        )
        for name in PROVIDERS
    }


def in_process_sandbox(config: Config, sandbox: Sandbox | None = None) -> tuple[Config, RuntimeFactory]:
    """The config and transport that wire the server to an in-process sandbox (no sockets at all)."""
    sandbox = sandbox or Sandbox()
    transport = httpx.ASGITransport(app=sandbox)
    return replace(config, providers=sandbox_providers(sandbox), sandbox=True), lambda name: Runtime(
        transport=transport
    )


class TasklensServer(MCPServer):
    """`MCPServer` publishing tidy input schemas (see `tasklens.server.schemas`)."""

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        for tool in tools:
            tidy_schema(tool.input_schema)
        return tools


def build_server(config: Config, runtime: RuntimeFactory | None = None) -> MCPServer:
    """The MCP server with every tool registered. Provider clients open with it and close with it."""

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        registry = ProviderRegistry(config.providers, runtime)
        logger.info(
            "tasklens %s ready%s; providers configured: %s",
            __version__,
            " (sandbox)" if config.sandbox else "",
            ", ".join(registry.configured) or "none",
        )
        try:
            yield AppState(registry=registry, exports=export_settings(config, runtime))
        finally:
            await registry.aclose()

    server = TasklensServer("tasklens", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)
    server.add_tool(get_task, title="Get task", description=tool_description(get_task), annotations=READ_ONLY)
    server.add_tool(
        summarize_export,
        title="Summarize export",
        description=tool_description(summarize_export),
        annotations=READ_ONLY,
    )
    return server


def export_settings(config: Config, runtime: RuntimeFactory | None) -> ExportSettings:
    """What summarize_export may read. In sandbox mode the sandbox's own export links (http on this
    machine, or the in-process sandbox's transport) are allowed; nowhere else."""
    transport = runtime("ango").transport if (runtime is not None and config.sandbox) else None
    return ExportSettings(
        roots=config.export_roots,
        sandbox=config.sandbox,
        download=DownloadPolicy(sandbox=config.sandbox, sandbox_transport=transport),
    )
