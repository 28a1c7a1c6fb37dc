"""Fault injection: the failures real provider APIs and their load balancers produce.

Clients must survive rate limits, gateway errors, HTML error pages, bodies that are not JSON,
slow answers and connections that die, and must never echo an API key into an error message.
A :class:`Fault` rule makes the sandbox produce one of those on matching requests, a fixed number
of times; the random mode sprinkles them over all traffic with a seeded RNG, for soak tests.

What each kind looks like to an ``httpx`` client (over loopback; in-process differences noted):

``429``          429 in the provider's error shape; ``Retry-After`` only if the rule sets it
``500``          500 in the provider's error shape (Deepomatic: Django's HTML 500 page)
``502/503/504``  a load balancer's HTML error page (``text/html``, ``server: awselb/2.0``)
``html``         200 ``text/html`` (a sign-in page, as a captive proxy or SSO wall would send)
``malformed``    200 ``application/json`` whose body is not JSON (``response.json()`` raises)
``slow``         the normal answer after ``delay_s`` real seconds (a short client timeout
                 raises ``httpx.ReadTimeout``; the sandbox stops waiting if the client hangs up)
``truncated``    the normal status and headers, ``Content-Length`` larger than the body, then
                 the socket closes: ``httpx.RemoteProtocolError`` (in-process: a short body)
``reset``        the socket closes before any byte: ``httpx.RemoteProtocolError`` "Server
                 disconnected without sending a response." (in-process: ``SimulatedDisconnect``)
``echo_headers`` 400 JSON ``{"message", "request_headers": {...}}`` echoing every request header,
                 API key included, to prove a client never copies error bodies into its output

Control-plane paths (``/_sandbox/...``) are never faulted; :mod:`.app` enforces that.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .asgi import Request, Response
from .keys import SANDBOX_KEYS

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultBook",
    "SimulatedDisconnect",
    "fault_response",
    "truncate",
]

#: Every fault kind the sandbox knows (described in the module docstring).
FAULT_KINDS: tuple[str, ...] = (
    "429",
    "500",
    "502",
    "503",
    "504",
    "html",
    "slow",
    "malformed",
    "truncated",
    "reset",
    "echo_headers",
)

_PROVIDERS = tuple(SANDBOX_KEYS)


class SimulatedDisconnect(ConnectionResetError):
    """Raised by the sandbox app to drop a connection without a valid response (``reset``).

    In-process (``httpx.ASGITransport``) the exception reaches the caller as-is; served over
    :func:`~.loopback.serve_on_loopback` it becomes a real closed socket.
    """


@dataclass(frozen=True)
class Fault:
    """One fault rule.

    ``times`` is how often it fires (``-1`` = on every match). ``provider`` and ``path_contains``
    narrow the match (``None`` = any); ``path_contains`` is tested against both the raw and the
    percent-decoded path. ``retry_after`` (``429`` only) is seconds, or ``"http-date:<seconds>"``
    for an HTTP-date that many seconds ahead. ``delay_s`` is the real-time delay of ``slow``.
    """

    kind: str
    times: int = 1
    provider: str | None = None
    path_contains: str | None = None
    retry_after: float | int | str | None = None
    delay_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.provider is not None and self.provider not in _PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; expected one of {_PROVIDERS}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (always)")
        if isinstance(self.retry_after, str) and not self.retry_after.startswith("http-date:"):
            raise ValueError('retry_after must be a number or "http-date:<seconds>"')
        if self.kind == "slow" and self.delay_s is None:
            object.__setattr__(self, "delay_s", 1.0)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Fault:
        """Build from the control API's JSON body, rejecting unknown fields."""
        allowed = set(cls.__dataclass_fields__)
        unknown = set(payload) - allowed
        if unknown:
            raise ValueError(f"unknown Fault fields: {sorted(unknown)}")
        return cls(**payload)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, provider: str, request: Request) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        if self.path_contains is None:
            return True
        decoded = "/" + "/".join(request.segments)
        return self.path_contains in request.path_text or self.path_contains in decoded


@dataclass
class _Rule:
    fault: Fault
    remaining: int  # -1 = unlimited


