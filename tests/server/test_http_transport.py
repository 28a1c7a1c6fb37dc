"""The streamable HTTP transport refuses what it should: a real `tasklens serve --sandbox --http` subprocess,
raw HTTP requests for each refusal and acceptance, and a real MCP client carrying the bearer token."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_harness import INITIALIZE, LEGACY_POST, MAXSIGHT_TASK, SERVE_SANDBOX, wait_for_http
from support.ports import free_port
from tasklens.server import transports
from tasklens.server.config import load_config
from tasklens.server.http_security import BearerTokenGuard, allowed_hosts, exposure_warnings, is_loopback

pytestmark = pytest.mark.anyio
TOKEN = "tl-test-token-7f3a9c2e5b8d1f40"
MODERN_POST = {**LEGACY_POST, "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover"}
DISCOVER = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}


@asynccontextmanager
async def http_server(tmp_path: Path, env: Mapping[str, str], *args: str) -> AsyncIterator[tuple[int, Path]]:
    """`tasklens serve --sandbox --http` on a free port; yields (port, its stderr log file)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVE_SANDBOX, "--http", "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "TASKLENS_LOG_LEVEL": "INFO", **env},
        )
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/mcp", process)
            yield port, log
        finally:
            process.terminate()
            process.wait(timeout=10)


async def post(port: int, headers: Mapping[str, str], body: Any = INITIALIZE, path: str = "/mcp") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"http://127.0.0.1:{port}{path}", headers=dict(headers), json=body)


async def test_loopback_bind_serves_only_its_own_host_and_port(tmp_path: Path) -> None:
    async with http_server(tmp_path, {}) as (port, _):
        # DNS rebinding: the attacker's name in Host (and Origin), in both protocol generations
        for headers, body in ((LEGACY_POST, INITIALIZE), (MODERN_POST, DISCOVER)):
            assert (await post(port, {**headers, "host": f"evil.example:{port}"}, body)).status_code == 421
            assert (await post(port, {**headers, "origin": f"http://evil.example:{port}"}, body)).status_code == 403
        # the SDK's own default would accept any port on 127.0.0.1; tasklens accepts only the bound one
        assert (await post(port, {**LEGACY_POST, "host": f"127.0.0.1:{port + 1}"})).status_code == 421
        assert (await post(port, {**LEGACY_POST, "origin": f"http://127.0.0.1:{port + 1}"})).status_code == 403
        # the bound host:port, under each loopback name, with or without a matching Origin, is served
        for name in ("127.0.0.1", "localhost", "LOCALHOST", "LocalHost"):  # host names are case-insensitive
            accepted = await post(port, {**LEGACY_POST, "host": f"{name}:{port}", "origin": f"HTTP://{name}:{port}"})
            assert accepted.status_code == 200, accepted.text
        assert (await post(port, {**LEGACY_POST, "host": f"EVIL.example:{port}"})).status_code == 421
        assert (await post(port, LEGACY_POST)).status_code == 200
        # and a real client, both protocol generations
        for mode in ("auto", "legacy"):
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
                result = await client.call_tool("get_task", MAXSIGHT_TASK)
                assert not result.is_error and result.structured_content["state"] == "waiting_on_human"


