"""Who may talk to the streamable HTTP transport: the Host/Origin allow-list and the optional bearer token.

tasklens holds API keys that unlock customer data, and anything that can reach its HTTP port can spend
them. Two attacks matter even on a laptop:

* DNS rebinding: a web page the user visits points its own domain at 127.0.0.1 and lets the browser
  POST to the local port. The browser then sends `Host: evil.example:8765` and
  `Origin: http://evil.example:8765`, so only requests naming the bound loopback host:port (or a host
  the operator listed in TASKLENS_HTTP_ALLOWED_HOSTS) are served. The SDK's own check
  (`TransportSecuritySettings`) does the refusing, 421 for a bad Host and 403 for a bad Origin; this
  module decides its allow-list, which is the exact port, not the SDK's default `127.0.0.1:*`. Host
  names are case-insensitive while the SDK compares exactly, so `LowercaseHostHeaders` lowers Host
  and Origin first (the allow-list is lowercase): `LOCALHOST:8765` is the same host as `localhost:8765`.
* Other local users or, when bound beyond loopback, the network: TASKLENS_HTTP_TOKEN makes every
  request carry `Authorization: Bearer <token>`, checked before anything else runs, in constant time.
  Binding beyond loopback without a token (or OAuth, `tasklens.server.oauth`) is allowed (behind a
  gateway that authenticates, say) but is announced with a warning at startup.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import OAuthSettings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the port on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_value(host: str) -> str:
    """`host` as it appears in a Host header: IPv6 literals in brackets."""
    bare = host.strip("[]").lower()
    return f"[{bare}]" if ":" in bare else bare


def allowed_hosts(host: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """Host header values to serve: loopback names at the bound port, the bound address itself (unless a
    wildcard), and the operator's extra entries; an entry without a port is accepted bare (behind a
    proxy on 80/443) and at the bound port."""
    values = [f"{name}:{port}" for name in LOOPBACK_NAMES]
    if host not in WILDCARD_BINDS:
        values.append(f"{_host_value(host)}:{port}")
    for entry in extra:
        has_port = entry.rsplit("]", 1)[-1].count(":") == 1
        values.extend([entry] if has_port else [entry, f"{entry}:{port}"])
    return list(dict.fromkeys(values))


def transport_security(host: str, port: int, extra: Sequence[str] = ()) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding check, on, with tasklens' allow-list. Requests without an Origin (every
    non-browser client) pass; a browser's Origin must name an allowed host over http or https."""
    hosts = allowed_hosts(host, port, extra)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{value}" for value in hosts for scheme in ("http", "https")],
    )


def exposure_warnings(
    host: str, token: str | None, extra: Sequence[str] = (), *, oauth: OAuthSettings | None = None
) -> list[str]:
    """What an operator must hear at startup about a bind beyond loopback."""
    if is_loopback(host):
        return []
    warnings = []
    if oauth is not None and oauth.resource is None:
        warnings.append(
            f"tasklens HTTP is bound to {host}, beyond loopback, and TASKLENS_OAUTH_RESOURCE is not set: the "
            "protected-resource metadata names a loopback URL that remote clients cannot use. Set it to the "
            "public URL of /mcp."
        )
    if not token and oauth is None:
        warnings.append(
            f"tasklens HTTP is bound to {host}, beyond loopback, and TASKLENS_HTTP_TOKEN is not set: anyone who "
            "can reach this port can read tasks with your provider keys. Set TASKLENS_HTTP_TOKEN, or bind 127.0.0.1."
        )
    if host in WILDCARD_BINDS and not extra:
        warnings.append(
            f"tasklens HTTP is bound to all interfaces ({host or '*'}) but only loopback Host headers are accepted; "
            "set TASKLENS_HTTP_ALLOWED_HOSTS to the names remote clients use."
        )
    return warnings


class LowercaseHostHeaders:
    """ASGI middleware: the Host and Origin headers in lowercase, before the SDK's exact comparison."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [
                (name, value.lower() if name.lower() in (b"host", b"origin") else value)
                for name, value in scope.get("headers", ())
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


class BearerTokenGuard:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, or gets 401.

    Both sides are hashed before `hmac.compare_digest`, so neither the bytes nor the length of the
    token leak through timing. Non-HTTP scopes (lifespan) pass through untouched.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._digest = hashlib.sha256(token.encode("ascii")).digest()

    def __repr__(self) -> str:
        return "BearerTokenGuard(token=<hidden>)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = bearer_credentials(scope)
        if supplied is not None and hmac.compare_digest(hashlib.sha256(supplied).digest(), self._digest):
            await self.app(scope, receive, send)
            return
        challenge = b'Bearer realm="tasklens"' + (b', error="invalid_token"' if supplied is not None else b"")
        body = b"tasklens: this server requires an Authorization: Bearer header carrying TASKLENS_HTTP_TOKEN\n"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", challenge),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def bearer_credentials(scope: Scope) -> bytes | None:
    """The credentials of the first Authorization header if its scheme is Bearer, else None."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, credentials = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None
