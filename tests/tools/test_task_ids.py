"""Ids from the model are checked and encoded so they can never change an upstream URL's structure."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from mcp import Client

from support.mcp_harness import sandbox_server
from tasklens.tools.errors import ProviderError
from tasklens.tools.task_ids import checked_id, path_segment

GOOD = ["269999729", "6453677fc47af30015be5a58", "task_abcdef123456", "497f6eca-6276-4993-bfeb-53cbbbba6f08", "a.b:c"]
BAD = [
    "",
    " ",
    "..",
    ".",
    "../etc",
    "a/b",
    "a?b=1",
    "a#frag",
    "%2e%2e",
    "a b",
    "a\nb",
    "a\x00b",
    "é",
    "x" * 129,
    "-lead",
]


@pytest.mark.parametrize("value", GOOD)
def test_real_id_shapes_pass_unchanged(value: str) -> None:
    assert checked_id("ango", "task_id", value, "e.g.") == value
    segment = path_segment("ango", "task_id", value, "e.g.")
    assert unquote(segment) == value and "/" not in segment


@pytest.mark.parametrize("value", BAD)
def test_structure_changing_ids_are_refused_with_a_sentence(value: str) -> None:
    with pytest.raises(ProviderError) as caught:
        checked_id("deepomatic", "task_id", value, "269999729")
    error = caught.value
    assert error.kind == "invalid_argument"
    assert "task_id" in error.for_model() and "269999729" in error.for_model()
    assert "\n" not in error.for_model()


@pytest.mark.anyio
async def test_a_numeric_task_id_is_read_as_its_digits_and_the_schema_still_says_string() -> None:
    # Found with the MCP Inspector CLI, which sends --tool-arg task_id=269999729 as a JSON number.
    async with Client(sandbox_server()) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "get_task")
        assert tool.input_schema["properties"]["task_id"]["type"] == "string"
        result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": 269999729})
        assert not result.is_error and result.structured_content["id"] == "269999729"
        refused = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": True})
        assert refused.is_error


@pytest.mark.anyio
async def test_every_tool_reads_numeric_ids_as_digits() -> None:
    async with Client(sandbox_server()) as client:
        history = await client.call_tool("get_task_history", {"provider": "deepomatic", "task_id": 269999729})
        assert not history.is_error and history.structured_content["task_id"] == "269999729"
        polled = await client.call_tool("poll_task", {"provider": "deepomatic", "task_ids": [269999729], "wait_s": 0})
        assert not polled.is_error and "269999729" in json.dumps(polled.structured_content)
