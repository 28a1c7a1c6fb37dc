"""Running the server on stdio (the default) or streamable HTTP at `/mcp`."""

from __future__ import annotations

import logging

from .app import build_server, in_process_sandbox
from .config import Config

logger = logging.getLogger("tasklens")


async def serve(config: Config, http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until stdin closes (stdio) or the process is interrupted (HTTP)."""
    runtime = None
    if config.sandbox:
        config, runtime = in_process_sandbox(config)
    server = build_server(config, runtime)
    if not http:
        await server.run_stdio_async()
        return
    logger.info("tasklens streamable HTTP on http://%s:%d/mcp", host, port)
    await server.run_streamable_http_async(host=host, port=port)
