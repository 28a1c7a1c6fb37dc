"""`tasklens call`: the tools from a terminal, through the real server and an in-memory MCP client.

get_task runs against the sandbox through the command's real entry point. Argument types that
get_task does not have (integers, numbers, arrays, booleans) and progress notifications are exercised
on a small server of the test's own, because `tasklens call` reads every flag from the tool's schema
and must not care which tool it calls.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from support.mcp_harness import sandbox_server
from tasklens.server.call_command import CallRequest, parse_call_argv, run_call
from tasklens.server.cli import main
from tasklens.server.render import render_result
from tasklens.server.sandbox.catalog import CATALOG
from tasklens.server.tool_args import UsageError, as_flags, parse_tool_arguments

pytestmark = pytest.mark.anyio

DEEPOMATIC_TASK = ["get_task", "--provider", "deepomatic", "--task-id", "269999729"]


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = await anyio.to_thread.run_sync(main, argv)  # main runs its own event loop
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_text_output_is_aligned_and_json_output_is_the_structured_content(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, text, err = await run_cli(["call", "--sandbox", *DEEPOMATIC_TASK], capsys)
    assert code == 0 and err == ""
    lines = text.splitlines()
    state = next(line for line in lines if line.startswith("state "))
    provider = next(line for line in lines if line.startswith("provider "))
    assert state.split() == ["state", "succeeded"]
    assert state.index("succeeded") == provider.index("deepomatic")  # values share one column
    results = lines.index("results:")
    assert lines[results + 1].split() == ["counts", "predicted:", "1,", "discarded:", "0"]
    predictions = lines.index("  predictions:")  # one prediction: its own lines, not a one-row table
    assert lines[predictions + 1 :] == ["    label  golden retriever", "    score  0.953"]

    code, out, err = await run_cli(["call", *DEEPOMATIC_TASK, "--json", "--sandbox"], capsys)
    assert code == 0 and err == ""
    assert out.count("\n") == 1
    async with Client(sandbox_server()) as client:
        direct = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})
    assert json.loads(out) == direct.structured_content


async def test_a_tool_error_exits_1_with_the_sentence_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run_cli(
        ["call", "--sandbox", "get_task", "--provider", "deepomatic", "--task-id", "999999999"], capsys
    )
    assert code == 1 and out == ""
    assert err.startswith("tasklens call: get_task failed: Deepomatic has no task 999999999")
    assert "Error executing tool" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["call", "--sandbox", "get_tsk"], "no tool 'get_tsk'. Did you mean get_task? The tools are get_task"),
        (
            ["call", "--sandbox", "get_task", "--provider", "ango", "--task-id", "x", "--colour", "red"],
            "get_task has no argument --colour. Its arguments: --provider, --task-id, --team-id",
        ),
        (
            ["call", "--sandbox", "get_task", "--provider", "ango", "--taskid", "x"],
            "get_task has no argument --taskid. Did you mean --task-id? Its arguments:",
        ),
        (
            ["call", "--sandbox", "get_task", "--provider", "acme", "--task-id", "x"],
            "--provider must be one of ango, deepomatic, sendai, maxsight (got 'acme').\n",
        ),
        (
            ["call", "--sandbox", "get_task", "--provider", "deepomatc", "--task-id", "x"],
            "(got 'deepomatc'). Did you mean deepomatic?",
        ),
        (["call", "--sandbox", "get_task", "--provider", "ango"], "get_task needs --task-id"),
        (["call", "--sandbox", "get_task", "--provider"], "--provider needs a value"),
        (["call", "--sandbox"], "name a tool, or --list"),
    ],
)
async def test_usage_errors_exit_2_and_say_what_to_type(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert expected in err


async def test_unusable_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANGO_REGION", "mars")
    monkeypatch.delenv("TASKLENS_SANDBOX", raising=False)
    code, _, err = await run_cli(["call", *DEEPOMATIC_TASK], capsys)
    assert code == 2 and "ANGO_REGION" in err


async def test_list_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(["call", "--list", "--sandbox"], capsys)
    assert code == 0
    first = out.splitlines()[0]
    assert first.split()[0] == "get_task" and "Current state of one task" in first and len(first) <= 120
    code, out, _ = await run_cli(["call", "--list", "--json", "--sandbox"], capsys)
    assert code == 0 and [tool["name"] for tool in json.loads(out)][0] == "get_task"
    code, out, _ = await run_cli(["call", "get_task", "--help", "--sandbox"], capsys)
    assert code == 0
    assert "--provider {ango,deepomatic,sendai,maxsight}" in out and "--response-format" in out
    assert "default concise" in out and "required" in out
    code, out, _ = await run_cli(["call", "--help"], capsys)
    assert code == 0 and "exit codes:" in out and "2    usage error" in out and "130  interrupted" in out


class Echo(BaseModel):
    count: int
    ratio: float
    labels: list[str]
    verbose: bool


def echo_server() -> MCPServer:
    server = MCPServer("echo")

    @server.tool()
    async def echo(count: int, ratio: float, labels: list[str], ctx: Context, verbose: bool = False) -> Echo:
        """Reports progress `count` times, then returns its arguments."""
        for step in range(1, count + 1):
            await ctx.report_progress(step, count, f"step {step}")
        return Echo(count=count, ratio=ratio, labels=labels, verbose=verbose)

    return server


async def call_echo(argv: list[str], *, tty: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_call(echo_server(), parse_call_argv(["echo", *argv]), out, err, err_tty=tty)
    return code, out.getvalue(), err.getvalue()


async def test_flags_are_coerced_from_the_tools_schema() -> None:
    code, out, _ = await call_echo(
        ["--count", "2", "--ratio=0.5", "--labels", "a,b", "--labels", "c", "--verbose", "--json"]
    )
    assert code == 0
    assert json.loads(out) == {"count": 2, "ratio": 0.5, "labels": ["a", "b", "c"], "verbose": True}
    code, out, _ = await call_echo(["--count", "1", "--ratio", "2", "--labels", "x", "--no-verbose", "--json"])
    assert json.loads(out)["verbose"] is False and json.loads(out)["ratio"] == 2.0
    code, out, _ = await call_echo(["--count", "1", "--ratio", "1", "--labels", "x", "--verbose", "false", "--json"])
    assert json.loads(out)["verbose"] is False
    for bad, message in [
        (["--count", "two", "--ratio", "1", "--labels", "x"], "--count takes a whole number"),
        (["--count", "1", "--ratio", "nan", "--labels", "x"], "--ratio takes a number"),
        (["--count", "1", "--count", "2", "--ratio", "1", "--labels", "x"], "--count is given twice"),
        (["--count", "1", "--ratio", "1", "--labels", "x", "--verbose=maybe"], "--verbose takes true or false"),
        (["stray", "--count", "1"], "unexpected 'stray'"),
    ]:
        code, out, err = await call_echo(bad)
        assert code == 2 and out == "" and message in err, err


async def test_progress_is_plain_lines_off_a_terminal_and_one_bar_on_it() -> None:
    argv = ["--count", "3", "--ratio", "1", "--labels", "x"]
    code, out, err = await call_echo(argv)
    assert code == 0
    assert err.splitlines() == ["progress 1/3 (33%) step 1", "progress 2/3 (67%) step 2", "progress 3/3 (100%) step 3"]
    assert out.splitlines()[0].split() == ["count", "3"]
    code, out, err = await call_echo(argv, tty=True)
    assert code == 0 and "\n" not in err
    assert err.count("\r\x1b[K[") == 3 and "[########################] 3/3 (100%) step 3" in err
    assert err.endswith("\r\x1b[K")  # the bar is erased before the result is printed


def test_tasklens_call_own_options_mix_with_the_tools_flags() -> None:
    request = parse_call_argv(["--json", "get_task", "--provider", "ango", "--sandbox", "--task-id", "1"])
    assert request == CallRequest(
        tool="get_task", tool_tokens=["--provider", "ango", "--task-id", "1"], as_json=True, sandbox=True
    )


def test_optional_nullable_and_enum_schemas() -> None:
    schema = {
        "properties": {
            "limit": {"anyOf": [{"type": "integer", "maximum": 50}, {"type": "null"}], "default": None},
            "kinds": {"type": "array", "items": {"enum": ["a", "b"]}},
            "since": {"type": ["string", "null"]},
        }
    }
    assert parse_tool_arguments("t", ["--limit", "5", "--kinds", "a,b", "--since", "2026-01-01"], schema) == {
        "limit": 5,
        "kinds": ["a", "b"],
        "since": "2026-01-01",
    }
    with pytest.raises(UsageError, match="at most 50"):
        parse_tool_arguments("t", ["--limit", "51"], schema)
    with pytest.raises(UsageError, match="one of a, b"):
        parse_tool_arguments("t", ["--kinds", "a,c"], schema)


def test_rendering_strips_terminal_escapes_and_tables_lists_of_objects() -> None:
    text = render_result({"name": "evil\x1b[31mred", "rows": [{"a": 1, "b": "x"}, {"a": 22, "c": True}]})
    assert "\x1b" not in text
    assert text.splitlines() == ["name  evil [31mred", "", "rows:", "   a  b  c", "   1  x", "  22     true"]


def test_the_installed_entry_point_exits_0_and_keeps_stdout_for_the_result() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLENS_")}
    done = subprocess.run(
        [sys.executable, "-m", "tasklens.server", "call", "--sandbox", "--json", *DEEPOMATIC_TASK],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "succeeded"
    assert done.stderr == ""  # no INFO logging for people unless TASKLENS_LOG_LEVEL asks


async def test_a_poll_shows_every_id_with_its_group(capsys: pytest.CaptureFixture[str]) -> None:
    """poll_task's groups are a table whose last column, the ids, is never cut: a person sees them all."""
    ango = [entry.task_id for entry in CATALOG if entry.provider == "ango"]
    code, text, err = await run_cli(
        ["call", "--sandbox", "poll_task", "--provider", "ango", "--task-ids", ",".join(ango), "--wait-s", "0"], capsys
    )
    assert code == 0 and all(line.startswith("progress ") for line in err.splitlines())
    lines = text.splitlines()
    header = lines[lines.index("tasks:") + 1]
    assert header.split() == ["state", "terminal", "changed", "ids"]
    waiting = next(line for line in lines if line.split()[:1] == ["waiting_on_human"])
    assert len(waiting) > 60 and "…" not in text
    assert all(task_id in text for task_id in ango)


