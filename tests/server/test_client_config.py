"""`tasklens config CLIENT` prints a configuration that starts this installation as pasted.

The proof is a client's: the printed Claude Desktop configuration is written into a scratch config file,
and the server is started with exactly the command, arguments and environment it names, from `/` with a
bare PATH (what a desktop client gives its servers), then listed over stdio with the official MCP client.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from support.person import person_env, tasklens
from tasklens.server.client_config import CLIENTS, PROVIDER_VARIABLES, this_installation
from tasklens.server.config import ENVIRONMENT_VARIABLES

pytestmark = pytest.mark.anyio


def config(argv: list[str], cwd: Path, command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or [tasklens()]), "config", *argv],
        cwd=cwd,
        env=person_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_pasted_claude_desktop_config_starts_the_server_from_slash(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    printed = config(["claude-desktop"], exports)
    assert printed.returncode == 0, printed.stderr
    scratch = tmp_path / "claude_desktop_config.json"
    scratch.write_text(printed.stdout)
    entry = json.loads(scratch.read_text())["mcpServers"]["tasklens"]
    assert entry["command"] == str(Path(tasklens()).resolve()) and entry["args"] == ["serve"]
    assert entry["env"] == {**dict.fromkeys(PROVIDER_VARIABLES, ""), "TASKLENS_EXPORT_ROOTS": str(exports.resolve())}
    assert "claude_desktop_config.json" in printed.stderr and str(exports.resolve()) in printed.stderr

    parameters = StdioServerParameters(
        command=entry["command"], args=entry["args"], env={"PATH": "/usr/bin:/bin", **entry["env"]}, cwd="/"
    )
    async with Client(parameters) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        refused = await client.call_tool("summarize_export", {"source": "/etc/hostname"})
    assert names == ["get_task", "get_task_history", "poll_task", "summarize_export", "find_tasks"]
    text = "".join(block.text for block in refused.content if isinstance(block, TextContent))
    assert refused.is_error and "outside the export roots" in text


async def test_the_sandbox_config_calls_a_tool(tmp_path: Path) -> None:
    printed = config(["cursor", "--sandbox", "--export-root", str(tmp_path)], tmp_path)
    entry = json.loads(printed.stdout)["mcpServers"]["tasklens"]
    assert entry["args"] == ["serve", "--sandbox"] and entry["env"] == {
        "TASKLENS_EXPORT_ROOTS": str(tmp_path.resolve())
    }
    parameters = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"], cwd="/")
    async with Client(parameters) as client:
        result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["state"] == "succeeded"


def test_every_client_gets_the_same_launch(tmp_path: Path) -> None:
    launches = {}
    for client in CLIENTS:
        printed = config([client], tmp_path)
        assert printed.returncode == 0
        if client == "claude-code":
            words = shlex.split(printed.stdout)
            assert words[:4] == ["claude", "mcp", "add", "tasklens"]
            env = dict(value.split("=", 1) for flag, value in zip(words, words[1:], strict=False) if flag == "-e")
            assert all(env[name] == f"${name}" for name in PROVIDER_VARIABLES)  # from the shell: no key printed
            after = words[words.index("--") + 1 :]
            launches[client] = (after[0], after[1:], env["TASKLENS_EXPORT_ROOTS"])
            continue
        document = json.loads(printed.stdout)
        entry = document["servers" if client == "vscode" else "mcpServers"]["tasklens"]
        assert set(entry["env"]) <= set(ENVIRONMENT_VARIABLES)
        launches[client] = (entry["command"], entry["args"], entry["env"]["TASKLENS_EXPORT_ROOTS"])
    assert len(set(map(repr, launches.values()))) == 1, launches


def test_no_export_root_from_home_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = person_env(HOME=str(home))
    printed = subprocess.run(
        [tasklens(), "config", "cursor"], cwd=home, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert printed.returncode == 0
    assert "TASKLENS_EXPORT_ROOTS" not in printed.stdout and "No export root" in printed.stderr
    refused = config(["vscode", "--export-root", str(tmp_path / "missing")], tmp_path)
    assert refused.returncode == 2 and refused.stdout == "" and "is not a directory" in refused.stderr


def test_run_as_a_module_it_names_this_installation(tmp_path: Path) -> None:
    printed = config(["claude-desktop"], tmp_path, command=[sys.executable, "-m", "tasklens.server"])
    entry = json.loads(printed.stdout)["mcpServers"]["tasklens"]
    assert entry["command"] == os.path.abspath(Path(sys.executable).parent / "tasklens")  # the script beside it
    lone = tmp_path / "bin"
    lone.mkdir()
    python = str(lone / "python3")  # an interpreter with no tasklens script beside it
    assert this_installation(argv0="-m", executable=python) == (python, ("-m", "tasklens.server"))
    assert this_installation(argv0=tasklens(), executable=python) == (str(Path(tasklens()).resolve()), ())
