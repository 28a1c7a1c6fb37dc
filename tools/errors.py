"""The one error type provider clients raise, and the sanitizing of any text that came from upstream.

Every anticipated failure — a bad id, 401, 404, 429, an upstream 5xx, a timeout, an unreadable body —
becomes a `ProviderError` with a normalized `kind`. The tools turn it into one short sentence for the
model (`ProviderError.for_model`); the upstream's own message is kept only after it has been stripped of
control characters, redacted of secrets and cut to 300 characters, because it is untrusted text headed
for a language model.

Redaction covers the secrets a caller passes and every API key an HTTP policy was built with
(`register_secret`): an upstream can echo a key inside a successful answer as well as in an error, and
every string that reaches a result passes through `clean_upstream_text`. A key is found in any letter
case and with any of its characters percent-encoded, as a URL echoed back would carry it.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Literal

ErrorKind = Literal[
    "not_configured",  # no API key (or region) for this provider
    "invalid_argument",  # an id or argument refused before any request was sent
    "unauthorized",  # 401
    "forbidden",  # 403, 451
    "not_found",  # 404
    "bad_request",  # other 4xx
    "rate_limited",  # 429, or our own limiter could not admit the call before its deadline
    "unavailable",  # 5xx
    "timeout",  # connect/read timeout or the call's deadline ran out
    "network",  # connection refused, reset, DNS
    "bad_response",  # malformed, truncated, oversized or unexpected body
]

UPSTREAM_TEXT_LIMIT = 300
MIN_SECRET_LENGTH = 8  # shorter strings are not keys, and redacting them would garble ordinary text
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_WHITESPACE = re.compile(r"\s+")


_registered: set[str] = set()


def register_secret(secret: str) -> None:
    """Redact `secret` from all upstream text from now on, wherever it is cleaned (a configured API key)."""
    if len(secret) >= MIN_SECRET_LENGTH:
        _registered.add(secret)


@functools.lru_cache(maxsize=32)
def _secret_pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    """One pattern for all `secrets`: each character as itself (any case) or percent-encoded."""

    def character(char: str) -> str:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        return f"(?:{re.escape(char)}|{encoded})"

    longest_first = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join("".join(map(character, secret)) for secret in longest_first), re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with every secret (passed or registered) replaced by "[redacted]"."""
    present = frozenset(secret for secret in (*secrets, *_registered) if secret)
    if not present:
        return text
    if "%" not in text:  # the common case: a plain search first, the pattern only on a hit
        lowered = text.lower()
        present = frozenset(secret for secret in present if secret.lower() in lowered)
        if not present:
            return text
    return _secret_pattern(present).sub("[redacted]", text)


def clean_upstream_text(text: str, *, secrets: tuple[str, ...] = (), limit: int = UPSTREAM_TEXT_LIMIT) -> str:
    """Make untrusted upstream text safe to show: no control or bidi characters, no secrets, one line, capped.

    Control characters go first, so a key split by a zero-width or NUL character is still found.
    """
    text = redact(_CONTROL.sub("", text), secrets)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


class ProviderError(Exception):
    """A failed provider call, normalized. `message` is already clean (see `clean_upstream_text`)."""

    def __init__(
        self,
        provider: str,
        kind: ErrorKind,
        *,
        http_status: int | None = None,
        code: str | None = None,
        message: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        self.provider = provider
        self.kind: ErrorKind = kind
        self.http_status = http_status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.hint = hint
        super().__init__(self.for_model())

    def __reduce__(self) -> tuple[object, ...]:
        fields = ("http_status", "code", "message", "retry_after", "hint")
        return (_rebuild, (self.provider, self.kind, {name: getattr(self, name) for name in fields}))

    def for_model(self) -> str:
        """One trusted sentence: what failed and what to do next (≤ ~500 characters)."""
        parts = [self.hint or _default_hint(self)]
        if self.message and self.kind not in ("not_configured", "invalid_argument"):
            parts.append(f'Upstream said: "{self.message}"')
        return " ".join(parts)

    def __str__(self) -> str:
        return self.for_model()


def _rebuild(provider: str, kind: ErrorKind, fields: dict[str, object]) -> ProviderError:
    return ProviderError(provider, kind, **fields)  # type: ignore[arg-type]


def _status(error: ProviderError) -> str:
    return f" (HTTP {error.http_status})" if error.http_status else ""


def _default_hint(error: ProviderError) -> str:
    name = error.provider
    match error.kind:
        case "unauthorized":
            return f"{name} rejected the API key{_status(error)}; check the key's value and that it is active."
        case "forbidden" if error.http_status == 451:
            return (
                f"{name} refused the call as unavailable for legal reasons (HTTP 451): it blocks this content or "
                "this machine's location; a different key will not help."
            )
        case "forbidden":
            return f"{name} refused access{_status(error)}; the key lacks permission for this resource."
        case "not_found":
            return f"{name} found nothing at that id{_status(error)}; check the id and the provider."
        case "rate_limited":
            wait = f" Retry in {math.ceil(error.retry_after)} s." if error.retry_after else " Retry later."
            return f"{name} is rate limiting requests{_status(error)}.{wait}"
        case "unavailable":
            return f"{name} is failing on its side{_status(error)}; retry in a minute."
        case "timeout":
            return f"{name} did not answer in time; retry later."
        case "network":
            return f"Could not reach {name}; check the network or the configured base URL."
        case "bad_response":
            return (
                f"{name} sent a response tasklens could not read{_status(error)}; retry, and report it if it persists."
            )
        case "bad_request":
            return f"{name} refused the request{_status(error)}; check the arguments."
        case _:
            return f"{name} call failed{_status(error)}."
