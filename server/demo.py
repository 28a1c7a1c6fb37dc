"""`tasklens demo`: the product's main job, end to end, with nothing to configure.

It starts `tasklens serve --sandbox` as a subprocess, connects to it with the official MCP client over
stdio exactly as an IDE or chat agent would, lists the tools, and calls them on sandbox tasks of every
provider, including an error case and one batched poll, then summarizes the sandbox Ango project's
export, printing the compact results for a person to read.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from tasklens.tools.providers import PROVIDERS, SPECS_BY_NAME

from .sandbox import CATALOG, CatalogEntry
from .sandbox.catalog import ANGO_PROJECT
from .tool_args import as_flags

TASKS_PER_PROVIDER = 3
RESULT_WIDTH = 160  # characters of a result shown; the printed command shows all of it


def _write(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _demo_calls() -> list[tuple[str, dict[str, Any], str, bool]]:
    """(tool, arguments, why, error expected) for a few catalog tasks of each provider, then a failing call."""
    calls: list[tuple[str, dict[str, Any], str, bool]] = []
    per_provider: dict[str, list[CatalogEntry]] = {}
    for entry in CATALOG:
        per_provider.setdefault(entry.provider, []).append(entry)
    # Ango's tasks come last, next to the Ango history and export calls that follow them.
    for provider in sorted(PROVIDERS, key=lambda name: name == "ango"):
        # The ids a provider addresses its tasks by are the tool arguments it has default variables for.
        fields = [argument.field for argument in SPECS_BY_NAME[provider].defaults]
        for entry in per_provider.get(provider, [])[:TASKS_PER_PROVIDER]:
            arguments: dict[str, Any] = {"provider": provider, "task_id": entry.task_id}
            for field in fields:
                if getattr(entry, field, None):
                    arguments[field] = getattr(entry, field)
            calls.append(("get_task", arguments, entry.scenario, False))
    reworked = next(e for e in CATALOG if e.provider == "ango" and "reworked" in e.scenario)
    calls.append(("get_task_history", {"provider": "ango", "task_id": reworked.task_id}, reworked.scenario, False))
    derived = per_provider["deepomatic"][0]
    calls.append(
        ("get_task_history", {"provider": "deepomatic", "task_id": derived.task_id}, "no history API: derived", False)
    )
    calls.append(("get_task", {"provider": "deepomatic", "task_id": "999999999"}, "an id that does not exist", True))
    deepomatic = [entry.task_id for entry in per_provider.get("deepomatic", [])]
    calls.append(
        (
            "poll_task",
            {"provider": "deepomatic", "task_ids": [*deepomatic, "999999999"], "wait_s": 0},
            "every Deepomatic sandbox task and an unknown id, in one batched read",
            False,
        )
    )
    calls.append(
        (
            "summarize_export",
            {"source": f"ango:{ANGO_PROJECT}", "top_k": 5},
            "the Ango project's whole export (requested, downloaded and read in one pass), summarized",
            False,
        )
    )
    return calls


def _render(result: CallToolResult) -> str:
    """The result on one line: an error's sentence whole, a result's JSON cut to `RESULT_WIDTH`."""
    text = "".join(block.text for block in result.content if isinstance(block, TextContent))
    if result.is_error:
        return f"  isError: {text}"
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except json.JSONDecodeError:
        pass
    if len(text) <= RESULT_WIDTH:
        return "  " + text
    return f"  {text[: RESULT_WIDTH - 1]}… ({len(text):,} characters)"


def _command(tool: str, arguments: dict[str, Any]) -> str:
    """The `tasklens call` line that makes the same call and shows its whole result."""
    return shlex.join(["tasklens", "call", "--sandbox", tool, *as_flags(arguments)])


async def run_demo() -> int:
    """Run the demo; 0 when every call behaved (successes succeeded, the error case was an isError)."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tasklens.server", "serve", "--sandbox"],
        env={**os.environ, "TASKLENS_LOG_LEVEL": os.environ.get("TASKLENS_LOG_LEVEL", "WARNING")},
    )
    _write("tasklens demo: starting `tasklens serve --sandbox` and connecting over stdio…")
    started = time.perf_counter()
    failures = 0
    async with Client(parameters) as client:
        tools = (await client.list_tools()).tools
        _write(f"connected in {time.perf_counter() - started:.1f} s; tools: {', '.join(t.name for t in tools)}\n")
        for tool, arguments, why, expect_error in _demo_calls():
            result = await client.call_tool(tool, arguments)
            _write(f"{why}:\n  $ {_command(tool, arguments)}")
            _write(_render(result))
            if bool(result.is_error) != expect_error:
                failures += 1
                _write("  ^ unexpected result")
    _write(f"\n{'all calls behaved as expected' if not failures else f'{failures} unexpected results'}.")
    return 1 if failures else 0
