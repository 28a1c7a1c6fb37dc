"""The `tasklens` command line: serve (stdio or streamable HTTP), call, doctor, the sandbox, the demo.

Under stdio, stdout carries the protocol, so everything here logs to stderr; only the commands that are
not MCP servers on stdio (`call`, `doctor`, `demo`, `sandbox`) write for people on stdout. `call` and
`doctor` log warnings only, unless TASKLENS_LOG_LEVEL asks for more.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import anyio

from . import __version__
from .config import ConfigError, load_config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EPILOG = """\
exit codes: 0 ok; 1 a tool returned an error, or doctor found a configured provider failing;
2 usage error (unknown command, tool or flag, bad value, unusable configuration).
`tasklens call --help` and `tasklens doctor --help` say more."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasklens",
        description="Task status from Ango, Deepomatic, Send.ai and Maxsight over MCP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tasklens {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--sandbox", action="store_true", help="serve the built-in simulated providers (no keys)")
    serve.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")

    sandbox = commands.add_parser("sandbox", help="serve the simulated provider APIs on loopback")
    sandbox.add_argument("--port", type=int, default=8800, help="port (default 8800; 0 picks a free one)")

    # `call` parses its own arguments (they come from each tool's schema); listed here for --help.
    commands.add_parser("call", help="call a tool from the terminal: tasklens call TOOL --arg value (see call --help)")

    doctor = commands.add_parser(
        "doctor",
        help="check each provider's configuration and key with one cheap call",
        description="For each provider: configured or not, whether the key works (one cheap authenticated "
        "read), latency, and the fix for each problem. Keys are never printed.",
        epilog="exit codes: 0 every configured provider works; 1 one fails (or has a key but no region); "
        "2 unusable configuration.",
    )
    doctor.add_argument("--sandbox", action="store_true", help="check the built-in simulated providers instead")

    commands.add_parser("demo", help="start `tasklens serve --sandbox` and call every tool through an MCP client")
    return parser


def _quiet_level() -> str:
    """WARNING for the commands people read, unless TASKLENS_LOG_LEVEL says otherwise (checked later)."""
    level = os.environ.get("TASKLENS_LOG_LEVEL", "").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def _log_to_stderr(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format=LOG_FORMAT)
    # httpcore's DEBUG lines carry raw request and response headers (a `Location:` can echo a key).
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["call"]:
        from .call_command import call_main

        _log_to_stderr(_quiet_level())
        return anyio.run(call_main, argv[1:])
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        config = load_config(sandbox=True if getattr(args, "sandbox", False) is True else None)
    except ConfigError as error:
        sys.stderr.write(f"tasklens: {error}\n")
        return 2
    level = _quiet_level() if command == "doctor" else config.log_level
    _log_to_stderr(level)
    if command == "serve":
        from .transports import serve

        anyio.run(serve, config, args.http, args.host, args.port)
        return 0
    if command == "sandbox":
        from .sandbox_command import run_sandbox

        return run_sandbox(args.port)
    if command == "doctor":
        from .doctor import run_doctor

        return anyio.run(run_doctor, config)
    if command == "demo":
        from .demo import run_demo

        return anyio.run(run_demo)
    return 2


if __name__ == "__main__":
    sys.exit(main())
