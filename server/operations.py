"""What operating tasklens behind a load balancer needs: health endpoints, request ids, JSON logs.

* `GET /healthz` answers 200 while the process serves HTTP (liveness); `GET /readyz` answers 200 when
  at least one provider is configured and Redis (when set) answers, 503 with the reason otherwise
  (readiness). Both are served
  before the bearer-token check, since probes carry no credentials, and say nothing secret.
* Every HTTP request gets a request id (the caller's `X-Request-Id` when it is a short token, else a
  new one), echoed in the response and attached to every log line written while it is handled.
* `TASKLENS_LOG_FORMAT=json` writes one JSON object per log line to stderr (time, level, logger,
  message, request_id, and `subject`: the verified `sub` of the OAuth token the request carried), for
  log collectors; the default stays plain text.

Both ids live in contextvars set by ASGI middleware and reach each record through a logging filter on
the handler, so code under `tasklens.tools` (the HTTP policy's line per upstream request) logs plainly
and still says which request, and which caller, it served. The SDK carries the request's context into
the task that runs the tool.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasklens.tools.shared.link import SharedLink

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("tasklens_request_id", default=None)
SUBJECT: contextvars.ContextVar[str | None] = contextvars.ContextVar("tasklens_subject", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.subject = SUBJECT.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: what a log collector indexes without parsing text."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        subject = getattr(record, "subject", None)
        if subject:
            line["subject"] = subject
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr (stdout belongs to the protocol under stdio), as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_RequestContextFilter())
    logging.basicConfig(level=level, handlers=[handler])
    # httpcore's DEBUG lines carry raw request and response headers (a `Location:` can echo a key).
    logging.getLogger("httpcore").setLevel(logging.WARNING)


class RequestIds:
    """ASGI middleware: a request id per HTTP request, in the logs' context and the `X-Request-Id` reply."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class HealthRoutes:
    """ASGI middleware answering `GET /healthz` and `GET /readyz` itself; everything else goes on."""

    def __init__(self, app: ASGIApp, configured: Sequence[str], shared: SharedLink | None = None) -> None:
        self.app = app
        self._configured = list(configured)
        self._shared = shared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") else None
        if path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            if not self._configured:
                reason = "no provider is configured: set a provider's API key (see tasklens doctor), or run --sandbox"
                await send_json(send, 503, {"status": "not ready", "reason": reason})
            elif self._shared is not None and not await self._shared.ping():
                reason = (
                    f"Redis at {self._shared.location} is unreachable: this replica serves on its own share of each "
                    "provider's rate (after one window of none) until it answers"
                )
                await send_json(send, 503, {"status": "not ready", "reason": reason})
            else:
                await send_json(send, 200, {"status": "ready", "providers": self._configured})
        else:
            await self.app(scope, receive, send)


async def send_json(
    send: Send, status: int, body: Mapping[str, object], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A whole JSON response from middleware that answers before the app: never cached, sized up front."""
    payload = json.dumps(body).encode()
    start = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": payload})
