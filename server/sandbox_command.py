"""`tasklens sandbox`: the simulated provider APIs on a loopback port, for any client or SDK to use."""

from __future__ import annotations

import socket
import sys

import anyio

from tasklens.tools.providers import SPECS

from .sandbox import CATALOG, SANDBOX_KEYS, Sandbox, serve_on_loopback
from .transports import LISTEN_ERRNOS, listen_failure


def usage_lines(sandbox: Sandbox, origin: str) -> list[str]:
    """What a person needs to point tasklens, or a provider SDK, at the running sandbox."""
    lines = [f"tasklens sandbox on {origin} (Ctrl-C to stop). To use it from tasklens or an SDK:"]
    for spec in SPECS:
        lines.append(
            f"  export {spec.url_variable}={sandbox.base_url(spec.name, origin=origin)} "
            f"{spec.key_variable}={SANDBOX_KEYS[spec.name]}"
        )
    for spec in SPECS:
        if spec.sandbox_defaults:
            pairs = (f"{spec.default_variable(field)}={value}" for field, value in spec.sandbox_defaults.items())
            lines.append(f"  export {' '.join(pairs)}")
    lines.append(
        f"Seeded tasks ({len(CATALOG)} scenarios): tasklens sandbox --tasks, or GET {origin}/_sandbox/catalog; "
        f"faults: POST {origin}/_sandbox/faults"
    )
    return lines


async def _serve(port: int, host: str) -> None:
    sandbox = Sandbox()
    async with serve_on_loopback(sandbox, host=host, port=port) as origin:
        sys.stdout.write("\n".join(usage_lines(sandbox, origin)) + "\n")
        sys.stdout.flush()
        await anyio.sleep_forever()


def run_sandbox(port: int, host: str = "127.0.0.1") -> int:
    """Serve until interrupted (the same server the tests use, so every fault kind works); 3 when the
    port cannot be bound."""
    try:
        anyio.run(_serve, port, host)
    except OSError as error:
        if error.errno not in LISTEN_ERRNOS and not isinstance(error, socket.gaierror):
            raise
        sys.stderr.write(f"tasklens sandbox: cannot listen on {host}:{port}: {listen_failure(error)}.\n")
        return 3
    return 0


def print_tasks() -> int:
    """The seeded tasks, one line each, to try with `tasklens call --sandbox` (no server needed)."""
    width = max(len(entry.task_id) for entry in CATALOG)
    for entry in CATALOG:
        sys.stdout.write(f"{entry.provider:<10}  {entry.task_id:<{width}}  {entry.scenario}\n")
    sys.stdout.write(
        "\nTry one: tasklens call --sandbox get_task --provider deepomatic --task-id 269999729 "
        "(Send.ai tasks use the sandbox's default team and project).\n"
    )
    return 0
