"""The one HTTP policy every provider client goes through: timeouts, retries, rate limit, deadline, size cap.

None of the four providers documents `Retry-After`, the Ango SDK sets no timeout and retries nothing,
and the Deepomatic SDK does not retry 429. So the policy is ours, written once:

* connect/read timeouts on a pooled `httpx.AsyncClient` (one per provider, for the server's lifetime);
* retries only for idempotent calls, only on connection errors, timeouts, 429, 502, 503, 504, and 500 at
  most once; the wait honours `Retry-After` (seconds or HTTP date) and is otherwise full-jitter
  exponential backoff; attempts are bounded and so is the call's total deadline;
* a per-provider sliding-window rate limiter shared by every call, which also holds all callers back
  after a 429 that named a wait; a wait longer than `MAX_RETRY_AFTER_S` is capped, and the error and
  the log say so;
* a cap on the response size, read as a stream so an oversized body is never buffered whole, and a
  body decoded only within the depth and number limits of `tasklens.tools.untrusted`;
* every failure becomes a `ProviderError` with a clean message, never an httpx exception;
* one INFO line per request sent (provider, method, path without query, status, milliseconds), which
  the server's log handler tags with the request id and the OAuth subject it served.

Clock, sleep and randomness are injectable so tests prove waits and bounds without waiting.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from ..errors import ErrorKind, ProviderError, clean_upstream_text, register_secret
from ..untrusted import UntrustedInput, decode_json, whole_number
from .rate_limit import Clock, RateBudget, Sleep, WouldExceedDeadline

logger = logging.getLogger("tasklens.http")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After (a day, a billion seconds) is honoured only this long
ErrorParser = Callable[[Any], tuple[str | None, str | None]]
"""Reads (code, message) out of a provider's error body (already JSON-decoded, or None)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one logical call. `deadline_s` covers every attempt, wait and rate-limit queueing."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    deadline_s: float = 30.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    max_response_bytes: int = 16 * 1024 * 1024