async def test_token_is_required_on_every_request_and_never_logged(tmp_path: Path) -> None:
    env = {"TASKLENS_HTTP_TOKEN": TOKEN, "TASKLENS_HTTP_ALLOWED_HOSTS": "tasklens.internal"}
    async with http_server(tmp_path, env) as (port, log):
        base = f"http://127.0.0.1:{port}"
        good = {**LEGACY_POST, "authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(timeout=10) as http:
            # no credentials: every method and path is refused before the MCP app sees it
            for method, path in (("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/anything")):
                refused = await http.request(method, base + path, headers=LEGACY_POST)
                assert refused.status_code == 401, (method, path)
                assert refused.headers["www-authenticate"] == 'Bearer realm="tasklens"'
                assert TOKEN not in refused.text
        wrong = [
            f"Bearer {TOKEN[:-1]}",
            f"Bearer {TOKEN}x",
            f"Bearer {TOKEN.upper()}",
            f"Basic {TOKEN}",
            TOKEN,
            "Bearer",
        ]
        for value in wrong:
            refused = await post(port, {**LEGACY_POST, "authorization": value})
            assert refused.status_code == 401, value
            assert refused.headers["www-authenticate"].startswith('Bearer realm="tasklens"')
        assert (
            'error="invalid_token"'
            in (await post(port, {**LEGACY_POST, "authorization": "Bearer nope"})).headers["www-authenticate"]
        )
        # the scheme is case-insensitive (RFC 9110); Host/Origin are still checked behind the token
        assert (await post(port, {**good, "authorization": f"bearer {TOKEN}"})).status_code == 200
        assert (await post(port, {**good, "host": f"evil.example:{port}"})).status_code == 421
        assert (await post(port, {**good, "origin": "http://evil.example"})).status_code == 403
        # TASKLENS_HTTP_ALLOWED_HOSTS: a name without a port is accepted bare (proxy) and at the bound port
        for host in ("tasklens.internal", f"tasklens.internal:{port}"):
            accepted = await post(port, {**good, "host": host, "origin": f"https://{host}"})
            assert accepted.status_code == 200, (host, accepted.text)
        assert (await post(port, {**good, "host": "other.internal"})).status_code == 421
        # a real MCP client carrying the token, both protocol generations; without it, no session at all
        for mode in ("auto", "legacy"):
            http2 = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            async with http2, Client(streamable_http_client(f"{base}/mcp", http_client=http2), mode=mode) as client:
                result = await client.call_tool("get_task", MAXSIGHT_TASK)
                assert not result.is_error and result.structured_content["state"] == "waiting_on_human"
        with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises, the connection must fail
            async with Client(f"{base}/mcp", mode="legacy") as client:
                await client.list_tools()
    stderr = log.read_text()
    assert "bearer token required" in stderr and '"POST /mcp HTTP/1.1" 401' in stderr
    assert TOKEN not in stderr and TOKEN[:8] not in stderr


def _layers(app: Any) -> list[Any]:
    """The ASGI middlewares around the SDK's app, outermost first."""
    layers = [app]
    while hasattr(layers[-1], "app"):
        layers.append(layers[-1].app)
    return layers


async def test_serve_warns_when_bound_beyond_loopback(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    """`serve` on 0.0.0.0 without a token says so at WARNING, and wraps the app only when a token is set
    (uvicorn is stubbed and the socket it gets never listens, so nothing is exposed by this test)."""
    import uvicorn

    served: list[Any] = []

    async def fake_serve(self: uvicorn.Server, sockets: Any = None) -> None:
        served.append(self.config.app)

    monkeypatch.setattr(uvicorn.Server, "serve", fake_serve)
    caplog.set_level("INFO", logger="tasklens")
    with unlistened_socket() as sock:
        await transports.serve(load_config({}, sandbox=True), sock, host="0.0.0.0")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("beyond loopback" in w and "TASKLENS_HTTP_TOKEN is not set" in w for w in warnings)
    assert any("TASKLENS_HTTP_ALLOWED_HOSTS" in w for w in warnings)
    assert not any(isinstance(layer, BearerTokenGuard) for layer in _layers(served[-1]))

    caplog.clear()
    config = load_config({"TASKLENS_HTTP_TOKEN": TOKEN, "TASKLENS_HTTP_ALLOWED_HOSTS": "mcp.example.com"}, sandbox=True)
    with unlistened_socket() as sock:
        await transports.serve(config, sock, host="0.0.0.0")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    guards = [layer for layer in _layers(served[-1]) if isinstance(layer, BearerTokenGuard)]
    assert guards and TOKEN not in repr(guards[0])
    assert TOKEN not in caplog.text and TOKEN not in repr(config)


def unlistened_socket() -> socket.socket:
    """A socket bound to a free loopback port that accepts nothing: `serve` reads only its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def test_loopback_and_allowed_host_rules() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.com"))
    assert exposure_warnings("127.0.0.1", None) == []
    assert len(exposure_warnings("192.168.1.5", None)) == 1  # a specific address: its own Host is allowed
    assert exposure_warnings("192.168.1.5", TOKEN) == []
    assert allowed_hosts("127.0.0.1", 9000) == ["127.0.0.1:9000", "localhost:9000", "[::1]:9000"]
    assert "192.168.1.5:9000" in allowed_hosts("192.168.1.5", 9000)
    assert allowed_hosts("0.0.0.0", 9000, ("a.example", "b.example:443", "[fd00::5]"))[3:] == [
        "a.example",
        "a.example:9000",
        "b.example:443",
        "[fd00::5]",
        "[fd00::5]:9000",
    ]


async def test_health_readiness_and_request_ids_over_real_http(tmp_path: Any) -> None:
    """A load balancer's probes answer without credentials; every reply carries a request id (the
    caller's when it sends a usable one), and JSON logs carry it too."""
    import json as json_module
    import signal
    import subprocess
    import sys

    from support.person import person_env

    port = free_port()
    env = person_env(TASKLENS_HTTP_TOKEN=TOKEN, TASKLENS_LOG_FORMAT="json")
    argv = [sys.executable, "-m", "tasklens.server", "serve", "--http", "--port", str(port)]
    for sandbox, ready in ((True, 200), (False, 503)):
        process = subprocess.Popen(
            argv + (["--sandbox"] if sandbox else []), env=env, cwd=str(tmp_path), stderr=subprocess.PIPE, text=True
        )
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                health = await http.get("/healthz")
                readiness = await http.get("/readyz")
                refused = await http.post("/mcp", json={}, headers={"x-request-id": "probe-42"})
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert readiness.status_code == ready, readiness.text
        assert (readiness.json()["status"] == "ready") is sandbox
        assert refused.status_code == 401 and refused.headers["x-request-id"] == "probe-42"
        assert len(health.headers["x-request-id"]) == 16
        lines = [json_module.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        # SIGTERM: uvicorn stops accepting, finishes what is in flight, shuts the app down, then ends by
        # the signal it caught (the exit status a process manager expects for a requested stop).
        assert process.returncode == -signal.SIGTERM, stderr[-2000:]
        assert any(line["message"] == "Application shutdown complete." for line in lines)
