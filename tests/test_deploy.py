"""The reference deployment in deploy/ names only what tasklens has: its variables, and commands that
tasklens' own command line accepts. (No container runtime runs here; benchmarks/replicas.py runs the same
topology as processes.)"""

from __future__ import annotations

import json
import re

from support.paths import ROOT
from tasklens.server.cli import _parser
from tasklens.server.config import ENVIRONMENT_VARIABLES

DEPLOY = ROOT / "deploy"


def test_every_tasklens_variable_in_deploy_is_one_tasklens_reads() -> None:
    named = set()
    for path in DEPLOY.iterdir():
        named |= set(re.findall(r"\b(TASKLENS_[A-Z_]+)\b", path.read_text()))
    assert {"TASKLENS_REDIS_URL", "TASKLENS_REPLICAS", "TASKLENS_SANDBOX_URL"} <= named
    assert named <= set(ENVIRONMENT_VARIABLES), named - set(ENVIRONMENT_VARIABLES)


def test_every_command_in_deploy_parses_with_the_tasklens_command_line() -> None:
    commands = [json.loads(line) for line in re.findall(r"command: (\[.*\])", (DEPLOY / "compose.yaml").read_text())]
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert cmd is not None
    commands.append(json.loads(cmd.group(1)))
    tasklens = [command for command in commands if command[0] != "redis-server"]
    assert len(tasklens) == 3  # the replicas, the sandbox and the image's default
    for command in tasklens:
        args = _parser().parse_args(command)
        assert args.command in ("serve", "sandbox")
        assert args.host == "0.0.0.0"  # reachable from the load balancer's container


def test_the_load_balancer_reaches_every_replica_the_compose_file_starts() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    nginx = (DEPLOY / "nginx.conf").read_text()
    replicas = re.findall(r"^  (tasklens-\d): \*tasklens$", compose, re.MULTILINE)
    assert len(replicas) == 3
    assert re.findall(r"server (tasklens-\d):8765", nginx) == replicas
    assert 'TASKLENS_REPLICAS: "3"' in compose
