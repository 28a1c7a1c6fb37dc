"""The server through a real MCP client: in memory (both protocol generations), stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mcp import Client, StdioServerParameters

from support.mcp_harness import SERVE_SANDBOX, sandbox_server, text_of, wait_for_http
from support.ports import free_port
from tasklens.server.app import build_server
from tasklens.server.config import load_config

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
async def test_get_task_on_every_provider_in_both_protocol_generations(mode: str) -> None:
    calls = {
        "deepomatic": {"task_id": "269999729"},
        "sendai": {"task_id": "task_abcdef123456", "team_id": "team_123456", "project_id": "proj_123456"},
        "maxsight": {"task_id": "497f6eca-6276-4993-bfeb-53cbbbba6f08"},
        "ango": {"task_id": "6453677fc47af30015be5a58"},
    }
    async with Client(sandbox_server(), mode=mode) as client:
        for provider, arguments in calls.items():
            result = await client.call_tool("get_task", {"provider": provider, **arguments})
            assert not result.is_error, text_of(result)
            data = result.structured_content
            assert data["provider"] == provider and data["id"] == arguments["task_id"]
            assert data["sandbox"] is True
            # text and structure carry the same compact JSON, with no nulls anywhere
            assert json.loads(text_of(result)) == data
            assert "null" not in text_of(result) and "\n" not in text_of(result)


@pytest.mark.parametrize("mode", MODES)
async def test_tool_annotations_are_read_only_idempotent_open_world(mode: str) -> None:
    async with Client(sandbox_server(), mode=mode) as client:
        for tool in (await client.list_tools()).tools:
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is True
            assert tool.annotations.idempotent_hint is True
            assert tool.annotations.open_world_hint is True
            assert tool.annotations.destructive_hint is False


@pytest.mark.parametrize("mode", MODES)
async def test_anticipated_failures_are_one_sentence_is_error_results(mode: str) -> None:
    async with Client(sandbox_server(), mode=mode) as client:
        cases = [
            ({"provider": "deepomatic", "task_id": "999999999"}, "no task 999999999"),
            ({"provider": "maxsight", "task_id": "../../admin"}, "characters an id cannot have"),
            (
                {"provider": "sendai", "task_id": "task_abcdef123456", "team_id": "team_123456", "project_id": "nope"},
                "Send.ai",
            ),
        ]
        for arguments, expected in cases:
            result = await client.call_tool("get_task", arguments)
            assert result.is_error
            text = text_of(result)
            assert expected in text
            assert "Traceback" not in text and "<html" not in text.lower() and len(text) < 1000


@pytest.mark.parametrize("mode", MODES)
async def test_unconfigured_provider_names_the_variable(mode: str) -> None:
    async with Client(build_server(load_config({})), mode=mode) as client:
        result = await client.call_tool("get_task", {"provider": "maxsight", "task_id": "x1"})
        assert result.is_error and "MAXSIGHT_API_KEY" in text_of(result)


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_subprocess(mode: str) -> None:
    parameters = StdioServerParameters(
        command=SERVE_SANDBOX[0], args=SERVE_SANDBOX[1:], env={**os.environ, "TASKLENS_LOG_LEVEL": "INFO"}
    )
    async with Client(parameters, mode=mode) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert "get_task" in names
        result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})
        assert not result.is_error and result.structured_content["state"] == "succeeded"


async def test_streamable_http_subprocess() -> None:
    port = free_port()
    process = subprocess.Popen(
        [*SERVE_SANDBOX, "--http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TASKLENS_LOG_LEVEL": "WARNING"},
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        await wait_for_http(url, process)
        for mode in MODES:
            async with Client(url, mode=mode) as client:
                result = await client.call_tool(
                    "get_task", {"provider": "maxsight", "task_id": "497f6eca-6276-4993-bfeb-53cbbbba6f08"}
                )
                assert not result.is_error and result.structured_content["state"] == "waiting_on_human"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
    assert process.returncode is not None


def test_demo_command_runs_end_to_end() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tasklens.server", "demo"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "all calls behaved as expected" in completed.stdout
    for provider in ("ango", "deepomatic", "sendai", "maxsight"):
        assert f"$ tasklens call --sandbox get_task --provider {provider} --task-id " in completed.stdout
    assert "isError:" in completed.stdout
    assert "$ tasklens call --sandbox summarize_export --source ango:" in completed.stdout
    assert '"assets":' in completed.stdout
    assert max(len(line) for line in completed.stdout.splitlines()) <= 200  # results are cut, commands shown
