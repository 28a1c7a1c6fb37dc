"""Helpers for driving tasklens through a real MCP client, and for counting tokens offline."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import bpe_openai
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from tasklens.server.app import build_server, in_process_sandbox
from tasklens.server.config import Config
from tasklens.server.sandbox import Sandbox

_ENCODING = bpe_openai.get_encoding("o200k_base")
SERVE_SANDBOX = [sys.executable, "-m", "tasklens.server", "serve", "--sandbox"]


def tokens(value: Any) -> int:
    """o200k_base tokens of a string, or of a value as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(_ENCODING.encode(text))


def sandbox_server(sandbox: Sandbox | None = None) -> MCPServer:
    """The real tasklens server wired to an in-process sandbox."""
    config, runtime = in_process_sandbox(Config(providers={}), sandbox)
    return build_server(config, runtime)


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def wire_json(result: CallToolResult) -> dict[str, Any]:
    """The result as it travels (camelCase, no Python-side None), minus the SDK's serverInfo stamp."""
    data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("_meta", None)
    return data


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