def test_list_columns_go_last_and_the_last_column_is_not_cut() -> None:
    long = "x" * 80
    text = render_result({"rows": [{"ids": ["1", "2"], "a": long, "b": "y"}, {"a": "z", "ids": ["3"]}]})
    cut = "x" * 59 + "…"  # CELL_LIMIT characters
    assert text.splitlines() == [
        "rows:",
        "  " + "a".ljust(60) + "  b  ids",
        "  " + cut + "  y  1, 2",
        "  " + "z".ljust(60) + "     3",
    ]
    last = render_result({"rows": [{"a": "z", "detail": long}]}).splitlines()[-1]
    assert last.endswith(long)


def test_sections_become_tables_and_a_list_of_one_is_its_own_lines() -> None:
    """An export summary's shape: names mapped to records become one table headed by the key; a list of
    one object is key/value lines (a one-row table would run a long cell off the screen); a nested
    object in a table cell is cut, the rest of the row stays readable."""
    data = {
        "assets": 3,
        "kinds": {"box": 2, "point": 1},
        "classes": {"Car": {"instances": 12, "assets": 2}, "Person": {"instances": 3, "assets": 1}},
        "questions": {"Weather": {"answered": 2, "answers": {"Sun": 1, "Rain": 1}}},
        "people": {"labelers": {"a@x.io": {"tasks": 2}, "b@x.io": {"tasks": 1}}},
        "entries": [{"stage": "Label", "answer": {"objects": [{"id": "o1"}] * 200, "note": "x" * 500}}],
        "rows": [{"at": "t1", "changes": {"added": 24, "objects": [{"id": 1}, {"id": 2}]}}, {"at": "t2"}],
    }
    assert render_result(data).splitlines() == [
        "assets  3",
        "kinds   box: 2, point: 1",
        "",
        "classes  instances  assets",
        "Car             12       2",
        "Person           3       1",
        "",
        "questions  answered  answers",
        "Weather           2  Sun: 1, Rain: 1",
        "",
        "people:",
        "  labelers  tasks",
        "  a@x.io        2",
        "  b@x.io        1",
        "",
        "entries:",
        "  stage  Label",
        "",
        "  answer:",
        "    note  " + "x" * 500,
        "",
        "    objects:",
        "      id",
        *["      o1"] * 200,
        "",
        "rows:",
        "  at  changes",
        "  t1  added: 24, objects: [2 items]",
        "  t2",
    ]


def test_as_flags_reads_back_as_the_same_arguments() -> None:
    """The demo prints each call as the `tasklens call` line that repeats it."""
    schema = {
        "properties": {
            "provider": {"enum": ["ango", "deepomatic"]},
            "task_ids": {"type": "array", "items": {"type": "string"}},
            "wait_s": {"type": "number"},
            "top_k": {"type": "integer"},
            "verbose": {"type": "boolean"},
            "quiet": {"type": "boolean"},
            "filters": {"type": "object"},
        }
    }
    arguments = {
        "provider": "deepomatic",
        "task_ids": ["1", "2"],
        "wait_s": 0.5,
        "top_k": 5,
        "verbose": True,
        "quiet": False,
        "filters": {"stage": "Label"},
    }
    assert parse_tool_arguments("t", as_flags(arguments), schema) == arguments
    assert parse_tool_arguments("t", ["--provider", "ANGO"], schema) == {"provider": "ango"}
