"""OAuth 2.1 resource-server mode for the streamable HTTP transport: metadata, token checks, challenges.

With TASKLENS_OAUTH_ISSUER set, `OAuthGuard` stands where `BearerTokenGuard` stands for a static token:
before the Host/Origin check and the MCP app, around every path but its own metadata (the health
probes are answered further out and need no credentials).

* `GET /.well-known/oauth-protected-resource` and its form with the resource's path appended (RFC 9728
  §3.1: `/.well-known/oauth-protected-resource/mcp`) answer the protected-resource metadata, with no
  credentials: `resource`, `authorization_servers` ([the issuer]), `scopes_supported` and
  `bearer_methods_supported` (["header"]).
* No `Authorization: Bearer` header: 401, `WWW-Authenticate: Bearer realm="tasklens", scope="…",
  resource_metadata="…"` — no error code, as RFC 6750 §3.1 asks of a request that carried
  no credentials; `resource_metadata` and `scope` are what an MCP client needs to start authorizing.
* A token that fails verification (`verifier.py`): 401 with `error="invalid_token"` and one sentence
  in `error_description`. A valid token without every required scope: 403 with
  `error="insufficient_scope"` and the scopes required. Both keep `resource_metadata` and `scope`.
* The issuer's keys not fetchable yet: 503 with `Retry-After`, since a 401 would send the client to
  authorize again for the server's own trouble.
* A verified token: the request goes on with the SDK's `AuthenticatedUser` in `scope["user"]`, which
  binds each MCP session to the (client, issuer, subject) that opened it, the SDK's access-token
  contextvar set, and the subject in `operations.SUBJECT` for the logs. The token itself is never logged.

The SDK's own resource-server wiring (`AuthSettings` with a `token_verifier`) is not used: its 401
for a request without credentials carries `error="invalid_token"`, its challenges carry no `scope`,
it serves the metadata only at the path-suffixed URL, and an exception in the verifier becomes a 500.
Its types are: `AccessToken`, `AuthenticatedUser`, `AuthContextMiddleware`.
"""

from __future__ import annotations

import json
import logging
import math
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import OAuthSettings
from ..http_security import bearer_credentials
from ..operations import SUBJECT, send_json
from .keys import KeysUnavailable
from .verifier import JwtVerifier, TokenRefused

logger = logging.getLogger("tasklens.oauth")

WELL_KNOWN = "/.well-known/oauth-protected-resource"
REALM = "tasklens"


def default_resource(host: str, port: int) -> str:
    """The /mcp URL of a server bound to `host:port`, for when TASKLENS_OAUTH_RESOURCE is not set."""
    name = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host.strip("[]")
    return f"http://{f'[{name}]' if ':' in name else name}:{port}/mcp"


def metadata_url(resource: str) -> str:
    """Where the metadata of `resource` is (RFC 9728 §3.1): the well-known path, then the resource's path."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{path}"


class OAuthGuard:
    """ASGI middleware: protected-resource metadata, and a verified bearer token on every other request."""

    def __init__(self, app: ASGIApp, verifier: JwtVerifier, settings: OAuthSettings, resource: str) -> None:
        self.app = app
        self._inner = AuthContextMiddleware(app)  # the SDK's get_access_token() works inside tools
        self._verifier = verifier
        self._scopes = settings.scopes
        self._metadata_url = metadata_url(resource)
        self._metadata_paths = {WELL_KNOWN, urlsplit(self._metadata_url).path}
        # Written out rather than through the SDK's model, whose URL fields would add a trailing slash to
        # an issuer or resource without a path: both are compared character for character by clients.
        self._metadata = json.dumps(
            {
                "resource": resource,
                "authorization_servers": [settings.issuer],
                "scopes_supported": list(settings.scopes),
                "bearer_methods_supported": ["header"],
                "resource_name": "tasklens",
            }
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self._metadata_paths:
            await self._serve_metadata(scope, send)
            return
        supplied = bearer_credentials(scope)
        if supplied is None:
            sentence = "this server requires an OAuth access token: Authorization: Bearer <token>"
            await self._refuse(send, 401, None, sentence)
            return
        try:
            grant = await self._verifier.verify(supplied.decode("latin-1"))
        except TokenRefused as refused:
            logger.info("OAuth: bearer token refused: %s", refused)
            await self._refuse(send, 401, "invalid_token", str(refused))
            return
        except KeysUnavailable as unavailable:
            wait = max(1, math.ceil(unavailable.retry_after_s))
            sentence = f"tasklens cannot fetch the authorization server's signing keys; retry in {wait} s"
            body = {"error": "temporarily_unavailable", "error_description": sentence}
            await send_json(send, 503, body, [(b"retry-after", str(wait).encode())])
            return
        missing = [name for name in self._scopes if name not in grant.scopes]
        if missing:
            logger.info("OAuth: token of %s lacks scope %s", grant.subject, " ".join(missing))
            sentence = f"the token lacks the scope {' '.join(missing)}; authorize again asking for it"
            await self._refuse(send, 403, "insufficient_scope", sentence)
            return
        user = AuthenticatedUser(grant)
        scope = {**scope, "user": user, "auth": AuthCredentials(grant.scopes)}
        reset = SUBJECT.set(grant.subject)
        try:
            await self._inner(scope, receive, send)
        finally:
            SUBJECT.reset(reset)

    def challenge(self, error: str | None, description: str) -> str:
        """The `WWW-Authenticate` value: RFC 6750 §3 parameters and RFC 9728 §5.1 `resource_metadata`."""
        parameters = [f'realm="{REALM}"']
        if error is not None:
            clean = description.replace("\\", "").replace('"', "'")
            parameters += [f'error="{error}"', f'error_description="{clean}"']
        parameters += [f'scope="{" ".join(self._scopes)}"', f'resource_metadata="{self._metadata_url}"']
        return "Bearer " + ", ".join(parameters)

    async def _refuse(self, send: Send, status: int, error: str | None, description: str) -> None:
        body = {"error": error, "error_description": description} if error else {"error_description": description}
        await send_json(send, status, body, [(b"www-authenticate", self.challenge(error, description).encode())])

    async def _serve_metadata(self, scope: Scope, send: Send) -> None:
        method = scope.get("method")
        cors = [(b"access-control-allow-origin", b"*"), (b"access-control-allow-methods", b"GET, OPTIONS")]
        if method == "OPTIONS":  # a browser client's preflight
            await send({"type": "http.response.start", "status": 204, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD, OPTIONS"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._metadata)).encode()),
            (b"cache-control", b"public, max-age=3600"),
            *cors,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self._metadata if method == "GET" else b""})
