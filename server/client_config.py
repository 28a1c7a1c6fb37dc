"""`tasklens config CLIENT`: the configuration that starts this installation, ready to paste.

A desktop client (Claude Desktop, VS Code, Cursor) starts its servers without the shell's PATH and
usually in `/`, so `"command": "tasklens"` finds nothing, or another installation, and a default export
root there would be none. The configuration printed here names this installation by its absolute path
(the `tasklens` script that is running, or this interpreter with `-m tasklens.server`), every provider
variable as an empty placeholder (an empty key leaves that provider off), and the folder summarize_export
may read. The configuration goes to stdout, so it can be redirected into a file; where it goes and what
to fill in go to stderr.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tasklens.tools.providers import SPECS

from .config import default_export_roots

CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")
SERVER_NAME = "tasklens"
# What a person fills in to use each provider: its key, and the settings it cannot do without (the
# default tool arguments it has variables for, and the region of a provider without a default host).
PROVIDER_VARIABLES = tuple(
    variable
    for spec in SPECS
    for variable in (
        spec.key_variable,
        *(spec.default_variable(argument.field) for argument in spec.defaults),
        *((spec.region_variable,) if spec.regions and spec.default_url is None else ()),
    )
)
ROOTS_VARIABLE = "TASKLENS_EXPORT_ROOTS"

WHERE = {
    "claude-desktop": "Merge it into claude_desktop_config.json (Settings → Developer → Edit Config; macOS: "
    "~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), fill in the keys you use, restart "
    "Claude Desktop.",
    "claude-code": "Run it in a shell where the keys you use are exported (empty ones leave that provider off); "
    "add --scope user to have tasklens in every project.",
    "vscode": "Save it as .vscode/mcp.json in your workspace (or merge it into MCP: Open User Configuration); VS "
    "Code asks for each value once and keeps the keys as secrets (leave a key empty to skip that provider).",
    "cursor": "Save it as ~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project), fill in the keys "
    "you use, then enable tasklens under Cursor Settings → MCP.",
}


@dataclass(frozen=True)
class Launch:
    """How a client starts tasklens: the command, its arguments and the environment it sets."""

    command: str
    args: tuple[str, ...]
    env: dict[str, str]


def this_installation(argv0: str | None = None, executable: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The absolute command (and leading arguments) that start the tasklens that is running now.

    The `tasklens` script when that is what runs; otherwise (`python -m tasklens.server`, tests) the
    `tasklens` script beside this interpreter, else the interpreter itself with `-m tasklens.server`.
    The interpreter's path is kept as it is, symlink and all: a virtual environment's python is a
    symlink, and resolving it would leave the environment."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    script = Path(argv0)
    if script.name in ("tasklens", "tasklens.exe") and script.is_file() and os.access(script, os.X_OK):
        return str(script.resolve()), ()
    beside = Path(executable).parent / script_name()
    if beside.is_file() and os.access(beside, os.X_OK):
        return os.path.abspath(beside), ()
    return os.path.abspath(executable), ("-m", "tasklens.server")


def script_name() -> str:
    return "tasklens.exe" if sys.platform == "win32" else "tasklens"


def launch(
    *, sandbox: bool, export_roots: Sequence[str], command: str | None = None, leading: Sequence[str] = ()
) -> Launch:
    """The launch for `export_roots` (none: the variable is left out) with this installation's command,
    or `command` and `leading` when given (the manifests' placeholders)."""
    if command is None:
        command, leading = this_installation()
    args = (*leading, "serve", *(["--sandbox"] if sandbox else []))
    env = {} if sandbox else dict.fromkeys(PROVIDER_VARIABLES, "")
    if export_roots:
        env[ROOTS_VARIABLE] = os.pathsep.join(export_roots)
    return Launch(command=command, args=args, env=env)


def render(client: str, spec: Launch) -> str:
    """The configuration text for `client`, exactly as it goes into its file (or shell)."""
    if client == "claude-code":
        return _claude_code(spec)
    entry: dict[str, Any] = {"command": spec.command, "args": list(spec.args)}
    if client == "vscode":
        return _dump(_vscode(entry, spec.env))
    if spec.env:
        entry["env"] = spec.env
    return _dump({"mcpServers": {SERVER_NAME: entry}})


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _vscode(entry: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """VS Code's mcp.json: each provider variable is an input it asks for once (keys kept as secrets)."""
    inputs = []
    server_env = {}
    for name, value in env.items():
        if name not in PROVIDER_VARIABLES:
            server_env[name] = value
            continue
        ident = name.lower().replace("_", "-")
        prompt: dict[str, Any] = {"type": "promptString", "id": ident, "description": _describe(name)}
        if name.endswith("_API_KEY"):
            prompt["password"] = True
        inputs.append(prompt)
        server_env[name] = f"${{input:{ident}}}"
    server: dict[str, Any] = {"type": "stdio", **entry}
    if server_env:
        server["env"] = server_env
    document: dict[str, Any] = {"servers": {SERVER_NAME: server}}
    return {"inputs": inputs, **document} if inputs else document


def _describe(name: str) -> str:
    from .config import ENVIRONMENT_VARIABLES

    return f"{name}: {ENVIRONMENT_VARIABLES[name]} (empty to skip)"


def _claude_code(spec: Launch) -> str:
    """One `claude mcp add` line. The name goes before the -e options, which take several values each.
    Provider variables come from the shell (`"$ANGO_API_KEY"`), so no key is ever printed."""
    words = ["claude", "mcp", "add", SERVER_NAME]
    for name, value in spec.env.items():
        shown = f'"${name}"' if name in PROVIDER_VARIABLES else shlex.quote(value)
        words += ["-e", f"{name}={shown}"]
    words += ["--", shlex.quote(spec.command), *(shlex.quote(arg) for arg in spec.args)]
    return " ".join(words) + "\n"


def run_config(
    client: str,
    *,
    sandbox: bool = False,
    export_roots: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the configuration for `client`; 2 when an export root is not a directory."""
    out = out or sys.stdout
    err = err or sys.stderr
    if export_roots:
        roots = []
        for root in export_roots:
            path = os.path.realpath(os.path.expanduser(root))
            if not os.path.isdir(path):
                err.write(f"tasklens config: --export-root {root!r} is not a directory.\n")
                return 2
            roots.append(path)
    else:
        roots = list(default_export_roots())
    spec = launch(sandbox=sandbox, export_roots=roots)
    out.write(render(client, spec))
    notes = [WHERE[client]]
    if roots:
        notes.append(f"summarize_export may read local files under {', '.join(roots)} (--export-root DIR to change).")
    else:
        notes.append(
            f"No export root: {os.getcwd()} is your home directory or above it. summarize_export will read "
            f"URLs and ango: sources only; rerun with --export-root DIR to let it read files there."
        )
    if not sandbox:
        notes.append("Check the keys afterwards with: tasklens doctor")
    err.write("".join(f"# {note}\n" for note in notes))
    return 0
