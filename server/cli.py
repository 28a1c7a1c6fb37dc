"""The `tasklens` command line: serve (stdio or streamable HTTP), the sandbox, and the demo.

Under stdio, stdout carries the protocol, so everything here logs to stderr; only `demo` and
`sandbox`, which are not MCP servers on stdio, write for people on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import anyio

from . import __version__
from .config import ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasklens", description="Task status from Ango, Deepomatic, Send.ai and Maxsight over MCP.")
    parser.add_argument("--version", action="version", version=f"tasklens {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--sandbox", action="store_true", help="serve the built-in simulated providers (no keys)")
    serve.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")

    sandbox = commands.add_parser("sandbox", help="serve the simulated provider APIs on loopback")
    sandbox.add_argument("--port", type=int, default=8800, help="port (default 8800; 0 picks a free one)")

    commands.add_parser("demo", help="start `tasklens serve --sandbox` and call every tool through an MCP client")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        config = load_config(sandbox=True if getattr(args, "sandbox", False) is True else None)
    except ConfigError as error:
        sys.stderr.write(f"tasklens: {error}\n")
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if command == "serve":
        from .transports import serve

        anyio.run(serve, config, args.http, args.host, args.port)
        return 0
    if command == "sandbox":
        from .sandbox_command import run_sandbox

        return run_sandbox(args.port)
    if command == "demo":
        from .demo import run_demo

        return anyio.run(run_demo)
    return 2


if __name__ == "__main__":
    sys.exit(main())
