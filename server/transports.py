"""Running the server on stdio (the default) or streamable HTTP at `/mcp`.

HTTP runs the SDK's Starlette app under uvicorn, wrapped by `tasklens.server.http_security`: the
Host/Origin allow-list for the bound port, and the bearer token when TASKLENS_HTTP_TOKEN is set.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp

from .app import build_server, in_process_sandbox
from .config import Config
from .http_security import BearerTokenGuard, LowercaseHostHeaders, exposure_warnings, transport_security

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
    import uvicorn  # HTTP only

    app: ASGIApp = LowercaseHostHeaders(
        server.streamable_http_app(
            transport_security=transport_security(host, port, config.http_allowed_hosts), host=host
        )
    )
    if config.http_token:
        app = BearerTokenGuard(app, config.http_token)
    for warning in exposure_warnings(host, config.http_token, config.http_allowed_hosts):
        logger.warning(warning)
    logger.info(
        "tasklens streamable HTTP on http://%s:%d/mcp%s",
        f"[{host}]" if ":" in host else host,
        port,
        " (bearer token required)" if config.http_token else "",
    )
    # log_config=None: uvicorn logs through the root logger to stderr like the rest (its default sends the
    # access log to stdout).
    await uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=config.log_level.lower(), log_config=None)
    ).serve()
