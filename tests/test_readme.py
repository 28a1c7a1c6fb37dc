"""README is a front page that keeps its promises: every command it shows runs.

Each line of a `bash` block is run by someone: the test command by .ci/run (verbatim), the install lines
by .ci/package (verbatim), and every other `tasklens …` line here, as a person types it, in a clean
environment — servers until they are ready, then Ctrl-C. A `text` block right after a command shows
lines of that command's output (`…` skips lines; the placeholder path stands for this installation's).
Commands named in the prose must be ones the CLI accepts.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.paths import ROOT
from support.person import person_env, tasklens
from tasklens.server.call_command import parse_call_argv
from tasklens.server.cli import _parser, _with_command

README = (ROOT / "README.md").read_text()
TEST_COMMAND = 'pip install -e ".[test]" && python -m pytest'
PLACEHOLDER = "/absolute/path/to/.venv/bin/tasklens"
SECTIONS = (
    "Quick start",
    "Connect a client",
    "Tools",
    "Configuration",
    "Command line",
    "Troubleshooting",
    "Development",
    "Documentation",
)
TOOLS = ("get_task", "get_task_history", "poll_task", "summarize_export")


def fenced_blocks() -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block, in order."""
    return [(lang, body.splitlines()) for lang, body in re.findall(r"```(\w*)\n(.*?)\n```", README, re.S)]


def bash_lines() -> list[str]:
    return [line for lang, lines in fenced_blocks() if lang == "bash" for line in lines]


def script_lines(name: str) -> set[str]:
    return {line.strip() for line in (ROOT / ".ci" / name).read_text().splitlines()}


def own_commands() -> list[tuple[str, list[str]]]:
    """The `tasklens …` lines no CI script runs, each with the text block shown after it (if any)."""
    found: list[tuple[str, list[str]]] = []
    blocks = fenced_blocks()
    for index, (lang, lines) in enumerate(blocks):
        if lang != "bash":
            continue
        shown = blocks[index + 1][1] if index + 1 < len(blocks) and blocks[index + 1][0] == "text" else []
        for line in lines:
            if line.startswith("tasklens ") and line not in script_lines("package"):
                found.append((line, shown if len(lines) == 1 else []))
    return found


def test_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 250
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings == list(SECTIONS)
    assert "mcp-name: io.github.tasklens/tasklens" in README
    for tool in TOOLS:
        assert f"**[{tool}](docs/{tool}.md)**" in README and (ROOT / "docs" / f"{tool}.md").is_file()


def test_the_test_command_is_what_ci_runs_verbatim() -> None:
    development = README.split("## Development", 1)[1]
    block = re.search(r"```bash\n(.+?)\n```", development, re.S)
    assert block is not None and block.group(1) == TEST_COMMAND
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_shown_command_is_run_by_ci_or_here() -> None:
    ci, package = script_lines("run"), script_lines("package")
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    installs = [line for line in bash_lines() if line in quick_start]
    assert "pip install ." in installs and "pip install dist/tasklens-*.whl" in installs
    assert all(line in package for line in installs), set(installs) - package
    for line in bash_lines():
        assert line in ci or line in package or line.startswith("tasklens "), line
    assert not [line for lang, lines in fenced_blocks() if lang == "text" for line in lines if line.startswith("$ ")]


def test_every_docs_page_is_in_the_index_and_docs_links_go_to_files_or_indexed_pages() -> None:
    index = README.split("## Documentation", 1)[1]
    indexed = set(re.findall(r"\(docs/([^)]+\.md)\)", index))
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.name in indexed, page.name
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists() or target in indexed, f"{page.name} links to {target}"


def prose_commands() -> list[str]:
    spans = re.findall(r"`((?:tasklens|python -m tasklens\.server)(?: [^`]*)?)`", README)
    return sorted({span.removeprefix("python -m tasklens.server").removeprefix("tasklens").strip() for span in spans})


@pytest.mark.parametrize("command", prose_commands())
def test_commands_in_the_prose_are_ones_the_cli_accepts(command: str) -> None:
    words = shlex.split(command.replace("[", "").replace("]", "").replace("…", ""))
    words = ["claude-desktop" if word == "CLIENT" else word for word in words]
    if words[:1] == ["config"] and len(words) == 1:  # the command named, not run
        return
    if words[:1] == ["call"]:
        request = parse_call_argv(words[1:])
        assert request.tool in (None, "TOOL", *TOOLS), command
        return
    try:
        _parser().parse_args(_with_command(words))
    except SystemExit as stopped:
        assert stopped.code == 0, command  # --help, --version


def output_matches(shown: list[str], output: str) -> None:
    printed = [line.rstrip() for line in output.splitlines()]
    for line in shown:
        if line == "…":
            continue
        if PLACEHOLDER in line:
            pattern = re.escape(line).replace(re.escape(PLACEHOLDER), r"/\S+/tasklens")
            assert any(re.fullmatch(pattern, text) for text in printed), line
        else:
            assert line.rstrip() in printed, line


@pytest.mark.parametrize("command, shown", own_commands(), ids=[command for command, _ in own_commands()])
def test_readme_command_runs_as_shown(command: str, shown: list[str], tmp_path: Path) -> None:
    words = [tasklens(), *shlex.split(command)[1:]]
    if words[1] in ("serve", "sandbox") and "--tasks" not in words:
        output = start_then_interrupt(words, tmp_path)
    else:
        done = subprocess.run(words, cwd=tmp_path, env=person_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        output = done.stdout
    output_matches(shown, output)


def start_then_interrupt(words: list[str], cwd: Path) -> str:
    """A server command: on a free port, until it says it is ready; Ctrl-C stops it with exit 130."""
    if "--http" in words or words[1] == "sandbox":
        words = [*words, "--port", "0"]
    log = cwd / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            words, cwd=cwd, env=person_env(), stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while not re.search(r"ready|tasklens sandbox on", log.read_text()):
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 130, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    return text
