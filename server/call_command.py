"""`tasklens call TOOL --arg value …`: the server's tools for people, with no MCP client to set up.

It builds the very server `tasklens serve` runs (the real configuration from the environment, or the
built-in sandbox with `--sandbox`) and calls it through the official MCP client in memory, so a person
sees what an agent gets. Flags come from the tool's own inputSchema in tools/list
(`tasklens.server.tool_args`), so every tool the server registers is callable here without a change to
this module.

Output: aligned text by default (`tasklens.server.render`), or `--json` for the structured content as
one line of JSON. Every call asks for progress (a `progressToken` in the request's `_meta`, as an MCP
client over a wire sends one with its progress callback; the in-memory client does not add it itself),
and stderr shows what the server reports: a redrawn bar on a terminal, one plain line per notification
otherwise, so logs keep a trace.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, Tool

from .render import clean, render_result
from .tool_args import UsageError, did_you_mean, parse_tool_arguments, tool_usage

EXIT_OK = 0
EXIT_TOOL_ERROR = 1  # the tool answered isError: the provider or upstream failed (the message says why)
EXIT_USAGE = 2  # unknown tool, bad flag or value, unusable configuration

USAGE = """\
usage: tasklens call TOOL [--ARGUMENT VALUE ...] [--json] [--sandbox]
       tasklens call --list [--sandbox]
       tasklens call TOOL --help

Call one of the server's tools without an MCP client. Flags are the tool's arguments, named as in its
inputSchema (task_id is --task-id or --task_id); arrays take repeated flags or comma lists; booleans
take --flag, --flag false or --no-flag.

options:
  --json      print the structured result as one line of JSON (for scripts)
  --sandbox   use the built-in simulated providers (no keys, no network)
  --list      list the tools with one line each
  -h, --help  this help, or a tool's arguments after its name

Progress, when the server reports it, goes to stderr (a bar on a terminal, plain lines otherwise).
Task ids to try with --sandbox: tasklens sandbox --tasks.

exit codes:
  0    the tool succeeded
  1    the tool returned an error (provider or upstream problem; the message says what to do)
  2    usage error: unknown tool, bad flag or value, or unusable configuration
  130  interrupted (Ctrl-C)
"""
PROGRESS_TOKEN = "tasklens-call"


@dataclass
class CallRequest:
    """What `tasklens call` was asked to do, before the tool's own flags are read."""

    tool: str | None = None
    tool_tokens: list[str] = field(default_factory=list)
    as_json: bool = False
    list_tools: bool = False
    help: bool = False
    sandbox: bool = False


def parse_call_argv(argv: Sequence[str]) -> CallRequest:
    """Split `tasklens call`'s own options (anywhere on the line) from the tool name and its flags."""
    request = CallRequest()
    for token in argv:
        if token == "--json":
            request.as_json = True
        elif token == "--list":
            request.list_tools = True
        elif token in ("-h", "--help"):
            request.help = True
        elif token == "--sandbox":
            request.sandbox = True
        elif request.tool is None and not token.startswith("-"):
            request.tool = token
        else:
            request.tool_tokens.append(token)
    return request


class ProgressLine:
    """Progress notifications on stderr: one redrawn bar on a terminal, plain lines otherwise."""

    BAR = 24

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.drawn = False

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        note = clean(message or "")[:80]
        if total:
            share = max(0.0, min(1.0, progress / total))
            amount = f"{_number(progress)}/{_number(total)} ({share:.0%})"
        else:
            share, amount = None, _number(progress)
        if self.tty:
            bar = ""
            if share is not None:
                filled = round(share * self.BAR)
                bar = "[" + "#" * filled + "." * (self.BAR - filled) + "] "
            self.stream.write(f"\r\x1b[K{bar}{amount} {note}".rstrip())
            self.drawn = True
        else:
            self.stream.write(f"progress {amount} {note}".rstrip() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar, so the result starts on a clean line."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _summary(tool: Tool, limit: int | None = None) -> str:
    """A tool's one-line description: the first sentence of its description, cut at a word boundary to
    `limit` characters when one is given."""
    text = " ".join(clean(tool.description or tool.title or "").split())
    sentence = text.split(". ", 1)[0].rstrip(".")
    if limit is None or len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _listing(tools: list[Tool], sandbox: bool) -> str:
    """One line per tool, each description fitted to the terminal's width (80 columns when not a terminal)."""
    width = max((len(t.name) for t in tools), default=0)
    room = max(30, shutil.get_terminal_size().columns - width - 2)
    lines = [f"{t.name:<{width}}  {_summary(t, room)}\n" for t in tools]
    lines.append("\nA tool's arguments: tasklens call TOOL --help.")
    if sandbox:
        lines.append(" Task ids to try: tasklens sandbox --tasks.")
    return "".join(lines) + "\n"


def _text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def run_call(server: MCPServer, request: CallRequest, out: TextIO, err: TextIO, *, err_tty: bool) -> int:
    """Carry out `request` against `server` through an in-memory MCP client; returns the exit code."""
    if request.tool is None and not request.list_tools:
        if request.help:
            out.write(USAGE)
            return EXIT_OK
        err.write(USAGE + "\ntasklens call: name a tool, or --list to see them.\n")
        return EXIT_USAGE
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        if request.list_tools:
            if request.as_json:
                listing = [{"name": t.name, "description": _summary(t)} for t in tools]
                out.write(json.dumps(listing, ensure_ascii=False) + "\n")
            else:
                out.write(_listing(tools, request.sandbox))
            return EXIT_OK
        tool = next((t for t in tools if t.name == request.tool), None)
        if tool is None:
            names = ", ".join(t.name for t in tools)
            hint = did_you_mean(request.tool or "", [t.name for t in tools])
            err.write(f"tasklens call: no tool {request.tool!r}.{hint} The tools are {names} (tasklens call --list).\n")
            return EXIT_USAGE
        if request.help:
            out.write(tool_usage(tool.name, tool.description or "", tool.input_schema))
            return EXIT_OK
        try:
            arguments = parse_tool_arguments(tool.name, request.tool_tokens, tool.input_schema)
        except UsageError as error:
            err.write(f"tasklens call: {error}\n")
            return EXIT_USAGE
        progress = ProgressLine(err, err_tty)
        try:
            result = await client.call_tool(
                tool.name, arguments, progress_callback=progress, meta={"progress_token": PROGRESS_TOKEN}
            )
        finally:
            progress.close()
    if result.is_error:
        message = clean(_text_of(result)).removeprefix(f"Error executing tool {tool.name}: ")
        err.write(f"tasklens call: {tool.name} failed: {message}\n")
        return EXIT_TOOL_ERROR
    data = result.structured_content
    if request.as_json:
        payload = data if data is not None else {"text": _text_of(result)}
        out.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        out.write(render_result(data) if data is not None else clean(_text_of(result)) + "\n")
    return EXIT_OK


async def call_main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`tasklens call …` with the server built from the environment (or the sandbox)."""
    from .app import build_server, in_process_sandbox
    from .config import ConfigError, load_config

    out = out or sys.stdout
    err = err or sys.stderr
    request = parse_call_argv(argv)
    try:
        config = load_config(sandbox=True if request.sandbox else None)
    except ConfigError as error:
        err.write(f"tasklens call: {error}\n")
        return EXIT_USAGE
    runtime = None
    if config.sandbox:
        config, runtime = in_process_sandbox(config)
    return await run_call(build_server(config, runtime), request, out, err, err_tty=err.isatty())
