"""Building the tasklens `MCPServer`: its tools, resources, instructions, and the provider clients' lifetime."""

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
from tasklens.tools.get_task import get_task
from tasklens.tools.models import PROVIDERS, ProviderName
from tasklens.tools.providers import ProviderRegistry, ProviderSettings, Runtime
from tasklens.tools.task_resource import TASK_MIME_TYPE, TASK_URI_TEMPLATE, read_task_resource

from . import __version__
from .config import DEFAULT_REQUESTS_PER_MINUTE, Config
from .sandbox import SANDBOX_KEYS, Sandbox
from .schemas import tidy_schema, tool_description

logger = logging.getLogger("tasklens")

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=True)
# Three lines an agent reads once per session: which tool answers which question.
INSTRUCTIONS = (
    "Read-only task status on Ango Hub, Deepomatic, Send.ai and Moody's Maxsight; errors say what to do next.\n"
    "get_task: a task's state now. get_task_history: how it got there (stages, people, times). "
    "poll_task: wait, bounded, for a running task to finish.\n"
    "summarize_export: an Ango export's counts and classes, not its raw file. "
    "waiting_on_human means a person must act: report it, don't poll."
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
            yield AppState(registry=registry)
        finally:
            await registry.aclose()

    server = TasklensServer("tasklens", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)
    server.add_tool(get_task, title="Get task", description=tool_description(get_task), annotations=READ_ONLY)
    server.resource(
        TASK_URI_TEMPLATE,
        name="task",
        title="Task state",
        description=tool_description(read_task_resource),
        mime_type=TASK_MIME_TYPE,
    )(read_task_resource)
    return server
