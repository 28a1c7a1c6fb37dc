"""Running the server on stdio (the default) or streamable HTTP at `/mcp`.

Stdio reads the client's lines on a daemon thread of its own, so stopping the server (Ctrl-C, the end
of the event loop) never waits for a read that may never return: the SDK's own reader blocks a worker
thread that cancellation must wait for, which keeps a Ctrl-C'd server alive until the next line of
input.

HTTP binds its socket before anything else starts, so a busy port is one sentence and exit code 3 rather
than uvicorn's startup log and error; then it runs the SDK's Starlette app under uvicorn on that socket,
wrapped by `tasklens.server.http_security`: the Host/Origin allow-list for the bound port, and the bearer
token when TASKLENS_HTTP_TOKEN is set, or `tasklens.server.oauth` (JWT access tokens from an authorization
server) when TASKLENS_OAUTH_ISSUER is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import io
import logging
import os
import socket
import threading
from typing import BinaryIO

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp

from .app import TasklensServer, build_server, in_process_sandbox, shared_sandbox
from .config import Config
from .http_security import BearerTokenGuard, LowercaseHostHeaders, exposure_warnings, transport_security
from .oauth import default_resource, metadata_url, protect
from .operations import HealthRoutes, RequestIds

logger = logging.getLogger("tasklens")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
GRACE_S = 60  # seconds in-flight HTTP calls get to finish after SIGTERM (poll_task waits up to 50 s)
STDIN_BACKLOG = 16  # lines read ahead of the server; the reader waits when they are not taken


LISTEN_ERRNOS = (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)


class ListenError(OSError):
    """The HTTP socket cannot be bound; the message says which address and what to do."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (0 picks a free port), or `ListenError` in one sentence."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise ListenError(f"cannot listen on {host}:{port}: {listen_failure(error)}.") from error
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {listen_failure(error)}.") from error
    return sock


def listen_failure(error: OSError) -> str:
    """Why a socket could not listen, and what to do, without the errno prefix."""
    if error.errno == errno.EADDRINUSE:
        return "the port is in use (another tasklens, or another program); choose another with --port"
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose a port above 1024 with --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address; use --host 127.0.0.1 or one of its own addresses"
    if isinstance(error, socket.gaierror):
        return "the host name does not resolve; use an IP address or a name this machine knows"
    return error.strerror or str(error)


async def serve(config: Config, sock: socket.socket | None = None, host: str = DEFAULT_HOST) -> None:
    """Serve on stdio until stdin closes, or over HTTP on `sock` (from `listen(host, …)`) until interrupted."""
    runtime = None
    if config.sandbox and config.sandbox_url:
        config = shared_sandbox(config, config.sandbox_url)
    elif config.sandbox:
        config, runtime = in_process_sandbox(config)
    if not config.export_roots:
        logger.warning(
            "summarize_export reads no local files: the working directory (%s) is not a safe default root; "
            "set TASKLENS_EXPORT_ROOTS to the folders exports may be read from",
            os.getcwd(),
        )
    server = build_server(config, runtime)
    if sock is None:
        await serve_stdio(server)
    else:
        await serve_http(server, config, sock, host)


async def serve_stdio(server: MCPServer) -> None:
    """The MCP session over this process's stdin and stdout."""
    async with stdio_server(stdin=_StdinLines()) as (read_stream, write_stream):
        # MCPServer.run_stdio_async is these lines with the SDK's own stdin reader.
        lowlevel = server._lowlevel_server  # noqa: SLF001 - the public run_stdio_async takes no streams
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


class _StdinLines(anyio.AsyncFile[str]):
    """stdin's lines (UTF-8, undecodable bytes replaced) read on a daemon thread.

    The thread hands each line to the event loop and waits for room, so it reads at most
    `STDIN_BACKLOG` lines ahead. A process whose stdin is closed reads end of input at once."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())  # every read goes through `readline` below
        self._lines: asyncio.Queue[str] = asyncio.Queue(STDIN_BACKLOG)
        self._loop = asyncio.get_running_loop()
        try:
            stream = os.fdopen(os.dup(0), "rb")
        except OSError:  # stdin closed (`tasklens <&-`): nothing will ever arrive
            self._lines.put_nowait("")
            return
        threading.Thread(target=self._read, args=(stream,), name="tasklens-stdin", daemon=True).start()

    def _read(self, stream: BinaryIO) -> None:
        try:
            with stream:
                for line in iter(stream.readline, b""):
                    if not self._hand_over(line.decode("utf-8", errors="replace")):
                        return
        except (OSError, ValueError):
            pass
        self._hand_over("")

    def _hand_over(self, line: str) -> bool:
        """Queue `line` for the server; False once the event loop has stopped and nobody reads."""
        try:
            asyncio.run_coroutine_threadsafe(self._lines.put(line), self._loop).result()
        except (RuntimeError, concurrent.futures.CancelledError):  # loop closed, or its tasks cancelled
            return False
        return True

    async def readline(self) -> str:
        return await self._lines.get()


async def serve_http(server: MCPServer, config: Config, sock: socket.socket, host: str) -> None:
    """Streamable HTTP at /mcp on the bound `sock`; `host` is what the person asked for (a name or an address)."""
    import uvicorn  # HTTP only

    port = sock.getsockname()[1]
    app: ASGIApp = LowercaseHostHeaders(
        server.streamable_http_app(
            transport_security=transport_security(host, port, config.http_allowed_hosts), host=host
        )
    )
    required = ""
    if config.http_token:
        app = BearerTokenGuard(app, config.http_token)
        required = " (bearer token required)"
    elif config.oauth is not None:
        resource = config.oauth.resource or default_resource(host, port)
        app = protect(app, config.oauth, resource)
        required = f" (OAuth tokens from {config.oauth.issuer} required; metadata at {metadata_url(resource)})"
    configured = [name for name, settings in config.providers.items() if settings.configured]
    app = RequestIds(HealthRoutes(app, configured, server.shared if isinstance(server, TasklensServer) else None))
    for warning in exposure_warnings(host, config.http_token, config.http_allowed_hosts, oauth=config.oauth):
        logger.warning(warning)
    logger.info("tasklens streamable HTTP on http://%s:%d/mcp%s", f"[{host}]" if ":" in host else host, port, required)
    # log_config=None: uvicorn logs through the root logger to stderr like the rest (its default sends the
    # access log to stdout).
    # On SIGTERM uvicorn stops accepting, lets in-flight calls finish for up to GRACE_S, then exits.
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=config.log_level.lower(),
        log_config=None,
        timeout_graceful_shutdown=GRACE_S,
    )
    await uvicorn.Server(settings).serve(sockets=[sock])
