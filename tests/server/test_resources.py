"""The `task://` resource template and the server instructions, through a real MCP client in both
protocol generations."""

from __future__ import annotations

import pytest
from mcp import Client, MCPError

from support.mcp_harness import sandbox_server, text_of
from support.mcp_harness import tokens as count_tokens
from tasklens.server.app import build_server
from tasklens.server.config import load_config
from tasklens.server.sandbox import CATALOG, ManualClock, Sandbox

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
TOOLS = ("get_task", "get_task_history", "poll_task", "summarize_export", "find_tasks")


@pytest.mark.parametrize("mode", MODES)
async def test_task_resource_is_the_same_compact_json_get_task_returns(mode: str) -> None:
    # A frozen clock, so tasks with timed transitions read the same through both doors.
    async with Client(sandbox_server(Sandbox(clock=ManualClock())), mode=mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [(t.uri_template, t.mime_type) for t in templates] == [
            ("task://{provider}/{task_id}{?team_id,project_id}", "application/json"),
            ("export-summary://{summary_id}", "application/json"),  # tests/server/test_summary_resources.py
        ]
        for provider in ("deepomatic", "sendai", "maxsight", "ango"):
            entry = next(
                e for e in CATALOG if e.provider == provider and (provider != "sendai" or e.project_id == "proj_123456")
            )
            uri = f"task://{provider}/{entry.task_id}"
            contents = (await client.read_resource(uri)).contents
            tool = await client.call_tool("get_task", {"provider": provider, "task_id": entry.task_id})
            assert len(contents) == 1 and contents[0].mime_type == "application/json"
            assert contents[0].text == text_of(tool), uri


@pytest.mark.parametrize("mode", MODES)
async def test_sendai_resource_takes_team_and_project_as_query(mode: str) -> None:
    entry = next(e for e in CATALOG if e.provider == "sendai" and e.project_id == "proj_654321")
    async with Client(sandbox_server(), mode=mode) as client:
        uri = f"task://sendai/{entry.task_id}?team_id={entry.team_id}&project_id={entry.project_id}"
        text = (await client.read_resource(uri)).contents[0].text
        assert f'"id":"{entry.task_id}"' in text
        with pytest.raises(MCPError) as missing:  # the server's default project does not hold it
            await client.read_resource(f"task://sendai/{entry.task_id}")
        assert missing.value.error.code == -32602 and "check all three ids" in missing.value.error.message


@pytest.mark.parametrize("mode", MODES)
async def test_resource_failures_are_one_trusted_sentence(mode: str) -> None:
    async with Client(sandbox_server(), mode=mode) as client:
        cases = [
            ("task://jira/PROJ-1", -32602, "task:// URIs name one of ango, deepomatic, sendai, maxsight"),
            ("task://deepomatic/999999999", -32602, "Deepomatic has no task 999999999"),
            ("task://maxsight/..%2F..%2Fadmin", -32602, "Unknown resource"),
        ]
        for uri, code, expected in cases:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.error.code == code and expected in caught.value.error.message, uri
    async with Client(build_server(load_config({})), mode=mode) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("task://maxsight/497f6eca-6276-4993-bfeb-53cbbbba6f08")
        assert caught.value.error.code == -32603 and "MAXSIGHT_API_KEY" in caught.value.error.message


@pytest.mark.parametrize("mode", MODES)
async def test_instructions_are_three_short_lines_naming_every_tool(mode: str) -> None:
    async with Client(sandbox_server(), mode=mode) as client:
        instructions = client.instructions
    assert instructions is not None
    lines = instructions.splitlines()
    assert len(lines) == 3
    for tool in TOOLS:
        assert tool in instructions
    assert count_tokens(instructions) <= 120
