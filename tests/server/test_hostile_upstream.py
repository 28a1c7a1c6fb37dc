"""An upstream that answers with a body nested thousands deep, or holding a number thousands of digits
long, gets the tool's own one-sentence error: for every tool and provider, for one task inside a poll
(the others still read), and in `tasklens doctor` (a failed line, no traceback)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from mcp import Client

from support.catalog_calls import catalog_calls
from support.mcp_harness import text_of
from tasklens.server.app import build_server, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.doctor import diagnose, render
from tasklens.server.sandbox import CATALOG, ManualClock, Sandbox
from tasklens.tools.providers import PROVIDERS, Runtime

pytestmark = pytest.mark.anyio
BODIES = {
    "deep array": b"[" * 3000 + b"]" * 3000,
    "deep object": b'{"status": "success", "data": ' + b'{"a":' * 3000 + b"1" + b"}" * 3001,
    "5,000-digit integer": b'{"status": "success", "data": {"id": ' + b"9" * 5000 + b"}}",
}


class Hostile:
    """The sandbox, except that requests whose path contains `marker` get `body` with `status` instead."""

    def __init__(self, sandbox: Sandbox, body: bytes, status: int = 200, marker: str = "") -> None:
        self.sandbox, self.body, self.status, self.marker = sandbox, body, status, marker
        self.hits = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.marker not in scope["path"]:
            await self.sandbox(scope, receive, send)
            return
        self.hits += 1
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def server_on(upstream: Hostile) -> Any:
    runtime = Runtime(transport=httpx.ASGITransport(app=upstream))
    return build_server(Config(providers=sandbox_providers(upstream.sandbox), sandbox=True), lambda name: runtime)


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("body", sorted(BODIES))
async def test_every_tool_answers_a_hostile_body_with_its_own_sentence(body: str, status: int) -> None:
    upstream = Hostile(Sandbox(clock=ManualClock()), BODIES[body], status)
    checked = 0
    async with Client(server_on(upstream)) as client:
        for tool in (await client.list_tools()).tools:
            seen: set[str] = set()
            for arguments in catalog_calls(tool):
                provider = arguments.get("provider", "ango")
                if provider in seen:
                    continue
                seen.add(provider)
                result = await client.call_tool(tool.name, arguments)
                text = text_of(result)
                assert result.is_error, (tool.name, arguments, text[:300])
                if status == 200:
                    assert "with a body tasklens cannot read" in text, (tool.name, provider, text)
                else:
                    assert "(HTTP 400)" in text, (tool.name, provider, text)
                assert "Recursion" not in text and "Traceback" not in text and len(text) < 600
                checked += 1
    assert checked >= 13 and upstream.hits >= checked  # every tool, every provider, reached upstream


@pytest.mark.parametrize("provider", ["ango", "maxsight", "sendai"])
async def test_one_hostile_task_fails_alone_inside_a_poll(provider: str) -> None:
    first = next(entry for entry in CATALOG if entry.provider == provider)
    entries = [
        e for e in CATALOG if (e.provider, e.team_id, e.project_id) == (provider, first.team_id, first.project_id)
    ]
    victim = entries[0].task_id
    upstream = Hostile(Sandbox(clock=ManualClock()), BODIES["deep array"], marker=f"/{victim}")
    arguments: dict[str, Any] = {"provider": provider, "task_ids": [e.task_id for e in entries], "wait_s": 0}
    if entries[0].team_id:
        arguments |= {"team_id": entries[0].team_id, "project_id": entries[0].project_id}
    async with Client(server_on(upstream)) as client:
        result = await client.call_tool("poll_task", arguments)
    assert not result.is_error, text_of(result)
    groups = result.structured_content["tasks"]
    failed = [group for group in groups if "error" in group]
    assert [group["ids"] for group in failed] == [[victim]]
    assert "cannot read (nested deeper than 64 levels)" in failed[0]["error"]
    assert sum(len(group["ids"]) for group in groups if "state" in group) == len(entries) - 1


@pytest.mark.parametrize("body", sorted(BODIES))
async def test_doctor_reports_a_hostile_body_as_a_failed_check(body: str) -> None:
    sandbox = Sandbox(clock=ManualClock())
    upstream = Hostile(sandbox, BODIES[body])
    runtime = Runtime(transport=httpx.ASGITransport(app=upstream))
    diagnoses = await diagnose(Config(providers=sandbox_providers(sandbox), sandbox=True), lambda name: runtime)
    report = io.StringIO(render(diagnoses, sandbox=True)).getvalue()
    assert [d.status for d in diagnoses] == ["failed"] * len(PROVIDERS), report
    assert all("cannot read" in d.fix for d in diagnoses), report
