"""The authorization server's signing keys: found, fetched over async HTTP, cached, refreshed within bounds.

A resource server checks a token's signature against the public keys its issuer publishes as a JWKS
(RFC 7517). Where that set lives is TASKLENS_OAUTH_JWKS_URL, or else the `jwks_uri` of the issuer's
metadata: OpenID Connect discovery (`{issuer}/.well-known/openid-configuration`) first, then RFC 8414
(`/.well-known/oauth-authorization-server` inserted before the issuer's path). A metadata document
naming another issuer is refused, as both specifications require.

Everything about the fetch is bounded, because it happens on the request path and the answers come
from outside: at most one fetch at a time (concurrent requests wait for it rather than repeat it), at
most one every `REFETCH_INTERVAL_S` whatever the tokens' `kid`s ask for (a stream of tokens naming
unknown keys cannot turn the server into a load generator against the issuer), connect/read timeouts
and an overall deadline, a size cap read as a stream, and JSON decoded within the limits of
`tasklens.tools.untrusted`. Keys older than `MAX_AGE_S` are fetched again on next use, and kept when
that fetch fails, so a short outage of the issuer does not lock every caller out.

Only public asymmetric signing keys are kept: RSA (2048 bits or more), EC on P-256/384/521 and Ed25519.
A symmetric (`oct`) key, an encryption key (`use: enc`), a key carrying private parts or one that does
not parse is skipped, so no HMAC secret can ever be derived from the set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tasklens.tools.untrusted import UntrustedInput, decode_json

from ..config import ConfigError, checked_url

logger = logging.getLogger("tasklens.oauth")

MAX_DOCUMENT_BYTES = 256 * 1024  # a JWKS or metadata document; real ones are a few KiB
MAX_KEYS = 64
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
FETCH_DEADLINE_S = 10.0  # one document, however slowly it trickles in
REFETCH_INTERVAL_S = 30.0
MAX_AGE_S = 3600.0
MIN_RSA_BITS = 2048
# The accepted signature algorithms and the key each needs (type, curve): asymmetric only, so neither
# `none` nor an HMAC algorithm (whose "secret" could be a public key) can ever verify a token.
ALGORITHMS: dict[str, tuple[str, str | None]] = {
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}
_DEFAULT_ALGORITHM = {("RSA", None): "RS256", **{need: alg for alg, need in ALGORITHMS.items() if need[1]}}


class KeysUnavailable(Exception):
    """No key set could be fetched yet; `retry_after_s` is when the next fetch may be tried."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("the authorization server's signing keys cannot be fetched")
        self.retry_after_s = retry_after_s


class _FetchFailed(Exception):
    """One fetch failed; the message names the URL and why, for the log."""


@dataclass(frozen=True)
class SigningKey:
    """One public key of the issuer's set, with what a token's header is compared against."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None  # the JWK's own `alg`, when it restricts the key to one algorithm
    key: Any  # a `cryptography` public key

    def verifies(self, alg: str) -> bool:
        """Whether a token signed with `alg` may be checked with this key (RFC 7517 §4.4 for `alg`)."""
        needed = ALGORITHMS.get(alg)
        if needed is None or needed[0] != self.kty or needed[1] not in (None, self.crv):
            return False
        return self.alg in (None, alg)


def metadata_urls(issuer: str) -> list[str]:
    """Where the issuer's metadata may be, in the order tried: OpenID Connect discovery, then RFC 8414."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return [
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}",
    ]


