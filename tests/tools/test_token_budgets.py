"""Token budgets for get_task and find_tasks results, measured offline (o200k_base) on the sandbox.

* a concise result is at most 300 tokens (its share of the raw upstream JSON, with every decisive
  fact kept, is checked by test_fact_recall.py);
* text plus structure together stay under 2.6× the structured content: the text block is the same compact
  JSON (clients read one or the other), and its escaping inside a JSON string costs ~10% more tokens; a
  typical result measures 205 / 81 = 2.53×. A third copy, or indentation, would break it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client

from support.catalog_calls import unthrottled_server
from support.mcp_harness import raw_task, sandbox_server, text_of, tokens, wire_json
from tasklens.server.sandbox import CATALOG, ManualClock, Sandbox
from tasklens.server.sandbox.catalog import ANGO_PROJECT

pytestmark = pytest.mark.anyio
CONCISE_BUDGET = 300
DUPLICATION_BUDGET = 2.6


async def _raw(sandbox: Sandbox, entry: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http:
        return await raw_task(http, entry, ango_answers=True)  # tasklens reads Ango answers to count objects


async def test_concise_get_task_budgets_on_every_sandbox_task() -> None:
    sandbox = Sandbox(clock=ManualClock())
    rows = []
    over: list[str] = []
    async with Client(sandbox_server(sandbox)) as client:
        for entry in CATALOG:
            arguments = {"provider": entry.provider, "task_id": entry.task_id}
            if entry.team_id:
                arguments |= {"team_id": entry.team_id, "project_id": entry.project_id}
            result = await client.call_tool("get_task", arguments)
            assert not result.is_error, (entry, text_of(result))
            structured = tokens(result.structured_content)
            raw = tokens(await _raw(sandbox, entry))
            whole = tokens(wire_json(result))
            rows.append((entry.provider, entry.task_id, structured, raw, structured / raw))
            assert tokens(text_of(result)) == structured
            if structured > CONCISE_BUDGET:
                over.append(f"{entry.task_id}: {structured} tokens > {CONCISE_BUDGET}")
            if whole > DUPLICATION_BUDGET * structured:
                over.append(f"{entry.task_id}: whole result {whole} > {DUPLICATION_BUDGET} x {structured}")
    print("\nprovider    task                                  concise  raw    ratio")
    for provider, task_id, structured, raw, ratio in rows:
        print(f"{provider:11} {task_id:37} {structured:7} {raw:6} {ratio:6.1%}")
    assert not over, over


FIND_BUDGET = {"concise": 1500, "detailed": 4000}


async def test_find_tasks_pages_fit_their_budget() -> None:
    """A concise page of 20 rows with counts is at most 1,500 tokens, a detailed one 4,000, whatever the
    limit asked: rows that do not fit are left to next_cursor, and the note says so. Ango's 20 rows fit
    whole; Maxsight's UUID ids and assignees cost more, so fewer of them do."""
    sandbox = Sandbox(clock=ManualClock(), ango_requests_per_minute=None)
    over: list[str] = []
    async with Client(unthrottled_server(sandbox)) as client:
        for base in ({"provider": "ango", "project_id": ANGO_PROJECT}, {"provider": "maxsight"}):
            for response_format, limit in (("concise", 20), ("concise", 100), ("detailed", 20), ("detailed", 100)):
                arguments = {**base, "limit": limit, "response_format": response_format}
                result = await client.call_tool("find_tasks", arguments)
                content = result.structured_content
                assert not result.is_error and content is not None, text_of(result)
                size, rows = tokens(text_of(result)), len(content["tasks"])
                print(f"{base['provider']:9} {response_format:9} limit {limit:3}: {rows:3} rows, {size} tokens")
                assert "counts" in content and rows >= 10
                if rows < limit:
                    assert "did not fit; next_cursor lists them" in content["note"]
                if size > FIND_BUDGET[response_format]:
                    over.append(f"{arguments}: {size} tokens")
                if base["provider"] == "ango" and (response_format, limit) == ("concise", 20):
                    assert rows == 20
    assert not over, over
