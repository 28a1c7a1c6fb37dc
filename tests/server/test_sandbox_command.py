"""`tasklens sandbox` serves the provider APIs on loopback, and the lines it prints configure tasklens."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tasklens.server.config import load_config
from tasklens.tools.providers import ProviderRegistry

pytestmark = pytest.mark.anyio


async def test_printed_environment_points_tasklens_at_the_running_sandbox() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tasklens.server", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Seeded tasks"):  # the usage ends with the catalog line
            lines.append(process.stdout.readline())
            assert lines[-1], "tasklens sandbox stopped before printing its usage"
        env = dict(pair.split("=", 1) for line in lines if "export" in line for pair in re.findall(r"\S+=\S+", line))
        assert set(env) >= {"ANGO_API_URL", "ANGO_API_KEY", "MAXSIGHT_API_URL", "SENDAI_TEAM_ID"}
        registry = ProviderRegistry(load_config(env).providers)
        try:
            view = await registry.client("sendai").get_task("task_abcdef123456")
            assert view.state == "waiting_on_human" and view.raw_status == "REVIEWING"
            view = await registry.client("maxsight").get_task("497f6eca-6276-4993-bfeb-53cbbbba6f08")
            assert view.stage == "Review"
        finally:
            await registry.aclose()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