class JwksCache:
    """The issuer's signing keys by `kid`, fetched on first use and refreshed within the bounds above."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url  # found through the issuer's metadata on first fetch when None
        self._clock = clock
        self._keys: list[SigningKey] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._lock = anyio.Lock()

    async def key_for(self, kid: str | None) -> SigningKey | None:
        """The key a token's header names; None when the set has no such key (after a fetch, if one was
        due). Without a `kid`, the set's only key. Raises `KeysUnavailable` while no set was ever fetched."""
        if self._keys is None or self._clock() - self._fetched_at >= MAX_AGE_S or _pick(self._keys, kid) is None:
            await self._refresh()
        if self._keys is None:
            raise KeysUnavailable(self._next_attempt_in())
        return _pick(self._keys, kid)

    def _next_attempt_in(self) -> float:
        if self._attempted_at is None:
            return 0.0
        return max(0.0, self._attempted_at + REFETCH_INTERVAL_S - self._clock())

    async def _refresh(self) -> None:
        async with self._lock:
            if self._attempted_at is not None and self._next_attempt_in() > 0:
                return  # fetched (or tried) recently: this caller uses what there is
            self._attempted_at = self._clock()
            try:
                keys = await self._fetch()
            except _FetchFailed as failure:
                kept = "keeping the keys fetched before" if self._keys is not None else "no token can be checked"
                logger.warning("OAuth: cannot fetch the signing keys (%s); %s", failure, kept)
                return
            self._keys, self._fetched_at = keys, self._clock()
            logger.info("OAuth: fetched %d signing key(s) from %s", len(keys), self.jwks_url)

    async def _fetch(self) -> list[SigningKey]:
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        headers = {"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": "tasklens"}
        async with httpx.AsyncClient(timeout=timeout, headers=headers, follow_redirects=False) as client:
            if self.jwks_url is None:
                self.jwks_url = await self._discover(client)
            status, document = await _get_json(client, self.jwks_url)
        if status != 200:
            raise _FetchFailed(f"{self.jwks_url} answered HTTP {status}")
        return parse_jwks(document, self.jwks_url)

    async def _discover(self, client: httpx.AsyncClient) -> str:
        """The `jwks_uri` of the first metadata document found for the issuer."""
        statuses = []
        for url in metadata_urls(self.issuer):
            status, document = await _get_json(client, url)
            if status != 200:
                statuses.append(f"{url} answered HTTP {status}")
                continue
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise _FetchFailed(f"{url} describes another issuer than {self.issuer}")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise _FetchFailed(f"{url} has no jwks_uri; set TASKLENS_OAUTH_JWKS_URL")
            try:
                return checked_url("jwks_uri", jwks_uri)
            except ConfigError as refused:
                raise _FetchFailed(f"{url}: {refused}") from None
        raise _FetchFailed("; ".join(statuses) + "; set TASKLENS_OAUTH_JWKS_URL")


async def _get_json(client: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    """(status, decoded body) of a GET, the body capped at `MAX_DOCUMENT_BYTES` and None unless 200."""
    try:
        with anyio.fail_after(FETCH_DEADLINE_S):
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    return response.status_code, None
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise _FetchFailed(f"{url} sent more than {MAX_DOCUMENT_BYTES // 1024} KiB")
    except (TimeoutError, httpx.TimeoutException):
        raise _FetchFailed(f"{url} did not answer within {FETCH_DEADLINE_S:.0f} s") from None
    except httpx.HTTPError as error:
        raise _FetchFailed(f"{url} could not be reached ({type(error).__name__})") from None
    try:
        return 200, decode_json(bytes(body))
    except UntrustedInput as refused:
        raise _FetchFailed(f"{url} sent a body tasklens cannot read ({refused})") from None


def parse_jwks(document: Any, url: str = "the key set") -> list[SigningKey]:
    """The usable signing keys of a JWKS document (see the module docstring for what is skipped)."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _FetchFailed(f"{url} is not a JWKS (no keys list)")
    keys = [key for key in map(_signing_key, entries[:MAX_KEYS]) if key is not None]
    if not keys:
        raise _FetchFailed(f"{url} holds no usable public signing key")
    return keys


def _signing_key(entry: Any) -> SigningKey | None:
    if not isinstance(entry, dict) or "d" in entry:  # a published private key is not one to trust
        return None
    kty, crv, kid, alg = (entry.get(name) for name in ("kty", "crv", "kid", "alg"))
    if not isinstance(kty, str) or not isinstance(crv, str | None) or not isinstance(kid, str | None):
        return None
    if entry.get("use", "sig") != "sig" or alg not in (None, *ALGORITHMS):
        return None
    operations = entry.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        return None
    algorithm = alg or _DEFAULT_ALGORITHM.get((kty, crv if kty != "RSA" else None))
    if algorithm is None or ALGORITHMS[algorithm][0] != kty:
        return None
    try:
        key = jwt.PyJWK(entry, algorithm).key
    except Exception:  # one entry from outside that does not parse, whatever the reason, is skipped
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return None
    return SigningKey(kid=kid, kty=kty, crv=crv, alg=alg, key=key)


def _pick(keys: list[SigningKey], kid: str | None) -> SigningKey | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.kid == kid), None)
