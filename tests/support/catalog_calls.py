"""Tool calls derived from `tools/list` and the sandbox CATALOG, so the robustness suites (hostile
arguments, secrets, fault soak) cover every tool the server lists, including tools added later.

A tool whose arguments are catalog fields (provider, task_id, team_id, project_id) gets one call per
catalog task; any other numeric argument is set to its schema minimum, so a tool that waits (a poller)
answers at once. A tool that needs something the catalog cannot supply (a file, a URL), or that some
providers refuse, is listed in EXTRA_CALLS by whoever adds it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.types import Tool

from tasklens.server.app import build_server, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.sandbox import CATALOG, Sandbox
from tasklens.tools.providers import Runtime

CATALOG_FIELDS = ("provider", "task_id", "team_id", "project_id", "history_id")


def _poll_calls() -> list[dict[str, Any]]:
    """poll_task takes a list of ids: one call per provider over its catalog tasks (wait_s=0 answers at once)."""
    calls = []
    for provider in sorted({entry.provider for entry in CATALOG}):
        entries = [entry for entry in CATALOG if entry.provider == provider]
        arguments: dict[str, Any] = {"provider": provider, "task_ids": [e.task_id for e in entries], "wait_s": 0}
        if entries[0].team_id:
            arguments |= {"team_id": entries[0].team_id, "project_id": entries[0].project_id}
        calls.append(arguments)
    return calls


EXTRA_CALLS: dict[str, list[dict[str, Any]]] = {
    "poll_task": _poll_calls(),
    # the sandbox's Ango project, exported through the API and downloaded from the sandbox's own URL
    "summarize_export": [{"source": "ango:645240ed462db80015ce881f", "top_k": 3}],
    # the providers that list tasks (Send.ai and Deepomatic document no listing: their calls are refused)
    "find_tasks": [
        {"provider": "ango", "project_id": "645240ed462db80015ce881f", "limit": 1},
        {"provider": "maxsight", "limit": 1},
    ],
}
"""tool name -> argument sets that succeed on the sandbox, for tools the catalog cannot drive (these
replace the calls derived from the catalog)."""


def catalog_calls(tool: Tool) -> list[dict[str, Any]]:
    """Argument sets for `tool` that should succeed on the sandbox (empty if it cannot be driven)."""
    schema = tool.input_schema
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if tool.name in EXTRA_CALLS:
        return list(EXTRA_CALLS[tool.name])
    calls: list[dict[str, Any]] = []
    for entry in CATALOG:
        arguments: dict[str, Any] = {}
        for field in CATALOG_FIELDS:
            value = getattr(entry, field)
            if field in properties and value is not None:
                arguments[field] = value
        for name, prop in properties.items():
            if name not in arguments and prop.get("type") in ("integer", "number") and "minimum" in prop:
                arguments[name] = prop["minimum"]
        if arguments and required <= set(arguments):
            calls.append(arguments)
    return calls


def unthrottled_server(sandbox: Sandbox, runtime: Runtime | None = None, origin: str = "http://sandbox") -> MCPServer:
    """The real server on `sandbox` without tasklens' own rate limiter (suites make thousands of calls in
    seconds; the limiter has its own tests). In process by default; pass `origin` and a runtime without a
    transport to go over real loopback HTTP."""
    runtime = runtime or Runtime(transport=httpx.ASGITransport(app=sandbox))
    providers = {
        name: replace(settings, requests_per_minute=None)
        for name, settings in sandbox_providers(sandbox, origin=origin).items()
    }
    return build_server(Config(providers=providers, sandbox=True), lambda name: runtime)
