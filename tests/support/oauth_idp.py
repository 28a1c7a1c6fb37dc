"""A small authorization server's public face for OAuth tests: discovery, a JWKS, and the tokens it signs.

`IdentityProvider` is an ASGI app (serve it with `serve_on_loopback`, then set `issuer` to its origin):
`/.well-known/openid-configuration` names the issuer and `/jwks`, and `/jwks` publishes the public
halves of its RSA and EC keys (plus whatever a test appends to `extra_keys`), counting requests and
answering `jwks_status` when a test makes it fail. `token()` signs claims the way a real issuer would;
`forged()` builds the tokens no issuer should accept (`alg: none`, HS256 keyed with a public key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import anyio
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.types import Receive, Scope, Send

AUDIENCE = "tasklens-test"
SCOPE = "tasklens:read"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdentityProvider:
    def __init__(self) -> None:
        self.issuer = ""  # its origin, once served
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # never published
        self.extra_keys: list[dict[str, Any]] = []
        self.jwks_status = 200
        self.trickle_s = 0.0  # > 0: /jwks sends one byte every 50 ms for this long instead of its body
        self.discovery = "openid"  # or "oauth": metadata only at RFC 8414's URL
        self.advertised_issuer: str | None = None  # what the metadata claims, when not `issuer`
        self.jwks_requests = 0
        self.discovery_requests = 0

    def jwks(self) -> dict[str, Any]:
        """Every key of `keys` (RSA ones named rsa-*), public halves only, then `extra_keys` as they are."""
        published = [
            {
                **(jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else jwt.algorithms.ECAlgorithm).to_jwk(
                    key.public_key(), as_dict=True
                ),
                "kid": kid,
                "use": "sig",
            }
            for kid, key in self.keys.items()
        ]
        return {"keys": published + self.extra_keys}

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def claims(self, **changes: Any) -> dict[str, Any]:
        """Good claims for `AUDIENCE` and `SCOPE`, changed by `changes` (a None value removes a claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "alice",
            "client_id": "test-client",
            "iat": now,
            "exp": now + 300,
            "scope": SCOPE,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, *, kid: str | None = "rsa-1", alg: str = "RS256", key: Any = None, **changes: Any) -> str:
        """A token signed with the key `kid` names (or `key`), `alg` in its header."""
        signing_key = key if key is not None else self.keys[kid or "rsa-1"]
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(self.claims(**changes), signing_key, algorithm=alg, headers=headers)

    def forged(self, alg: str, secret: bytes = b"", **changes: Any) -> str:
        """A token whose header says `alg`, HMAC-SHA256-signed with `secret` (or an arbitrary signature)."""
        header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "rsa-1"}).encode())
        payload = _b64(json.dumps(self.claims(**changes)).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b"not-a-signature"
        return f"{header}.{payload}.{_b64(signature)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        metadata_path = (
            "/.well-known/openid-configuration"
            if self.discovery == "openid"
            else "/.well-known/oauth-authorization-server"
        )
        if path == metadata_path:
            self.discovery_requests += 1
            issuer = self.advertised_issuer or self.issuer
            await _send_json(send, 200, {"issuer": issuer, "jwks_uri": f"{self.issuer}/jwks"})
        elif path == "/jwks":
            self.jwks_requests += 1
            if self.trickle_s:
                await _trickle(send, self.trickle_s)
                return
            await _send_json(send, self.jwks_status, self.jwks() if self.jwks_status == 200 else {"error": "down"})
        else:
            await _send_json(send, 404, {"error": "not found"})


async def _trickle(send: Send, seconds: float) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    for _ in range(int(seconds / 0.05)):
        await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await anyio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"{}"})


async def _send_json(send: Send, status: int, body: Any) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})
