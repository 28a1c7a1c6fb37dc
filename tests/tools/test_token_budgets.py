"""Token budgets for get_task results, measured offline (o200k_base) on every sandbox task.

* a concise result is at most 300 tokens;
* it is at most 20% of the raw upstream JSON of the same task, for tasks whose raw JSON is big enough
  for the comparison to mean anything (a bare `pending` Deepomatic task is ~50 tokens raw: no result
  that still names the provider, id and state fits in 20% of that);
* text plus structure together stay under 2.6× the structured content: the text block is the same compact
  JSON (clients read one or the other), and its escaping inside a JSON string costs ~10% more tokens; a
  typical result measures 205 / 81 = 2.53×. A third copy, or indentation, would break it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client

from support.mcp_harness import raw_task, sandbox_server, text_of, tokens, wire_json
from tasklens.server.sandbox import CATALOG, ManualClock, Sandbox

pytestmark = pytest.mark.anyio
CONCISE_BUDGET = 300
RATIO_BUDGET = 0.20
RATIO_APPLIES_FROM = 400  # raw tokens
DUPLICATION_BUDGET = 2.6
# Known, reasoned exceptions to the 20% ratio, each still bounded and explained here.
RATIO_EXCEPTIONS = {
    # Maxsight's raw task is mostly UUIDs (~450 tokens); this one carries a reviewer's note ("request a
    # certified copy before approving…"), the most decision-relevant text there is, kept at 80 characters.
    "5d3f9a21-8c47-4b6e-a0d2-3e9b7c1f5a84": 0.30,
}


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
            ratio_budget = RATIO_EXCEPTIONS.get(entry.task_id, RATIO_BUDGET)
            if raw >= RATIO_APPLIES_FROM and structured > ratio_budget * raw:
                over.append(f"{entry.task_id}: {structured} tokens > {ratio_budget:.0%} of raw {raw}")
    print("\nprovider    task                                  concise  raw    ratio")
    for provider, task_id, structured, raw, ratio in rows:
        print(f"{provider:11} {task_id:37} {structured:7} {raw:6} {ratio:6.1%}")
    assert not over, over
    assert sum(raw >= RATIO_APPLIES_FROM for *_, raw, _ in rows) >= 10, "too few realistically sized sandbox tasks"
