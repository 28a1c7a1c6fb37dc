"""The client manifests and the MCP registry entry keep their promises.

Every client file in manifests/ is exactly what `tasklens config CLIENT` prints, with placeholders for
the two paths only a person's machine knows; every variable any of them names is one the server reads
(`ENVIRONMENT_VARIABLES`); every command they start is `tasklens serve` by an absolute path with
arguments the CLI accepts, with an export root set; and server.json validates against the registry's
published schema (vendored in tests/schemas/, pinned by its sha256) and matches the package that
pyproject.toml builds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
import tomllib
from typing import Any

import jsonschema
import pytest

from support.paths import ROOT
from tasklens.server import __version__
from tasklens.server.cli import _parser
from tasklens.server.client_config import PROVIDER_VARIABLES, launch, render
from tasklens.server.config import ENVIRONMENT_VARIABLES
from tasklens.server.transports import DEFAULT_HOST, DEFAULT_PORT
from tasklens.tools.providers import SPECS

MANIFESTS = ROOT / "manifests"
SCHEMA_PATH = ROOT / "tests" / "schemas" / "server.schema.json"
# sha256 of https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
CLIENT_FILES = ("claude_desktop_config.json", "cursor.mcp.json", "vscode.mcp.json", "claude_code.sh")
PLACEHOLDER_COMMAND = "/absolute/path/to/.venv/bin/tasklens"
PLACEHOLDER_ROOT = "/absolute/path/to/exports"


def load(name: str) -> Any:
    return json.loads((MANIFESTS / name).read_text())


def server_json() -> dict[str, Any]:
    return load("server.json")


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_every_manifest_is_covered_here() -> None:
    files = {path.name for path in MANIFESTS.iterdir() if path.name != "README.md"}
    assert files == {*CLIENT_FILES, "server.json"}


def test_the_vendored_schema_is_the_published_2025_12_11_file() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA_PATH.read_text())["$id"] == server_json()["$schema"]


def test_server_json_validates_against_the_registry_schema() -> None:
    check = validator()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(server_json())]
    assert errors == []
    # The validator is live: the registry's own limits reject broken copies.
    too_long = copy.deepcopy(server_json()) | {"description": "x" * 101}
    no_version = {k: v for k, v in server_json().items() if k != "version"}
    bad_name = copy.deepcopy(server_json()) | {"name": "tasklens"}
    for broken in (too_long, no_version, bad_name):
        assert not check.is_valid(broken)


def test_server_json_is_the_package_pyproject_builds() -> None:
    doc = server_json()
    meta = project()
    (package,) = doc["packages"]
    assert doc["version"] == package["version"] == meta["version"] == __version__
    assert package["registryType"] == "pypi" and package["identifier"] == meta["name"]
    assert package["transport"] == {"type": "stdio"}
    arguments = [argument["value"] for argument in package["packageArguments"]]
    assert _parser().parse_args(arguments).command == "serve"
    assert meta["scripts"]["tasklens"] == "tasklens.server.cli:main"


def test_server_json_declares_every_variable_the_server_reads_and_marks_the_keys_secret() -> None:
    declared = {variable["name"]: variable for variable in server_json()["packages"][0]["environmentVariables"]}
    assert set(declared) == set(ENVIRONMENT_VARIABLES)
    for name, variable in declared.items():
        assert variable["description"] == ENVIRONMENT_VARIABLES[name]
        assert variable.get("isSecret", False) == (
            name.endswith("_API_KEY") or name in ("TASKLENS_HTTP_TOKEN", "TASKLENS_REDIS_URL")
        ), name
        assert not variable.get("isRequired", False), "every provider is optional"
    regional = [spec for spec in SPECS if spec.regions]
    assert regional, "no provider declares regions any more: the choices check below checks nothing"
    for spec in regional:
        assert spec.regions is not None
        assert declared[spec.region_variable]["choices"] == list(spec.regions.hosts), spec.name


def test_readme_carries_the_registry_ownership_marker() -> None:
    assert f"mcp-name: {server_json()['name']}" in (ROOT / "README.md").read_text()


def client_entries() -> list[tuple[str, list[str], dict[str, str]]]:
    """(file, command line, env) of every stdio server entry in the client manifests."""
    entries = []
    for name in ("claude_desktop_config.json", "cursor.mcp.json"):
        server = load(name)["mcpServers"]["tasklens"]
        entries.append((name, [server["command"], *server["args"]], server.get("env", {})))
    vscode = load("vscode.mcp.json")
    server = vscode["servers"]["tasklens"]
    assert server["type"] == "stdio"
    entries.append(("vscode.mcp.json", [server["command"], *server["args"]], server.get("env", {})))
    for words in claude_code_commands():
        if "--transport" in words:
            continue
        env = dict(value.split("=", 1) for flag, value in zip(words, words[1:], strict=False) if flag == "-e")
        entries.append(("claude_code.sh", words[words.index("--") + 1 :], env))
    return entries


def claude_code_commands() -> list[list[str]]:
    """Every `claude mcp add` line of claude_code.sh, commented examples included."""
    lines = (MANIFESTS / "claude_code.sh").read_text().splitlines()
    found = [shlex.split(line.lstrip("# ")) for line in lines if line.lstrip("# ").startswith("claude mcp add ")]
    assert len(found) >= 3
    return found


@pytest.mark.parametrize("entry", client_entries(), ids=lambda entry: entry[0])
def test_client_manifests_start_tasklens_serve_with_variables_the_server_reads(
    entry: tuple[str, list[str], dict[str, str]],
) -> None:
    _, command, env = entry
    assert command[0] == PLACEHOLDER_COMMAND  # an absolute path: clients do not see a virtual environment's PATH
    assert _parser().parse_args(command[1:]).command == "serve"
    assert set(env) <= set(ENVIRONMENT_VARIABLES), set(env) - set(ENVIRONMENT_VARIABLES)
    if "--sandbox" not in command:
        assert set(PROVIDER_VARIABLES) <= set(env)
        assert env["TASKLENS_EXPORT_ROOTS"] == PLACEHOLDER_ROOT  # a client's working directory is no root


@pytest.mark.parametrize(
    "client, name",
    [("claude-desktop", "claude_desktop_config.json"), ("cursor", "cursor.mcp.json"), ("vscode", "vscode.mcp.json")],
)
def test_client_manifests_are_what_tasklens_config_prints(client: str, name: str) -> None:
    spec = launch(sandbox=False, export_roots=[PLACEHOLDER_ROOT], command=PLACEHOLDER_COMMAND)
    assert (MANIFESTS / name).read_text() == render(client, spec)


def test_claude_code_manifest_lines_are_what_tasklens_config_prints() -> None:
    lines = (MANIFESTS / "claude_code.sh").read_text().splitlines()
    keys = render("claude-code", launch(sandbox=False, export_roots=[PLACEHOLDER_ROOT], command=PLACEHOLDER_COMMAND))
    sandbox = render("claude-code", launch(sandbox=True, export_roots=[], command=PLACEHOLDER_COMMAND))
    assert keys.rstrip("\n") in lines
    assert "#   " + sandbox.rstrip("\n").replace("add tasklens ", "add tasklens-sandbox ") in lines


def test_vscode_inputs_back_every_reference_and_hide_the_keys() -> None:
    vscode = load("vscode.mcp.json")
    inputs = {item["id"]: item for item in vscode["inputs"]}
    for name, value in vscode["servers"]["tasklens"]["env"].items():
        if name == "TASKLENS_EXPORT_ROOTS":  # a path, not a secret: written out
            continue
        (reference,) = re.findall(r"\$\{input:([^}]+)\}", value)
        assert reference in inputs, reference
        assert inputs[reference]["type"] == "promptString"
        assert inputs[reference].get("password") is (True if name.endswith("_API_KEY") else None)


def test_claude_code_http_line_points_at_what_serve_http_serves() -> None:
    (http,) = [words for words in claude_code_commands() if "--transport" in words]
    assert http[http.index("--transport") + 1] == "http"
    assert http[-1] == f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/mcp"
