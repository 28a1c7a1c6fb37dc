"""Where poll_task's cadence is remembered between calls: this process's memory, or Redis for replicas.

An agent calls poll_task again right after one returns; starting the backoff over would re-read at the
fast start for nothing. So each provider client remembers, per task, the interval its backoff reached,
for as long as that memory is worth anything: twice that interval after the task's last read. Behind a
load balancer the next call may reach another replica, so replicas keep it in Redis, where that
lifetime is the key's expiry; while Redis is away each replica remembers in its own memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ..shared.link import SharedLink, SharedStateDown

if TYPE_CHECKING:
    from redis.asyncio import Redis

PACE_MEMORY = 10_000  # tasks whose cadence one process remembers


Pace = tuple[float, float]  # (seconds since the task was last read, the interval reached)


def worth_keeping(pace: Pace) -> bool:
    """A remembered interval is used while the last read is at most two intervals old."""
    age, interval = pace
    return age <= 2 * interval


class PaceMemory(Protocol):
    async def recall(self, task_ids: Sequence[str]) -> list[float | None]:
        """The interval reached for each task, or None where nothing worth keeping is remembered."""
        ...

    async def remember(self, paces: Mapping[str, Pace | None]) -> None:
        """Remember each task's pace; None forgets the task (settled, waiting on a person, or failing)."""
        ...


class LocalPace:
    """The newest `capacity` tasks' paces in this process, on the client's clock."""

    def __init__(self, clock: Callable[[], float], capacity: int = PACE_MEMORY) -> None:
        self._clock = clock
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[float, float]] = OrderedDict()  # task → (read at, interval)

    async def recall(self, task_ids: Sequence[str]) -> list[float | None]:
        now = self._clock()
        found: list[float | None] = []
        for task_id in task_ids:
            entry = self._entries.get(task_id)
            found.append(entry[1] if entry is not None and worth_keeping((now - entry[0], entry[1])) else None)
        return found

    async def remember(self, paces: Mapping[str, Pace | None]) -> None:
        now = self._clock()
        for task_id, pace in paces.items():
            self._entries.pop(task_id, None)  # re-inserted last: the order is the eviction order
            if pace is not None:
                self._entries[task_id] = (now - pace[0], pace[1])
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


class SharedPace:
    """Paces in Redis, one key per task expiring when the pace stops being worth keeping."""

    def __init__(self, link: SharedLink, name: str, local: LocalPace) -> None:
        self._link = link
        self._name = name
        self._local = local

    def _key(self, task_id: str) -> str:
        # Task ids are the caller's; a hash keeps keys short and free of separators.
        return self._link.key("pace", self._name, hashlib.sha256(task_id.encode()).hexdigest()[:24])

    async def recall(self, task_ids: Sequence[str]) -> list[float | None]:
        keys = [self._key(task_id) for task_id in task_ids]
        try:
            values = await self._link.run(lambda client: client.mget(keys))
        except SharedStateDown:
            return await self._local.recall(task_ids)
        found: list[float | None] = []
        for value in values:
            try:
                found.append(float(value) if value is not None else None)
            except ValueError:
                found.append(None)
        return found

    async def remember(self, paces: Mapping[str, Pace | None]) -> None:
        async def write(client: Redis) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for task_id, pace in paces.items():
                    key = self._key(task_id)
                    lifetime_ms = int((2 * pace[1] - pace[0]) * 1000) if pace is not None else 0
                    if pace is not None and lifetime_ms > 0:
                        pipe.set(key, repr(pace[1]), px=lifetime_ms)
                    else:
                        pipe.delete(key)
                await pipe.execute()

        try:
            await self._link.run(write)
        except SharedStateDown:
            await self._local.remember(paces)
