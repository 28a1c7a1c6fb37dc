"""The replicas' link to Redis: one connection pool, key names, and what to do while Redis is away.

Replicas behind one load balancer share three things through Redis: each provider key's rate budget,
the export summaries, and poll cadence. Every use goes through `SharedLink.run`, which turns every way
Redis can fail (refused, reset, timed out, a server error such as OOM or a read-only replica) into
`SharedStateDown`. Each user then has a local answer that is safe on its own: the rate budget falls back
to its share of the provider's rate, summaries and cadence to this process's memory.

A failed Redis is not asked again for `RETRY_S`, so a dead server costs one refused connection per
interval instead of one per provider request, and a black-holed one costs at most one socket timeout
per interval. The change of state is logged once each way, in one sentence that says what happens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:  # redis-py is imported only where TASKLENS_REDIS_URL is set: it costs ~20 MiB and 0.1 s
    from redis.asyncio import Redis

logger = logging.getLogger("tasklens.shared")

T = TypeVar("T")
RETRY_S = 5.0  # how long a failed Redis is left alone before the next request tries it again
CONNECT_TIMEOUT_S = 0.5  # Redis is on the replicas' own network: a connection takes milliseconds
COMMAND_TIMEOUT_S = 1.0
PREFIX = "tasklens"


class SharedStateDown(Exception):
    """Redis did not answer; the caller uses its local fallback."""


def redis_location(url: str) -> str:
    """`host:port/db` of a Redis URL, for log lines: never its user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    db = parts.path.strip("/") or "0"
    return f"{host}:{port}/{db}" if parts.scheme != "unix" else f"unix:{parts.path}"


class SharedLink:
    """One Redis for every replica of this deployment; `replicas` says how many share it (for fallbacks)."""

    def __init__(
        self,
        url: str,
        *,
        replicas: int,
        prefix: str = PREFIX,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        self.location = redis_location(url)
        self.replicas = replicas
        self.prefix = prefix
        self.retry_s = retry_s
        self._clock = clock
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        self._failures = (RedisError, OSError, TimeoutError)
        # No retries inside the client: a request that waits on Redis is a provider call held up, and the
        # fallback is safe, so one failed attempt decides.
        self.redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
        )
        self._down_until: float | None = None  # while set and in the future, Redis is not asked
        self._down = False

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def down(self) -> bool:
        """Whether the last attempt failed (the fallbacks are in use)."""
        return self._down

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        """`operation` on Redis, or `SharedStateDown` when Redis fails now or failed a moment ago."""
        if self._down_until is not None and self._clock() < self._down_until:
            raise SharedStateDown(self.location)
        try:
            result = await operation(self.redis)
        except self._failures as error:
            self._fail(error)
            raise SharedStateDown(self.location) from None
        if self._down:
            self._down = False
            logger.warning(
                "Redis at %s answers again: replicas share rate budgets, summaries and poll pace", self.location
            )
        self._down_until = None
        return result

    async def ping(self) -> bool:
        """Whether Redis answers now (readiness); a failure here starts the same fallback as any other."""
        try:
            await self.run(lambda client: client.ping())
        except SharedStateDown:
            return False
        return True

    async def aclose(self) -> None:
        await self.redis.aclose()

    def _fail(self, error: BaseException) -> None:
        self._down_until = self._clock() + self.retry_s
        if not self._down:
            self._down = True
            logger.warning(
                "Redis at %s is unreachable (%s): each replica now sends a provider nothing for one rate window, "
                "then at most its share of the rate (rate / %d replicas), and keeps summaries and poll pace in "
                "its own memory; Redis is tried again every %g s",
                self.location,
                type(error).__name__,
                self.replicas,
                self.retry_s,
            )
