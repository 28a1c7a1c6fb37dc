"""OAuth 2.1 resource-server mode: JWT access tokens from one authorization server guard the HTTP transport.

`keys` fetches and caches the issuer's signing keys, `verifier` checks a token against them and the
configuration, `guard` is the ASGI middleware that serves the protected-resource metadata and answers
401/403 with the challenges MCP clients follow. `protect` wires the three together.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from ..config import OAuthSettings
from .guard import OAuthGuard, default_resource, metadata_url
from .keys import JwksCache, KeysUnavailable
from .verifier import JwtVerifier, TokenRefused

__all__ = [
    "JwksCache",
    "JwtVerifier",
    "KeysUnavailable",
    "OAuthGuard",
    "TokenRefused",
    "default_resource",
    "metadata_url",
    "protect",
]


def protect(app: ASGIApp, settings: OAuthSettings, resource: str) -> OAuthGuard:
    """`app` behind tokens from `settings.issuer`; `resource` is the public URL of its /mcp endpoint."""
    return OAuthGuard(app, JwtVerifier(settings, JwksCache(settings.issuer, settings.jwks_url)), settings, resource)
