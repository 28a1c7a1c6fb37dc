"""A 10 MiB id costs nothing: every id argument is refused by its length before any per-id work (no
pattern built from it, no request, no cache entry), so memory returns to where it was, and the
project cache holds only ids that passed the id check, a bounded number of them."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mcp import Client

from support.mcp_harness import sandbox_server, text_of
from tasklens.server.sandbox import CATALOG, SANDBOX_KEYS, ManualClock, Sandbox
from tasklens.tools.providers import ProviderSettings, Runtime
from tasklens.tools.providers.ango.client import PROJECT_CACHE_SIZE, AngoClient

pytestmark = pytest.mark.anyio
MIB = 1024 * 1024
ANGO_TASK = next(e for e in CATALOG if e.provider == "ango" and e.task_id == "65f2a9c41e7b3d0012c4a801")
SENDAI = next(e for e in CATALOG if e.provider == "sendai")
CALLS: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("get_task_history", lambda huge: {"provider": "ango", "task_id": ANGO_TASK.task_id, "project_id": huge}),
    ("poll_task", lambda huge: {"provider": "deepomatic", "task_ids": [huge], "wait_s": 0}),
    ("get_task", lambda huge: {"provider": "ango", "task_id": ANGO_TASK.task_id, "project_id": huge}),
    ("get_task", lambda huge: {"provider": "sendai", "task_id": SENDAI.task_id, "team_id": huge}),
    ("get_task_history", lambda huge: {"provider": "ango", "history_id": huge}),
    ("get_task_history", lambda huge: {"provider": "ango", "task_id": ANGO_TASK.task_id, "cursor": huge}),
    ("poll_task", lambda huge: {"provider": "ango", "task_ids": [ANGO_TASK.task_id], "project_id": huge}),
    ("get_task", lambda huge: {"provider": "maxsight", "task_id": huge}),
    ("summarize_export", lambda huge: {"source": huge}),
    ("summarize_export", lambda huge: {"source": "ango:645240ed462db80015ce881f", "stage": huge}),
]


async def test_twenty_10_mib_ids_are_refused_at_once_and_leave_no_memory_behind() -> None:
    sandbox = Sandbox(clock=ManualClock())
    async with Client(sandbox_server(sandbox)) as client:
        for name, arguments in CALLS[:3]:  # warm every code path once with a real id
            await client.call_tool(name, arguments(ANGO_TASK.project_id or "645240ed462db80015ce881f"))
        requests = len(sandbox.requests)
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for i in range(20):
                name, arguments = CALLS[i % len(CALLS)]
                huge = f"{i:02d}" + "9" * (10 * MIB)  # distinct each time, as a cache would key them apart
                started = time.monotonic()
                result = await client.call_tool(name, arguments(huge))
                elapsed = time.monotonic() - started
                text = text_of(result)
                assert result.is_error and "characters" in text and len(text) < 600, (name, text[:300])
                assert elapsed < 2.0, (name, elapsed)
                del huge, result
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
    assert retained < 10 * MIB, f"{retained / MIB:.1f} MiB retained"
    assert len(sandbox.requests) == requests  # none of it went upstream


def ango(sandbox: Sandbox) -> AngoClient:
    settings = ProviderSettings(name="ango", api_key=SANDBOX_KEYS["ango"], base_url=sandbox.base_url("ango"))
    return AngoClient(settings, Runtime(transport=httpx.ASGITransport(app=sandbox)))


async def test_the_project_cache_keeps_only_checked_ids_and_a_bounded_number_of_them() -> None:
    sandbox = Sandbox(clock=ManualClock(), ango_requests_per_minute=None)
    client = ango(sandbox)
    deadline = client.http.deadline()
    try:
        for bad in ("../x", "a b", "x" * 200, "ünïcode"):
            assert await client.project_stages(bad, deadline) == {}
        assert len(client._projects) == 0 and not sandbox.requests  # refused, unread and unremembered
        for i in range(PROJECT_CACHE_SIZE + 50):  # well-formed ids of projects that do not exist (404)
            await client.project_stages(f"{i:024x}", client.http.deadline())
        assert len(client._projects) == PROJECT_CACHE_SIZE
        known = ANGO_TASK.project_id or "645240ed462db80015ce881f"
        assert await client.project_stages(known, client.http.deadline())  # a real project still resolves
    finally:
        await client.aclose()
