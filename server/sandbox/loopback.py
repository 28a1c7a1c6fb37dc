"""Serve a sandbox on a real loopback socket, for tests that need real HTTP.

Some failures only exist on the wire: a body shorter than its ``Content-Length``, a connection
closed before any response, a read timeout. In-process ``httpx.ASGITransport`` cannot show them,
so :func:`serve_on_loopback` runs uvicorn (h11) in a background thread and yields its origin.

Two sandbox faults are translated here, because only the server layer can do them:

* ``truncated`` - the sandbox marks the response; this wrapper sends the partial body, then
  aborts, so uvicorn closes the socket mid-body. The client sees
  ``httpx.RemoteProtocolError`` ("peer closed connection without sending complete message body").
* ``reset`` - the sandbox raises :class:`~.faults.SimulatedDisconnect` before responding; this
  wrapper makes uvicorn close the socket without writing a byte. The client sees
  ``httpx.RemoteProtocolError`` ("Server disconnected without sending a response."). It is a
  clean close (FIN), not a TCP RST: ASGI gives no access to the socket to force one.

uvicorn logs such deliberate aborts as "Exception in ASGI application"; a logging filter drops
exactly those records (matched by exception type) and nothing else.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from .asgi import TRUNCATED_MARK, ASGIApp, Receive, Scope, Send
from .faults import SimulatedDisconnect

__all__ = ["serve_on_loopback"]


class _DeliberateAbort(SimulatedDisconnect):
    """Raised by the wrapper to make uvicorn drop the connection; filtered from the logs."""


class _DropDeliberateAborts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDisconnect)


_FILTER = _DropDeliberateAborts()


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


def _wire_faults(app: ASGIApp) -> ASGIApp:
    """Wrap the sandbox so that its ``truncated`` and ``reset`` faults become real socket events."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        truncating = False

        async def guarded_send(message: Any) -> None:
            nonlocal truncating
            if message["type"] == "http.response.start" and message.pop(TRUNCATED_MARK, False):
                truncating = True
            if truncating and message["type"] == "http.response.body":
                await send({**message, "more_body": True})
                raise _DeliberateAbort("sandbox fault: body truncated")
            await send(message)

        try:
            await app(scope, receive, guarded_send)
        except _DeliberateAbort:
            raise
        except SimulatedDisconnect as exc:
            # uvicorn marks the response as started before validating it; an invalid header value
            # therefore makes it close the connection without writing a status line.
            try:
                await send({"type": "http.response.start", "status": 200, "headers": [(b"x-sandbox-reset", b"\r\n")]})
            except Exception:  # noqa: BLE001 - the expected outcome of the invalid header
                pass
            raise _DeliberateAbort(str(exc)) from exc

    return wrapped


@asynccontextmanager
async def serve_on_loopback(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` (normally a :class:`~.app.Sandbox`) on ``host:port`` (0 = any free port) in a
    background thread and yield its origin, e.g. ``"http://127.0.0.1:53121"``; stops on exit."""
    import uvicorn  # only needed for real sockets; keep it out of in-process use

    _install_log_filter()
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on accepted sockets of that proto, and
    # without it uvicorn's separate header and body writes stall ~40 ms on delayed ACKs (keep-alive).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        _wire_faults(app),
        http="h11",
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"sandbox-loopback-{bound_port}", daemon=True)
    thread.start()
    try:
        with anyio.fail_after(10):
            while not server.started:
                if failure or not thread.is_alive():
                    raise RuntimeError("sandbox loopback server failed to start") from (failure[0] if failure else None)
                await anyio.sleep(0.01)
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        await anyio.to_thread.run_sync(thread.join, 10)
        sock.close()
