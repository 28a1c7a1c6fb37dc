"""The command line as a person meets it: the installed script in a clean environment, real processes, a
real terminal for Ctrl-C and progress bars. Ordinary events end with one sentence and a documented exit
code, never a traceback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from support.person import in_terminal, person_env, tasklens
from tasklens.server.cli import EPILOG
from tasklens.server.config import default_export_roots

pytestmark = pytest.mark.anyio


def run(argv: list[str], cwd: Path | str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=person_env(**extra), capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_bare_tasklens_is_serve_and_ends_cleanly_when_stdin_is_closed(tmp_path: Path) -> None:
    for stdin in (subprocess.DEVNULL, "closed"):
        done = subprocess.run(
            f"exec {tasklens()} <&-" if stdin == "closed" else [tasklens()],
            shell=stdin == "closed",
            stdin=None if stdin == "closed" else stdin,
            cwd=tmp_path,
            env=person_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "ready; providers configured: none" in done.stderr
        assert done.stdout == ""


async def test_python_m_tasklens_server_is_a_server_a_client_can_start(tmp_path: Path) -> None:
    """The shape of a client config that says `"command": "python", "args": ["-m", "tasklens.server"]`."""
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "tasklens.server", "--sandbox"], env=person_env(), cwd=str(tmp_path)
    )
    async with Client(parameters) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == ["get_task", "get_task_history", "poll_task", "summarize_export", "find_tasks"]
    done = run([sys.executable, "-m", "tasklens.server", "--help"], tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("usage: tasklens") and "exit codes:" in done.stdout


@pytest.mark.parametrize("http", [False, True], ids=["stdio", "http"])
def test_ctrl_c_stops_serve_at_once_without_a_traceback(tmp_path: Path, http: bool) -> None:
    argv = [tasklens(), "serve", "--sandbox", *(["--http", "--port", "0"] if http else [])]
    ended = in_terminal(argv, wait_for="ready (sandbox)", keys=b"\x03", env=person_env(), cwd=str(tmp_path))
    assert ended.exit_code == 130, ended.output
    assert "Traceback" not in ended.output and "KeyboardInterrupt" not in ended.output
    assert ended.seconds < 5, ended  # stdio does not wait for a line of input that never comes
    assert ("tasklens demo, tasklens call --list, tasklens config CLIENT" in ended.output) is not http


def test_a_busy_port_is_one_sentence_and_exit_3(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        served = run([tasklens(), "serve", "--sandbox", "--http", "--port", port], tmp_path)
        sandbox = run([tasklens(), "sandbox", "--port", port], tmp_path)
    assert served.returncode == 3 and sandbox.returncode == 3
    assert one_line(served.stderr) == (
        f"tasklens: cannot listen on 127.0.0.1:{port}: the port is in use (another tasklens, or another program); "
        "choose another with --port."
    )
    assert one_line(sandbox.stderr).startswith(f"tasklens sandbox: cannot listen on 127.0.0.1:{port}: the port is")


def test_port_without_http_is_a_usage_error_and_a_mistyped_command_is_named(tmp_path: Path) -> None:
    done = run([tasklens(), "serve", "--sandbox", "--port", "9999"], tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr) == "tasklens serve: --host and --port only apply with --http (stdio has no port)."
    done = run([tasklens(), "serv"], tmp_path)
    assert done.returncode == 2 and "invalid choice: 'serv'" in done.stderr


def test_every_exit_code_is_in_the_epilog_and_the_readme() -> None:
    from support.paths import ROOT

    readme = (ROOT / "README.md").read_text()
    for code in ("0", "1", "2", "3", "130"):
        assert f"\n  {code} " in EPILOG
        assert f"| {code} |" in readme, code


def test_export_roots_are_never_the_filesystem_root_or_the_home_directory(tmp_path: Path) -> None:
    home = tmp_path / "home" / "person"
    project = home / "project"
    project.mkdir(parents=True)
    assert default_export_roots(cwd="/", home=str(home)) == ()
    assert default_export_roots(cwd=str(home), home=str(home)) == ()
    assert default_export_roots(cwd=str(tmp_path / "home"), home=str(home)) == ()  # above home
    assert default_export_roots(cwd=str(project), home=str(home)) == (str(project.resolve()),)


def test_a_server_started_in_slash_refuses_local_paths_before_reading_them() -> None:
    """What a desktop client does: start the server in /. Nothing of the machine is readable by default."""
    done = run([tasklens(), "call", "--sandbox", "summarize_export", "--source", "/etc/hostname"], "/")
    assert done.returncode == 1
    assert one_line(done.stderr).startswith("tasklens call: summarize_export failed: No export roots are configured")
    assert "TASKLENS_EXPORT_ROOTS" in done.stderr and "progress" not in done.stderr


def test_poll_task_shows_progress_on_stderr_lines_and_as_a_bar_on_a_terminal(tmp_path: Path) -> None:
    argv = [tasklens(), "call", "--sandbox", "poll_task", "--provider", "deepomatic"]
    argv += ["--task-ids", "270114611", "--wait-s", "2"]
    done = run(argv, tmp_path)
    assert done.returncode == 0
    progress = done.stderr.splitlines()
    assert len(progress) >= 2 and all(line.startswith("progress ") for line in progress), done.stderr
    assert "0/1 done, 1 running" in progress[-1]
    shown = in_terminal(argv, wait_for="", keys=b"", env=person_env(COLUMNS="100"), cwd=str(tmp_path))
    assert shown.exit_code == 0
    assert shown.output.count("\r\x1b[K[") >= 2 and "next_poll_s" in shown.output


def test_doctor_with_nothing_configured_points_at_the_sandbox_and_config(tmp_path: Path) -> None:
    done = run([tasklens(), "doctor"], tmp_path)
    assert done.returncode == 0
    assert "4 not configured." in done.stdout and "tasklens doctor --sandbox" in done.stdout
    assert "tasklens config CLIENT" in done.stdout


def test_sandbox_tasks_lists_every_seeded_task(tmp_path: Path) -> None:
    from tasklens.server.sandbox.catalog import CATALOG

    done = run([tasklens(), "sandbox", "--tasks"], tmp_path)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    for entry in CATALOG:
        assert [entry.provider, entry.task_id, *entry.scenario.split()] in [line.split() for line in lines]
    assert "tasklens call --sandbox get_task --provider deepomatic --task-id 269999729" in done.stdout


def test_provider_names_are_taken_in_any_case(tmp_path: Path) -> None:
    argv = [tasklens(), "call", "--sandbox", "--json", "get_task", "--provider", "Deepomatic", "--task-id", "269999729"]
    done = run(argv, tmp_path)
    assert done.returncode == 0 and '"provider":"deepomatic"' in done.stdout


def test_list_fits_the_terminal_and_cuts_at_a_word(tmp_path: Path) -> None:
    full = run([tasklens(), "call", "--sandbox", "--list"], tmp_path, COLUMNS="400").stdout.splitlines()
    narrow = run([tasklens(), "call", "--sandbox", "--list"], tmp_path, COLUMNS="70").stdout.splitlines()
    for whole, cut in zip(full[:4], narrow[:4], strict=True):
        assert len(cut) <= 70
        if cut != whole:
            kept = cut.removesuffix("…")
            assert whole.startswith(kept) and whole[len(kept)] in " ,;:", (whole, cut)
