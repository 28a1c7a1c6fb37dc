"""A committed snapshot of `tools/list`: any change to what agents see must show up in review.

Run with TASKLENS_UPDATE_SNAPSHOTS=1 to rewrite the snapshot after an intended change.
"""

from __future__ import annotations

import json
import os

import pytest
from mcp import Client

from support.mcp_harness import sandbox_server, tokens
from support.paths import SNAPSHOTS

pytestmark = pytest.mark.anyio
SNAPSHOT = SNAPSHOTS / "tools_list.json"
PER_TOOL_BUDGET = 700
AVERAGE_BUDGET = 600  # per tool: every tool's schema is paid for on every turn


async def _listing(mode: str) -> list[dict]:
    async with Client(sandbox_server(), mode=mode) as client:
        tools = (await client.list_tools()).tools
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_list_matches_the_committed_snapshot(mode: str) -> None:
    listing = await _listing(mode)
    rendered = json.dumps(listing, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("TASKLENS_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), "no snapshot yet: run with TASKLENS_UPDATE_SNAPSHOTS=1"
    assert rendered == SNAPSHOT.read_text(), "tools/list changed: review it, then TASKLENS_UPDATE_SNAPSHOTS=1"


async def test_tools_list_token_budget() -> None:
    listing = await _listing("legacy")
    per_tool = {tool["name"]: tokens(tool) for tool in listing}
    print("tools/list tokens (o200k_base):", per_tool, "total", sum(per_tool.values()))
    assert all(count <= PER_TOOL_BUDGET for count in per_tool.values()), per_tool
    assert sum(per_tool.values()) <= AVERAGE_BUDGET * len(per_tool), per_tool