@dataclass
class HttpPolicy:
    """A provider's HTTP client plus the policy around it. Create once, share, `aclose()` at shutdown."""

    provider: str
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    parse_error: ErrorParser = field(repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: RateBudget | None = None
    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock = time.monotonic
    sleep: Sleep = anyio.sleep
    rng: random.Random = field(default_factory=random.Random)
    max_concurrency: int = 8

    def __post_init__(self) -> None:
        for secret in self.secrets:  # a key echoed in any answer, not only an error, is redacted
            register_secret(secret)
        timeout = httpx.Timeout(
            self.retry.read_timeout_s, connect=self.retry.connect_timeout_s, pool=self.retry.connect_timeout_s
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            # identity: the size cap must bound what is held in memory, and a compressed body could
            # inflate a hundredfold before the cap sees a single byte of it.
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "identity",
                "User-Agent": "tasklens",
                **self.headers,
            },
            timeout=timeout,
            transport=self.transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
        )
        self._slots = anyio.Semaphore(self.max_concurrency)
        self.attempts = 0  # upstream requests sent, for tests and benchmarks

    async def aclose(self) -> None:
        """Close the pooled connections (at server shutdown)."""
        await self._client.aclose()

    def deadline(self) -> float:
        """An absolute deadline for one tool call; pass it to every request the call makes."""
        return self.clock() + self.retry.deadline_s

    async def get_json(
        self,
        path: str,
        *,
        params: Any = None,
        deadline: float | None = None,
        anonymous: bool = False,
        read_timeout_s: float | None = None,
    ) -> Any:
        """GET a JSON document (idempotent, so retried under the policy).

        `anonymous` leaves the provider's auth headers out: a key check uses it as its control request.
        `read_timeout_s` overrides the read timeout for one slow endpoint (Ango's synchronous export).
        """
        return await self.request_json(
            "GET",
            path,
            params=params,
            idempotent=True,
            deadline=deadline,
            anonymous=anonymous,
            read_timeout_s=read_timeout_s,
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        idempotent: bool,
        deadline: float | None = None,
        anonymous: bool = False,
        read_timeout_s: float | None = None,
    ) -> Any:
        """Send one logical request under the policy and return the decoded JSON body of a 2xx answer.

        `deadline` is absolute (this policy's clock); it defaults to `deadline()`, and a tool call
        that makes several requests passes one deadline to all of them. `read_timeout_s` overrides
        the read timeout for a call the upstream is known to answer slowly (Ango builds exports
        while the request is open).
        """
        deadline = self.deadline() if deadline is None else deadline
        attempt = 0
        retried_500 = False
        while True:
            attempt += 1
            try:
                status, headers, body = await self._send_once(
                    method, path, params, json_body, deadline, anonymous, read_timeout_s
                )
            except ProviderError as failure:
                if not (idempotent and failure.kind in ("timeout", "network")):
                    raise
                wait = self._wait_or_raise(failure, attempt, deadline, retry_after=None)
                logger.info("%s %s: %s, retry %d in %.2f s", self.provider, method, failure.kind, attempt, wait)
                await self.sleep(wait)
                continue
            if 200 <= status < 300:
                return self._decode(status, body)
            error = self._http_error(status, headers, body)
            retryable = status in RETRYABLE_STATUSES or (status == 500 and not retried_500)
            if not (idempotent and retryable):
                raise error
            retried_500 = retried_500 or status == 500
            if error.retry_after is not None and status in (429, 503) and self.limiter is not None:
                # Hold every caller of this provider, but never longer than one call's deadline: a
                # wild Retry-After (a day) must not disable the provider until restart.
                hold = min(error.retry_after, self.retry.deadline_s)
                await self.limiter.hold(hold)
                logger.info("%s: HTTP %s with Retry-After, every call held for %.1f s", self.provider, status, hold)
            wait = self._wait_or_raise(error, attempt, deadline, retry_after=error.retry_after)
            logger.info("%s %s: HTTP %s, retry %d in %.2f s", self.provider, method, status, attempt, wait)
            await self.sleep(wait)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Any,
        json_body: Any,
        deadline: float,
        anonymous: bool = False,
        read_timeout_s: float | None = None,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: a concurrency slot, then the rate limiter, then the send, all within `deadline`."""
        try:
            with anyio.fail_after(max(0.0, deadline - self.clock())):
                async with self._slots:
                    # Admission comes last, right before the send, so the limiter's window is the
                    # upstream's window: time spent queueing for a slot is not counted as sent.
                    await self._admit(deadline)
                    self.attempts += 1
                    timeout = (
                        httpx.Timeout(
                            read_timeout_s, connect=self.retry.connect_timeout_s, pool=self.retry.connect_timeout_s
                        )
                        if read_timeout_s is not None
                        else httpx.USE_CLIENT_DEFAULT
                    )
                    request = self._client.build_request(method, path, params=params, json=json_body, timeout=timeout)
                    if anonymous:
                        for name in self.headers:
                            request.headers.pop(name, None)
                    response, body = await self._exchange(request)
        except (TimeoutError, httpx.TimeoutException):  # the call's deadline, or one read/connect timeout
            raise ProviderError(self.provider, "timeout") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError):
            raise ProviderError(
                self.provider,
                "network",
                hint=f"The connection to {self.provider} broke before a complete answer arrived; retry shortly.",
            ) from None
        except httpx.HTTPError:  # protocol misuse, bad URL, undecodable body: not worth retrying
            raise ProviderError(
                self.provider, "bad_response", hint=f"The exchange with {self.provider} failed at the HTTP level."
            ) from None
        return response.status_code, response.headers, body

    async def _exchange(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """Send `request` and read its capped body, logging one line for the exchange whatever its outcome.

        The line is INFO: it is the record of what the server spent a provider key on, the rate limiter
        bounds how many there are a minute, and under HTTP the log handler adds which request and which
        caller (the OAuth subject) it served. The path is logged as sent, percent-encoded (so one printable
        line) and without its query; no provider puts its key in a path.
        """
        started = time.perf_counter()
        outcome: int | str = "failed"  # the status once one arrives; else why none did
        try:
            response = await self._client.send(request, stream=True)
            outcome = response.status_code
            try:
                return response, await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            outcome = "timeout" if outcome == "failed" else outcome
            raise
        except anyio.get_cancelled_exc_class():  # the call's deadline, or the caller gave up
            outcome = "cancelled" if outcome == "failed" else outcome
            raise
        finally:
            logger.info(
                "upstream %s %s %s -> %s in %.0f ms",
                self.provider,
                request.method,
                request.url.raw_path.split(b"?", 1)[0][:200].decode("ascii", "replace"),
                outcome,
                (time.perf_counter() - started) * 1000,
            )

    async def _admit(self, deadline: float) -> None:
        if self.limiter is None:
            return
        try:
            await self.limiter.acquire(deadline)
        except WouldExceedDeadline as exc:
            raise ProviderError(
                self.provider,
                "rate_limited",
                retry_after=exc.wait_s,
                hint=(
                    f"tasklens is holding {self.provider} calls to its configured rate limit and no slot frees "
                    f"up within this call's deadline{'; ' + exc.reason if exc.reason else ''}; "
                    f"retry in {math.ceil(exc.wait_s)} s."
                ),
            ) from None

    async def _read_capped(self, response: httpx.Response) -> bytes:
        limit = self.retry.max_response_bytes
        declared = whole_number(response.headers.get("content-length"), max_digits=18)
        if declared is not None and declared > limit:
            raise self._too_large(response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large(response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, status: int) -> ProviderError:
        mib = self.retry.max_response_bytes / (1024 * 1024)
        return ProviderError(
            self.provider,
            "bad_response",
            http_status=status,
            code=TOO_LARGE,
            hint=f"{self.provider} sent more than {mib:.0f} MiB for one call; tasklens stopped reading it.",
        )

    def _decode(self, status: int, body: bytes) -> Any:
        try:
            return decode_json(body)
        except UntrustedInput as refused:
            raise ProviderError(
                self.provider,
                "bad_response",
                http_status=status,
                hint=(
                    f"{self.provider} answered HTTP {status} with a body tasklens cannot read ({refused}); "
                    "retry shortly."
                ),
            ) from None

    def _http_error(self, status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
        payload: Any = None
        if "json" in headers.get("content-type", "").lower():
            try:
                payload = decode_json(body)
            except UntrustedInput:
                payload = None
        code, message = self.parse_error(payload) if payload is not None else (None, None)
        retry_after = parse_retry_after(headers.get("retry-after"), now=time.time())
        hint = ""
        if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
            asked = f"{retry_after:.0f}"
            logger.warning(
                "%s answered HTTP %s with Retry-After of %s s; tasklens honours at most %.0f s",
                self.provider,
                status,
                asked,
                MAX_RETRY_AFTER_S,
            )
            hint = (
                f"{self.provider} answered HTTP {status} asking for a wait of {asked} s, which tasklens caps at "
                f"{MAX_RETRY_AFTER_S:.0f} s; retry in {MAX_RETRY_AFTER_S:.0f} s."
            )
            retry_after = MAX_RETRY_AFTER_S
        return ProviderError(
            self.provider,
            _kind_for_status(status),
            http_status=status,
            code=clean_upstream_text(code, secrets=self.secrets, limit=60) if code else None,
            message=clean_upstream_text(message, secrets=self.secrets) if message else "",
            retry_after=retry_after,
            hint=hint,
        )

    def _wait_or_raise(self, error: ProviderError, attempt: int, deadline: float, retry_after: float | None) -> float:
        """The wait before the next attempt; raise `error` when attempts or the deadline are spent."""
        wait = retry_after if retry_after is not None else self._backoff(attempt)
        if attempt >= self.retry.max_attempts or self.clock() + wait >= deadline:
            raise error
        return wait

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay_s, self.retry.base_delay_s * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)


TOO_LARGE = "too_large"
"""`ProviderError.code` of a response cut off by the size cap, so a client can retry with less."""


def _kind_for_status(status: int) -> ErrorKind:
    if status == 401:
        return "unauthorized"
    if status in (403, 451):
        return "forbidden"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "unavailable"
    if 300 <= status < 400 or status < 200:
        return "bad_response"
    return "bad_request"


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    seconds = whole_number(value, max_digits=18)
    if seconds is not None:
        return float(seconds)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None
