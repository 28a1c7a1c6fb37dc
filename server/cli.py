"""The `tasklens` command line: serve (stdio or streamable HTTP), call, config, doctor, the sandbox, the demo.

Under stdio, stdout carries the protocol, so everything here logs to stderr; only the commands that are
not MCP servers on stdio (`call`, `config`, `doctor`, `demo`, `sandbox`) write for people on stdout.
`call` and `doctor` log warnings only, unless TASKLENS_LOG_LEVEL asks for more.

`tasklens` with no command is `tasklens serve`, options included (`tasklens --sandbox`), because that is
how a client configured with `python -m tasklens.server` starts it. Ordinary events end in one sentence
and an exit code, never a traceback: Ctrl-C (130), a port that cannot be bound (3), a configuration
that cannot be used (2).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import anyio

from . import __version__
from .config import Config, ConfigError, load_config
from .operations import configure_logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANNOT_LISTEN = 3
EXIT_INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT

EPILOG = """\
`tasklens` alone is `tasklens serve`: the MCP server on stdio, for a client to start.
Start here: `tasklens demo`, then `tasklens config CLIENT` for the config to paste into your client.

exit codes:
  0    ok (a server stopped because its client closed stdin)
  1    a tool returned an error; doctor found a configured provider failing; demo saw an unexpected result
  2    usage error (unknown command, tool or flag, bad value) or unusable configuration
  3    serve --http or sandbox could not listen (port in use, address not on this machine)
  130  interrupted (Ctrl-C)"""

COMMANDS = ("serve", "sandbox", "call", "config", "doctor", "demo")
TERMINAL_HINT = """\
tasklens serve speaks MCP on stdin and stdout, for a client to start; a terminal has nothing to say to it.
To use tasklens yourself: tasklens demo, tasklens call --list, tasklens config CLIENT. Ctrl-C stops it.
"""


def _parser() -> argparse.ArgumentParser:
    from .client_config import CLIENTS
    from .transports import DEFAULT_HOST, DEFAULT_PORT

    parser = argparse.ArgumentParser(
        prog="tasklens",
        description="Task status from Ango, Deepomatic, Send.ai and Maxsight over MCP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tasklens {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")

    serve = commands.add_parser(
        "serve",
        help="run the MCP server (stdio by default; the command a client starts)",
        description="Run the MCP server: on stdio for a client that starts it, or streamable HTTP at /mcp.",
        epilog="exit codes: 0 stdin closed; 2 unusable configuration or options; 3 --http could not listen; "
        "130 Ctrl-C.",
    )
    serve.add_argument("--sandbox", action="store_true", help="serve the built-in simulated providers (no keys)")
    serve.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", help=f"with --http: bind address (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, help=f"with --http: port (default {DEFAULT_PORT}; 0 picks a free one)")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the simulated provider APIs on loopback, or list their seeded tasks",
        epilog="exit codes: 0 stopped; 3 could not listen on the port; 130 Ctrl-C.",
    )
    sandbox.add_argument("--port", type=int, default=8800, help="port (default 8800; 0 picks a free one)")
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1; 0.0.0.0 for replicas in other containers to share it)",
    )
    sandbox.add_argument(
        "--tasks", action="store_true", help="list the seeded tasks (provider, id, what each shows) and exit"
    )

    # `call` parses its own arguments (they come from each tool's schema); listed here for --help.
    commands.add_parser("call", help="call a tool from the terminal: tasklens call TOOL --arg value (see call --help)")

    config = commands.add_parser(
        "config",
        help="print the client configuration that starts this installation, ready to paste",
        description="Print the configuration CLIENT needs to start this tasklens: the absolute path of this "
        "installation (clients do not see your virtual environment's PATH), every provider variable as a "
        "placeholder, and the folder summarize_export may read. The configuration goes to stdout; where "
        "to put it goes to stderr.",
        epilog="exit codes: 0 printed; 2 unknown client or an export root that is not a directory.",
    )
    config.add_argument("client", choices=CLIENTS, help="the client to configure")
    config.add_argument("--sandbox", action="store_true", help="start the built-in simulated providers (no keys)")
    config.add_argument(
        "--export-root",
        action="append",
        metavar="DIR",
        help="a folder summarize_export may read files from (repeatable; default the current directory, "
        "unless it is your home directory or /)",
    )

    doctor = commands.add_parser(
        "doctor",
        help="check each provider's configuration and key with one cheap call",
        description="For each provider: configured or not, whether the key works (one cheap authenticated "
        "read), latency, and the fix for each problem. Keys are never printed.",
        epilog="exit codes: 0 every configured provider works (or none is configured); 1 one fails (or has a "
        "key but no region); 2 unusable configuration.",
    )
    doctor.add_argument("--sandbox", action="store_true", help="check the built-in simulated providers instead")

    commands.add_parser(
        "demo",
        help="start `tasklens serve --sandbox` and call every tool through an MCP client",
        epilog="exit codes: 0 every call behaved as expected; 1 one did not.",
    )
    return parser


def _quiet_level() -> str:
    """WARNING for the commands people read, unless TASKLENS_LOG_LEVEL says otherwise (checked later)."""
    level = os.environ.get("TASKLENS_LOG_LEVEL", "").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def _with_command(argv: list[str]) -> list[str]:
    """`argv` with `serve` put in front when it starts with no command (bare `tasklens`, `tasklens
    --sandbox`); a first word that is not a command is left for the parser to refuse."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["serve", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `tasklens` command; returns its exit code (see EPILOG)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _main(argv: list[str]) -> int:
    if argv[:1] == ["call"]:
        from .call_command import call_main

        configure_logging(_quiet_level())
        return anyio.run(call_main, argv[1:])
    parser = _parser()
    args = parser.parse_args(_with_command(argv))
    if args.command == "config":
        from .client_config import run_config

        return run_config(args.client, sandbox=args.sandbox, export_roots=args.export_root)
    if args.command == "sandbox" and args.tasks:
        from .sandbox_command import print_tasks

        return print_tasks()
    if args.command == "serve" and not args.http and (args.host is not None or args.port is not None):
        sys.stderr.write("tasklens serve: --host and --port only apply with --http (stdio has no port).\n")
        return EXIT_USAGE
    try:
        config = load_config(sandbox=True if getattr(args, "sandbox", False) is True else None)
    except ConfigError as error:
        sys.stderr.write(f"tasklens: {error}\n")
        return EXIT_USAGE
    level = _quiet_level() if args.command == "doctor" else config.log_level
    configure_logging(level, config.log_format)
    if args.command == "serve":
        return _serve(config, args)
    if args.command == "sandbox":
        from .sandbox_command import run_sandbox

        return run_sandbox(args.port, args.host)
    if args.command == "doctor":
        from .doctor import run_doctor

        return anyio.run(run_doctor, config)
    from .demo import run_demo

    return anyio.run(run_demo)


def _serve(config: Config, args: argparse.Namespace) -> int:
    from .transports import DEFAULT_HOST, DEFAULT_PORT, ListenError, listen, serve

    if not args.http:
        if sys.stdin is not None and sys.stdin.isatty():
            sys.stderr.write(TERMINAL_HINT)
        anyio.run(serve, config)
        return EXIT_OK
    host = args.host if args.host is not None else DEFAULT_HOST
    try:
        sock = listen(host, args.port if args.port is not None else DEFAULT_PORT)
    except ListenError as error:
        sys.stderr.write(f"tasklens: {error}\n")
        return EXIT_CANNOT_LISTEN
    with sock:
        anyio.run(serve, config, sock, host)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
