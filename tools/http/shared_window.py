"""One provider key's rate budget shared by every replica, kept in Redis, with a safe local fallback.

The budget is the same sliding window as `SlidingWindowLimiter` (at most N sends in any window plus
guard), kept as a sorted set of reserved send times in Redis and changed only by Lua scripts, which
Redis runs atomically: reading the window, choosing the earliest admissible time and reserving it are
one step, so two replicas can never both take the last slot. Times are Redis's own clock (`TIME`), the
one clock every replica shares; a replica only ever receives a wait in microseconds and sleeps it on its
own clock, so replicas need no synchronised clocks. A Retry-After from the provider is a hold key that
the scripts honour, so it pauses every replica.

The budget belongs to the provider key, not to the replica: its Redis key carries a hash of the API key,
so deployments with different keys can share one Redis and replicas with the same key share one budget.

While Redis is down each replica admits at most its share, `N // replicas`, from a local window. What
the shared window had already admitted is still counted upstream for up to one window, so the local
window starts with that replica's share of it (the count the last script returned, divided among the
replicas) counted as just sent: the provider's window never holds more than N. When Redis answers
again, the replica first adds the sends its local window admitted, so the shared window counts them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import os
from typing import TYPE_CHECKING, Any

from ..shared.link import SharedLink, SharedStateDown
from .rate_limit import GUARD_S, Clock, Sleep, SlidingWindowLimiter, WouldExceedDeadline, round_free_in

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

logger = logging.getLogger("tasklens.http")

MICRO = 1_000_000
LOCAL_REASON = "Redis, through which replicas share the rate, is unreachable, so each replica holds to its share"

# KEYS: window, hold. ARGV: max requests, span µs, longest wait µs (-1: any), member.
# Returns {admitted (0/1), wait µs}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local when = now
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if held > when then when = held end
local count = redis.call('ZCARD', KEYS[1])
if count >= n then
  local nth = redis.call('ZRANGE', KEYS[1], count - n, count - n, 'WITHSCORES')
  local free = tonumber(nth[2]) + span
  if free > when then when = free end
end
local longest = tonumber(ARGV[3])
if longest >= 0 and when - now > longest then
  return {0, when - now}
end
redis.call('ZADD', KEYS[1], when, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((when - now + span) / 1000) + 1000)
return {1, when - now}
"""

# KEYS: window, hold. ARGV: max requests, span µs. Returns {now µs, held until µs, newest N send times...}.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local newest = redis.call('ZRANGE', KEYS[1], -tonumber(ARGV[1]), -1, 'WITHSCORES')
local out = {now, tonumber(redis.call('GET', KEYS[2]) or '0')}
for i = 2, #newest, 2 do out[#out + 1] = newest[i] end
return out
"""

# KEYS: hold. ARGV: seconds µs. Extends the hold to now + seconds, never shortens it.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > held then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return until_
"""

# KEYS: window. ARGV: span µs, then pairs of (age µs, member). Adds sends made elsewhere `age` ago.
_ADD_SENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now - tonumber(ARGV[i]), ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
return #ARGV
"""

# KEYS: epoch. ARGV: a new epoch. The epoch Redis has, set to the new one first if it has none (it lost
# its data, or is new): a replica that sees another epoch than before knows Redis forgot its windows.
_EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return epoch
"""


def budget_key(provider: str, api_key: str) -> str:
    """The part of the Redis key that names one provider key's budget, without revealing the key."""
    return f"{provider}:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"