class FaultBook:
    """The active fault rules plus the optional random mode. Safe to use from two threads
    (a loopback server thread and the test)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._random_rate = 0.0
        self._random_kinds: tuple[str, ...] = ()
        self._random_delay_s = 0.5
        self._random_retry_after: float | int | str | None = None
        self._random_providers: frozenset[str] | None = None
        self._rng = random.Random(0)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(_Rule(fault, fault.times))
        return fault

    def clear(self) -> None:
        """Remove every rule and switch the random mode off."""
        with self._lock:
            self._rules.clear()
            self._random_rate = 0.0

    def set_random(
        self,
        rate: float,
        kinds: Sequence[str] = ("429", "500", "502", "503", "504"),
        seed: int = 0,
        *,
        delay_s: float = 0.5,
        providers: Iterable[str] | None = None,
        retry_after: float | int | str | None = None,
    ) -> None:
        """Fault each provider request with probability ``rate`` (0 disables), kind drawn from
        ``kinds``; the seeded RNG makes a soak run reproducible for a given request order.
        ``delay_s`` is the delay of ``slow`` faults, ``retry_after`` the ``Retry-After`` of ``429`` ones
        (as in :class:`Fault`; ``None`` sends none)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        if rate > 0 and not kinds:
            raise ValueError("random faults need at least one kind")
        with self._lock:
            self._random_rate = rate
            self._random_kinds = tuple(kinds)
            self._random_delay_s = delay_s
            self._random_retry_after = retry_after
            self._random_providers = frozenset(providers) if providers is not None else None
            self._rng = random.Random(seed)

    @property
    def rules(self) -> list[tuple[Fault, int]]:
        """Active rules with their remaining count (``-1`` = unlimited)."""
        with self._lock:
            return [(r.fault, r.remaining) for r in self._rules]

    def pick(self, provider: str, request: Request) -> Fault | None:
        """The fault to apply to this request, consuming one use of a matching rule."""
        with self._lock:
            for rule in self._rules:
                if rule.fault.matches(provider, request):
                    if rule.remaining > 0:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.fault
            if self._random_rate > 0 and (self._random_providers is None or provider in self._random_providers):
                if self._rng.random() < self._random_rate:
                    kind = self._rng.choice(self._random_kinds)
                    return Fault(
                        kind=kind,
                        delay_s=self._random_delay_s if kind == "slow" else None,
                        retry_after=self._random_retry_after if kind == "429" else None,
                    )
        return None


_GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def _gateway_html(status: int) -> str:
    title = _GATEWAY_PAGES[status]
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )


def _retry_after_value(retry_after: float | int | str) -> str:
    if isinstance(retry_after, str):
        seconds = float(retry_after.split(":", 1)[1])
        return email.utils.formatdate(time.time() + seconds, usegmt=True)
    if float(retry_after).is_integer():
        return str(int(retry_after))
    return repr(float(retry_after))


def fault_response(fault: Fault, request: Request, provider_error: Callable[[int, str], Response]) -> Response:
    """The canned response of a fault (``slow``, ``truncated`` and ``reset`` alter the real
    response instead, so :mod:`.app` handles them).

    ``provider_error`` renders the provider's own error shape, used where the upstream service
    itself would answer (429, 500); gateway errors (502-504) are HTML pages as a load balancer
    in front of any of these APIs would send.
    """
    kind = fault.kind
    if kind == "429":
        response = provider_error(429, "Too many requests, please try again later.")
        if fault.retry_after is not None:
            response.headers.append(("retry-after", _retry_after_value(fault.retry_after)))
    elif kind == "500":
        response = provider_error(500, "Internal server error")
    elif kind in ("502", "503", "504"):
        status = int(kind)
        response = Response.text(status, _gateway_html(status), "text/html", headers=[("server", "awselb/2.0")])
    elif kind == "html":
        response = Response.text(
            200,
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>"
            '<h1>Please sign in to continue</h1><form method="post" action="/login">'
            '<input name="email"><input name="password" type="password"></form>'
            "</body></html>\n",
            "text/html; charset=utf-8",
        )
    elif kind == "malformed":
        response = Response(
            200,
            b"{'status': 'success', 'data': {'task': None}}\n",
            [("content-type", "application/json")],
        )
    elif kind == "echo_headers":
        echoed: dict[str, str] = {}
        for name, value in request.headers:
            echoed[name] = f"{echoed[name]}, {value}" if name in echoed else value
        response = Response(
            400,
            json.dumps({"message": "Bad request", "request_headers": echoed}).encode("utf-8"),
            [("content-type", "application/json")],
        )
    else:  # pragma: no cover - slow/truncated/reset never reach here
        raise ValueError(f"fault kind {kind!r} has no canned response")
    response.fault = kind
    return response


def truncate(response: Response) -> Response:
    """Keep the first half of the body but declare the full length plus some, so that over real
    HTTP the client reads an incomplete body and the server then closes the connection."""
    body = response.body
    response.declared_length = len(body) + max(64, len(body) // 2)
    response.body = body[: len(body) // 2]
    response.fault = "truncated"
    return response
