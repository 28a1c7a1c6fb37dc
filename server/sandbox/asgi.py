"""The small slice of ASGI the sandbox needs: a parsed request and a buffered response.

The sandbox is plain ASGI (no framework) so that it can be mounted anywhere, driven in-process by
``httpx.ASGITransport`` and served by uvicorn without a web-framework dependency. Path parameters
are taken from ``scope["raw_path"]`` and percent-decoded *per segment*, because that is what makes
an id containing an encoded ``/`` (``%2F``) stay one segment instead of being re-routed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "ASGIApp",
    "Receive",
    "Request",
    "Response",
    "Scope",
    "Send",
    "read_body",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    """An HTTP request as the sandbox routes see it.

    ``segments`` are the percent-decoded segments of the raw path; a trailing ``/`` shows up as a
    final empty segment so that Deepomatic's slash rules can be checked exactly.
    """

    method: str
    raw_path: bytes
    segments: tuple[str, ...]
    query: str
    params: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    scheme: str
    host: str
    root_path: str

    @classmethod
    def from_scope(cls, scope: Scope, body: bytes) -> Request:
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
        raw_path = raw_path.split(b"?", 1)[0]
        text = raw_path.decode("latin-1")
        parts = text.split("/")[1:] if text.startswith("/") else text.split("/")
        segments = tuple(unquote(p, encoding="utf-8", errors="replace") for p in parts)
        query = scope.get("query_string", b"").decode("latin-1")
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", []))
        host = next((v for k, v in headers if k == "host"), "")
        if not host:
            server = scope.get("server") or ("sandbox", None)
            host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
        return cls(
            method=scope.get("method", "GET").upper(),
            raw_path=raw_path,
            segments=segments,
            query=query,
            params=tuple(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=body,
            scheme=scope.get("scheme", "http"),
            host=host,
            root_path=scope.get("root_path", "") or "",
        )

    @property
    def path_text(self) -> str:
        """The raw path as text (still percent-encoded), used for fault matching and logs."""
        return self.raw_path.decode("latin-1")

    @property
    def origin(self) -> str:
        """Scheme and host the client used, so generated absolute URLs point back at us."""
        return f"{self.scheme}://{self.host}{self.root_path}"

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def param_all(self, name: str) -> list[str]:
        return [value for key, value in self.params if key == name]

    def json(self) -> Any:
        """The body as JSON; an empty body reads as ``{}`` (all search fields are optional)."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)


@dataclass
class Response:
    """A fully buffered response. ``declared_length`` lets the truncation fault lie about size."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    declared_length: int | None = None
    fault: str | None = None

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("content-type", "application/json"), *headers])

    @classmethod
    def text(
        cls,
        status: int,
        text: str,
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        return cls(status, text.encode("utf-8"), [("content-type", content_type), *headers])

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body (sandbox requests are small)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


#: Key added to the ``http.response.start`` message of a deliberately truncated response. Servers
#: ignore unknown keys; :mod:`.loopback` uses it to turn the response into a real short read.
TRUNCATED_MARK = "tasklens.sandbox.truncated"


async def send_response(send: Send, response: Response) -> None:
    """Send a buffered response; a truncated one is marked so the loopback server can cut it."""
    length = response.declared_length if response.declared_length is not None else len(response.body)
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(length).encode("ascii")))
    start: Message = {"type": "http.response.start", "status": response.status, "headers": headers}
    if response.declared_length is not None and response.declared_length != len(response.body):
        start[TRUNCATED_MARK] = True
    await send(start)
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
