"""Simulated provider APIs for tasklens: the embedded default and the clients' test double.

The sandbox serves Ango Hub, Deepomatic v0.7, Send.ai v2 and Moody's Maxsight v5 from one ASGI
app, one path prefix per provider host (``/ango``, ``/deepomatic``, ``/sendai``, ``/maxsight``).
It is written from the provider documentation only (never from tasklens' own clients), so a
client's misreading of an API cannot be mirrored by its double.

Quick use::

    sb = Sandbox(clock=ManualClock())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb), base_url="http://sandbox") as c:
        r = await c.get("/deepomatic/v0.7/tasks/269999729/", headers={"X-API-KEY": SANDBOX_KEYS["deepomatic"]})

Seeded scenarios are listed in :data:`CATALOG`; timed transitions follow ``sb.clock``; faults are
injected with ``sb.faults.add(Fault(...))``; every request is recorded in ``sb.requests``. A
control plane under ``/_sandbox/`` offers the same over HTTP (see :mod:`.control`).
"""

from __future__ import annotations

from .app import Sandbox
from .catalog import CATALOG, CatalogEntry
from .clock import Clock, ManualClock, WallClock
from .faults import FAULT_KINDS, Fault, FaultBook, SimulatedDisconnect
from .keys import SANDBOX_KEYS
from .loopback import serve_on_loopback
from .requestlog import RecordedRequest, RequestLog

__all__ = [
    "CATALOG",
    "FAULT_KINDS",
    "SANDBOX_KEYS",
    "CatalogEntry",
    "Clock",
    "Fault",
    "FaultBook",
    "ManualClock",
    "RecordedRequest",
    "RequestLog",
    "Sandbox",
    "SimulatedDisconnect",
    "WallClock",
    "serve_on_loopback",
]