class SharedWindowLimiter:
    """`SlidingWindowLimiter`'s contract across replicas: at most `max_requests` in any window, first come
    first served, waiting instead of failing up to the caller's deadline."""

    def __init__(
        self,
        link: SharedLink,
        name: str,
        max_requests: int,
        window_s: float = 60.0,
        *,
        guard_s: float = GUARD_S,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.link = link
        self.max_requests = max_requests
        self.window_s = window_s
        self.span_s = window_s + guard_s
        self.share = max(1, max_requests // link.replicas)
        self._provider = name.split(":", 1)[0]
        self._window_key = link.key("rate", name, "window")
        self._hold_key = link.key("rate", name, "hold")
        self._clock = clock
        self._sleep = sleep
        # Sent by hash once loaded (EVALSHA), by text after a Redis restart forgot them.
        self._scripts: dict[str, AsyncScript] = {
            name: link.redis.register_script(text)
            for name, text in (
                ("acquire", _ACQUIRE),
                ("window", _WINDOW),
                ("hold", _HOLD),
                ("add_sent", _ADD_SENT),
                ("epoch", _EPOCH),
            )
        }
        self._member = itertools.count()
        self._replica = os.urandom(6).hex()  # members of different replicas never collide
        self._fallback: SlidingWindowLimiter | None = None
        self._lost_at = -math.inf  # when this replica last lost Redis (clock time)
        self._epoch_key = link.key("epoch")
        self._epoch: bytes | None = None  # Redis's epoch when this replica last used it

    @property
    def local(self) -> bool:
        """Whether admissions come from this replica's own share (Redis is down)."""
        return self._fallback is not None

    async def acquire(self, deadline: float | None = None) -> None:
        """Reserve the earliest send time the shared window admits and wait for it; never past `deadline`."""
        now = self._clock()
        longest = -1 if deadline is None else max(0, int((deadline - now) * MICRO))
        try:
            await self._rejoin()
            admitted, wait_us = await self._script(
                self._scripts["acquire"],
                [self._window_key, self._hold_key],
                [self.max_requests, int(self.span_s * MICRO), longest, f"{self._replica}:{next(self._member)}"],
            )
        except SharedStateDown:
            try:
                await self._local_budget().acquire(deadline)
            except WouldExceedDeadline as refused:
                refused.reason = LOCAL_REASON
                raise
            return
        wait_s = int(wait_us) / MICRO
        if not admitted:
            raise WouldExceedDeadline(wait_s)
        if wait_s > 0:
            await self._sleep(wait_s)

    async def hold(self, seconds: float) -> None:
        """Hold every replica's callers for `seconds` (an upstream 429 with Retry-After)."""
        if self._fallback is not None:
            await self._fallback.hold(seconds)
        try:
            await self._script(self._scripts["hold"], [self._hold_key], [int(seconds * MICRO)])
        except SharedStateDown:
            await self._local_budget().hold(seconds)

    async def free_in(self, n: int = 1) -> float:
        """Seconds until `n` requests asked for now would all have been admitted."""
        if self._fallback is None:
            try:
                reply = await self._script(
                    self._scripts["window"],
                    [self._window_key, self._hold_key],
                    [self.max_requests, int(self.span_s * MICRO)],
                )
            except SharedStateDown:
                pass
            else:
                now, held, *slots = (int(value) for value in reply)
                return (
                    round_free_in([float(s) for s in slots], n, self.max_requests, self.span_s * MICRO, now, held)
                    / MICRO
                )
        return await self._local_budget().free_in(n)

    def _local_budget(self) -> SlidingWindowLimiter:
        if self._fallback is None:
            self._lost_at = self._clock()
            fallback = SlidingWindowLimiter(
                self.share, self.window_s, guard_s=self.span_s - self.window_s, clock=self._clock, sleep=self._sleep
            )
            fallback.occupy([self._lost_at] * self.share)  # what the shared window admitted, unknown: full
            self._fallback = fallback
            logger.warning(
                "%s: Redis is unreachable, so this replica sends nothing for %.0f s (what the shared window "
                "admitted may still count upstream), then at most %d requests per %.0f s",
                self._provider,
                self.span_s,
                self.share,
                self.window_s,
            )
        return self._fallback

    async def _rejoin(self) -> None:
        """Before each shared admission: learn Redis's epoch, and after a local spell hand its sends over."""
        if self._epoch is not None and self._fallback is None:
            return
        epoch = os.urandom(8).hex().encode()
        current = await self._script(self._scripts["epoch"], [self._epoch_key], [epoch])
        if self._fallback is not None:
            sent = self._fallback.sent_within_window()  # reservations still ahead (negative ages) included
            if current == self._epoch:  # Redis kept its window: only what was really sent is new to it
                sent = [when for when in sent if when > self._lost_at]
            now = self._clock()
            args: list[Any] = [int(self.span_s * MICRO)]
            for when in sent:
                args += [int((now - when) * MICRO), f"{self._replica}:{next(self._member)}"]
            await self._script(self._scripts["add_sent"], [self._window_key], args)
            logger.warning(
                "%s: Redis answers again; back on the shared rate budget (%d sends of this replica's window "
                "handed over%s)",
                self._provider,
                len(sent),
                "" if current == self._epoch else ", Redis had lost its data",
            )
            self._fallback = None
        self._epoch = current

    async def _script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await self.link.run(lambda client: script(keys=keys, args=args, client=client))
