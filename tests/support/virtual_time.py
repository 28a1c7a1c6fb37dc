"""Virtual time shared by the sandbox and tasklens, so minutes of polling run in milliseconds.

The sandbox reads a `ManualClock`; tasklens' provider clients get `VirtualTime.now` and
`VirtualTime.sleep` through their `Runtime`. A sleeper parks until the clock reaches its wake-up
time; a driver task moves the clock to the earliest wake-up only when nothing else in the event
loop can run. So concurrent sleepers wake in time order, and no time passes while a request is
being answered (in-process ASGI transport): what the sandbox records is exactly what tasklens
scheduled, which makes rate-limit and latency assertions exact and deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from mcp.server.mcpserver import MCPServer

from tasklens.server.app import build_server, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.sandbox import ManualClock, Sandbox
from tasklens.tools.providers import Runtime


class VirtualTime:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()
        self._abandoned: set[int] = set()

    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        ticket = next(self._order)
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.now() + seconds, ticket, event))
        try:
            await event.wait()
        except BaseException:
            self._abandoned.add(ticket)  # a cancelled sleeper must not move the clock later
            raise

    @property
    def sleepers(self) -> int:
        """Sleepers still parked (cancelled ones excluded)."""
        return sum(ticket not in self._abandoned for _, ticket, _ in self._sleepers)

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0)
            if loop._ready:  # type: ignore[attr-defined]  # something can still run at this instant
                continue
            while self._sleepers and self._sleepers[0][1] in self._abandoned:
                self._abandoned.discard(heapq.heappop(self._sleepers)[1])
            if not self._sleepers:
                await asyncio.sleep(0.001)  # idle: wait for the test to do something
                continue
            when, _, event = heapq.heappop(self._sleepers)
            if when > self.clock.now():
                self.clock.set(when)
            event.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[VirtualTime]:
        async with anyio.create_task_group() as group:
            group.start_soon(self._drive)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()


def virtual_server(
    sandbox: Sandbox, vt: VirtualTime, *, seed: int = 0, transport: httpx.AsyncBaseTransport | None = None
) -> MCPServer:
    """The real tasklens server on the in-process sandbox, its clients on virtual time."""
    transport = transport or httpx.ASGITransport(app=sandbox)
    config = Config(providers=sandbox_providers(sandbox), sandbox=True)
    return build_server(
        config, lambda name: Runtime(transport=transport, clock=vt.now, sleep=vt.sleep, rng=random.Random(seed))
    )
