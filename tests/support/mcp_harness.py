"""Helpers for driving tasklens through a real MCP client, for reading the sandbox's raw provider
answers the way a bare HTTP client would, and for counting tokens offline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import bpe_openai
import httpx
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from tasklens.server.app import build_server, in_process_sandbox
from tasklens.server.config import Config
from tasklens.server.sandbox import SANDBOX_KEYS, CatalogEntry, ManualClock, Sandbox

_ENCODING = bpe_openai.get_encoding("o200k_base")
SERVE_SANDBOX = [sys.executable, "-m", "tasklens.server", "serve", "--sandbox"]
# Raw streamable-HTTP requests, for tests that look below the MCP client (status codes, headers).
LEGACY_POST = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
MAXSIGHT_TASK = {"provider": "maxsight", "task_id": "497f6eca-6276-4993-bfeb-53cbbbba6f08"}


def tokens(value: Any) -> int:
    """o200k_base tokens of a string, or of a value as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(_ENCODING.encode(text))


def sandbox_server(sandbox: Sandbox | None = None) -> MCPServer:
    """The real tasklens server wired to an in-process sandbox."""
    config, runtime = in_process_sandbox(Config(providers={}), sandbox)
    return build_server(config, runtime)


@asynccontextmanager
async def client_and_raw_http() -> AsyncIterator[tuple[Client, httpx.AsyncClient]]:
    """A real MCP client on the tasklens server, and a plain HTTP client on the same sandbox's raw API
    (the independent side of a comparison), both on a manual clock."""
    sandbox = Sandbox(clock=ManualClock())
    async with (
        Client(sandbox_server(sandbox), mode="auto") as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http,
    ):
        yield client, http


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def wire_json(result: CallToolResult) -> dict[str, Any]:
    """The result as it travels (camelCase, no Python-side None), minus the SDK's serverInfo stamp."""
    data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("_meta", None)
    return data


async def wait_for_http(url: str, process: subprocess.Popen[Any] | None = None, timeout_s: float = 20) -> None:
    """Wait until something answers HTTP at `url`; fail early if `process` (the server) has exited."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as probe:
        while True:
            try:
                await probe.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                    raise AssertionError(f"nothing answered at {url}") from None
                await anyio.sleep(0.1)


# Each provider's documented task path and auth header, written out here independently of the clients.
RAW_TASK_PATHS = {
    "deepomatic": "/deepomatic/v0.7/tasks/{task_id}/",
    "sendai": "/sendai/v2/{team_id}/project/{project_id}/task/{task_id}",
    "maxsight": "/maxsight/v5/tasks/{task_id}",
    "ango": "/ango/v2/task/{task_id}",
}
AUTH_HEADERS = {
    "deepomatic": {"X-API-KEY": SANDBOX_KEYS["deepomatic"]},
    "sendai": {"Authorization": f"Bearer {SANDBOX_KEYS['sendai']}"},
    "maxsight": {"apikey": SANDBOX_KEYS["maxsight"]},
    "ango": {"apikey": SANDBOX_KEYS["ango"]},
}


async def raw_task(http: httpx.AsyncClient, entry: CatalogEntry, *, ango_answers: bool) -> Any:
    """The provider's whole JSON answer for a catalog task, envelope included, as upstream sends it."""
    path = RAW_TASK_PATHS[entry.provider].format(
        task_id=entry.task_id, team_id=entry.team_id, project_id=entry.project_id
    )
    params = {"includeAnswer": "true" if ango_answers else "false"} if entry.provider == "ango" else None
    response = await http.get(path, headers=AUTH_HEADERS[entry.provider], params=params)
    response.raise_for_status()
    return response.json()
