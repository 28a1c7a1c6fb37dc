"""Running `tasklens` the way a person does: the installed script, a clean environment, a real terminal.

`tasklens()` is the console script pip installed beside this interpreter, so a test runs exactly what a
person types. `person_env()` drops every provider and tasklens variable of the machine running the suite.
`in_terminal()` runs a command on a pseudo-terminal and types into it: Ctrl-C there is the terminal's
SIGINT to the foreground process group, as at a keyboard.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIXES = ("TASKLENS_", "ANGO_", "DEEPOMATIC_", "SENDAI_", "MAXSIGHT_")


def tasklens() -> str:
    """The `tasklens` script of this installation (the one a person's PATH finds in this environment)."""
    script = Path(sys.executable).parent / "tasklens"
    assert script.is_file(), f"no tasklens script beside {sys.executable}: install the package first"
    return str(script)


def person_env(**extra: str) -> dict[str, str]:
    """This process's environment without any tasklens or provider variable, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(PREFIXES)}
    return {**env, **extra}


@dataclass
class Terminal:
    """What a command wrote to its terminal, and how it ended."""

    output: str
    exit_code: int
    seconds: float  # from the keys typed (or the start) to the exit


def in_terminal(
    argv: Sequence[str],
    *,
    wait_for: str,
    keys: bytes,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout_s: float = 30,
) -> Terminal:
    """Run `argv` on a pseudo-terminal, wait until its output shows `wait_for`, type `keys`, and read
    until it exits (killed after `timeout_s`, which fails the caller's exit-code check)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(argv[0], list(argv), dict(env if env is not None else os.environ))
    output = b""
    deadline = time.monotonic() + timeout_s
    typed_at: float | None = None
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if typed_at is None and wait_for.encode() in output:
                os.write(fd, keys)
                typed_at = time.monotonic()
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal: it has exited
                    break
                if not chunk:
                    break
                output += chunk
        else:
            os.kill(pid, 9)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    ended = time.monotonic()
    return Terminal(
        output=output.decode(errors="replace"),
        exit_code=os.waitstatus_to_exitcode(status),
        seconds=ended - (typed_at if typed_at is not None else started),
    )
