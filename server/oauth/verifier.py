"""Checking a JWT access token from the configured issuer: signature, issuer, audience, lifetime, subject.

What a token must be to pass, in the order checked (the cheap, untrusted-input checks first):

* at most `MAX_TOKEN_CHARS` characters, three base64url parts (a JWS in compact form: no unsigned
  token, no JWE), and a header that is a JSON object within `tasklens.tools.untrusted`'s limits;
* `alg` one of `keys.ALGORITHMS` (asymmetric only), no `crit` extension (none is supported), and a
  `kid` naming a key of the issuer's set that suits `alg`; keys come only from that set, never from
  the token (`jwk`, `jku`, `x5u` and `x5c` headers are ignored);
* a valid signature, then `iss` exactly the configured issuer, `aud` (a string or a list) containing
  the configured audience, `exp` present and not past, `nbf` and `iat` not in the future, each time
  with `LEEWAY_S` of clock skew, and `sub` a string of at most 255 printable characters (OpenID
  Connect's bound), since it is what the logs record as the caller.

Scopes are read from `scope` (space-separated, RFC 9068) and `scp` (a list, or a space-separated
string); whether they suffice is the guard's call, since a missing scope is a 403, not a 401.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import jwt
from mcp.server.auth.provider import AccessToken

from tasklens.tools.untrusted import UntrustedInput, decode_json

from ..config import OAuthSettings
from .keys import ALGORITHMS, JwksCache

MAX_TOKEN_CHARS = 8 * 1024
LEEWAY_S = 30
MAX_SUBJECT_CHARS = 255
# What the logs can carry as one value on one line: no control characters, no line separators.
_SUBJECT = re.compile(rf"[^\x00-\x1f\x7f-\x9f\u2028\u2029]{{1,{MAX_SUBJECT_CHARS}}}")
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired; get a new one from the authorization server"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat is in the future)"),
    (jwt.InvalidAudienceError, "the token was issued for another audience (aud)"),
    (jwt.InvalidIssuerError, "the token was issued by another authorization server (iss)"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.exceptions.InvalidSubjectError, "the token's sub is not a string"),
]


class TokenRefused(Exception):
    """The token cannot be accepted; the message is one sentence, safe for the client and the log."""


class JwtVerifier:
    """The SDK's `TokenVerifier` for JWT access tokens signed with the issuer's published keys."""

    def __init__(self, settings: OAuthSettings, keys: JwksCache) -> None:
        self.settings = settings
        self.keys = keys

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's `TokenVerifier` protocol: the token's grant, or None when it is refused."""
        try:
            return await self.verify(token)
        except TokenRefused:
            return None

    async def verify(self, token: str) -> AccessToken:
        """The verified token, or `TokenRefused` saying why not; `keys.KeysUnavailable` when no key set
        could be fetched, which is the server's trouble rather than the token's."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused(f"the token is longer than {MAX_TOKEN_CHARS // 1024} KiB")
        if not _COMPACT_JWS.fullmatch(token):
            raise TokenRefused("the token is not a signed JWT (three base64url parts)")
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise TokenRefused("the token is not signed with an accepted algorithm (RS*, PS*, ES*, EdDSA)")
        if "crit" in header:
            raise TokenRefused("the token has critical header extensions, which tasklens does not support")
        kid = header.get("kid")
        if not isinstance(kid, str | None):
            raise TokenRefused("the token's kid is not a string")
        key = await self.keys.key_for(kid)
        if key is None:
            raise TokenRefused("the token's signing key (kid) is not in the authorization server's key set")
        if not key.verifies(alg):
            raise TokenRefused("the token's algorithm does not match its signing key")
        claims = self._claims(token, key.key, alg)
        subject = claims["sub"]
        if not _SUBJECT.fullmatch(subject):
            raise TokenRefused(f"the token's sub must be 1 to {MAX_SUBJECT_CHARS} printable characters")
        client_id = next((claims[name] for name in ("client_id", "azp") if isinstance(claims.get(name), str)), subject)
        return AccessToken(
            token=token,
            client_id=client_id,
            scopes=granted_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self.settings.audience,
            subject=subject,
            claims=claims,
        )

    def _claims(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_signature": True},
            )
        except jwt.MissingRequiredClaimError as missing:
            raise TokenRefused(f"the token has no {missing.claim} claim") from None
        except jwt.PyJWTError as error:
            reason = next((text for kind, text in _REASONS if isinstance(error, kind)), None)
            raise TokenRefused(reason or "the token is not a well-formed signed JWT") from None
        except (ValueError, TypeError, RecursionError):  # a signed payload that still does not decode
            raise TokenRefused("the token is not a well-formed signed JWT") from None


def granted_scopes(claims: dict[str, Any]) -> list[str]:
    """The scopes a token grants: `scope` (space-separated) and `scp` (a list or a space-separated string)."""
    granted: list[str] = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.extend(value.split())
        elif isinstance(value, list):
            granted.extend(item for item in value if isinstance(item, str))
    return list(dict.fromkeys(granted))


def _header(token: str) -> dict[str, Any]:
    """The token's header, decoded here within the untrusted-input limits (it is read before any check)."""
    segment = token.split(".", 1)[0]
    try:
        header = decode_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, UntrustedInput):
        header = None
    if not isinstance(header, dict):
        raise TokenRefused("the token's header is not a JSON object")
    return header
