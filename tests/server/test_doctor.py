"""`tasklens doctor` and the providers' key checks, against the sandbox over loopback and in process.

The keys checked here are the sandbox's and a fake one set in the environment; no output may contain
either, whatever the provider answers (one fault echoes every request header back in its error body).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import AsyncIterator

import anyio
import pytest

from support.ports import free_port
from tasklens.server.cli import main
from tasklens.server.config import Config
from tasklens.server.doctor import run_doctor
from tasklens.server.sandbox import SANDBOX_KEYS, Fault, ManualClock, Sandbox, serve_on_loopback
from tasklens.tools.errors import ProviderError
from tasklens.tools.providers import CLIENT_CLASSES, PROVIDERS, SPECS, ProviderClient, ProviderSettings, Runtime

pytestmark = pytest.mark.anyio

FAKE_KEY = "tl-fake-secret-4f9c2a7e"
KEY_VARIABLE = {name: f"{name.upper()}_API_KEY" for name in PROVIDERS}


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(clock=ManualClock())
    async with serve_on_loopback(sandbox) as origin:
        yield sandbox, origin


def client_for(provider: str, base_url: str, key: str, **defaults: str) -> ProviderClient:
    settings = ProviderSettings(name=provider, api_key=key, base_url=base_url, defaults=defaults)  # type: ignore[arg-type]
    return CLIENT_CLASSES[provider](settings, Runtime())  # type: ignore[index]


def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider or tasklens variable from the developer's shell leaks into a test."""
    for variable in list(os.environ):
        if variable.startswith((*(f"{spec.env_prefix}_" for spec in SPECS), "TASKLENS_")):
            monkeypatch.delenv(variable)


def assert_no_key(text: str) -> None:
    for secret in (*SANDBOX_KEYS.values(), FAKE_KEY):
        assert secret not in text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_check_is_one_cheap_read_that_tells_a_good_key_from_a_bad_one(
    loopback: tuple[Sandbox, str], provider: str
) -> None:
    sandbox, origin = loopback
    base = sandbox.base_url(provider, origin=origin)
    good = client_for(provider, base, SANDBOX_KEYS[provider])
    bad = client_for(provider, base, FAKE_KEY)
    try:
        proof = await good.check()
        sent = sandbox.requests.for_provider(provider)
        with pytest.raises(ProviderError) as refused:
            await bad.check()
    finally:
        await good.aclose()
        await bad.aclose()
    assert "key accepted" in proof.evidence
    # One authenticated read (Send.ai adds its control read without the key); no task data is returned.
    assert len(sent) == (2 if provider == "sendai" else 1)
    assert sent[0].status in (200, 404)
    error = refused.value
    assert error.kind == "unauthorized" and error.http_status == 401
    assert KEY_VARIABLE[provider] in error.for_model()
    assert_no_key(error.for_model())
    if provider == "maxsight":
        assert "MAXSIGHT_REGION" in error.for_model() and "allow-list" in error.for_model()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_base_url_that_is_not_the_api_is_not_taken_for_a_working_key(
    loopback: tuple[Sandbox, str], provider: str
) -> None:
    sandbox, origin = loopback
    client = client_for(provider, origin, SANDBOX_KEYS[provider])  # the sandbox root, not the provider's prefix
    try:
        with pytest.raises(ProviderError) as caught:
            await client.check()
    finally:
        await client.aclose()
    assert caught.value.kind == "not_found"
    assert f"{provider.upper()}_API_URL" in caught.value.for_model()


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("body", [{}, {"status": "success", "data": {}}, {"payload": "signed in"}, [1, 2]])
async def test_a_200_that_is_not_the_providers_answer_is_not_a_working_key(provider: str, body: object) -> None:
    """A portal, a proxy or a catch-all route answering 200 with some JSON is not the API accepting the key:
    each check reads the shape its provider documents."""
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    settings = ProviderSettings(name=provider, api_key=FAKE_KEY, base_url="https://portal.test")  # type: ignore[arg-type]
    client = CLIENT_CLASSES[provider](settings, Runtime(transport=transport))  # type: ignore[index]
    try:
        with pytest.raises(ProviderError) as caught:
            await client.check()
    finally:
        await client.aclose()
    assert caught.value.kind == "bad_response", caught.value.for_model()  # doctor: "not the … API", fix the URL


async def test_sandbox_doctor_checks_all_four_and_prints_no_key() -> None:
    out = io.StringIO()
    code = await run_doctor(Config(providers={}, sandbox=True), out)
    report = out.getvalue()
    assert code == 0, report
    for provider in PROVIDERS:
        line = next(line for line in report.splitlines() if line.strip().startswith(provider))
        assert " ok " in line and line.rstrip().endswith("in-process sandbox") and " ms" in line
    assert "4 ok." in report
    assert_no_key(report)


async def test_faults_become_failures_with_the_fix_and_never_leak_a_key() -> None:
    sandbox = Sandbox(clock=ManualClock())
    sandbox.faults.add(Fault("502", provider="maxsight", times=-1))
    sandbox.faults.add(Fault("html", provider="ango", times=-1))
    sandbox.faults.add(Fault("echo_headers", provider="deepomatic", times=-1))
    sandbox.faults.add(Fault("429", provider="sendai", times=-1, retry_after=3600))
    out = io.StringIO()
    code = await run_doctor(Config(providers={}, sandbox=True), out, sandbox)
    report = out.getvalue()
    assert code == 1
    blocks = _blocks(report)
    assert "provider failing on its side (HTTP 502)" in blocks["maxsight"]
    assert "Nothing to change" in blocks["maxsight"]
    assert "is not the ango API" in blocks["ango"] and "ANGO_API_URL or ANGO_REGION" in blocks["ango"]
    assert "request refused (HTTP 400)" in blocks["deepomatic"]
    assert "rate limited (HTTP 429)" in blocks["sendai"] and "SENDAI_REQUESTS_PER_MINUTE" in blocks["sendai"]
    assert "4 failed." in report
    assert_no_key(report)


async def test_doctor_command_with_real_configuration(
    loopback: tuple[Sandbox, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, origin = loopback
    clear_environment(monkeypatch)
    monkeypatch.setenv("ANGO_API_KEY", FAKE_KEY)  # wrong key: refused
    monkeypatch.setenv("ANGO_API_URL", sandbox.base_url("ango", origin=origin))
    monkeypatch.setenv("DEEPOMATIC_API_KEY", SANDBOX_KEYS["deepomatic"])  # right key: works
    monkeypatch.setenv("DEEPOMATIC_API_URL", sandbox.base_url("deepomatic", origin=origin))
    monkeypatch.setenv("MAXSIGHT_API_KEY", FAKE_KEY)  # a key but no region: incomplete
    code = await anyio.to_thread.run_sync(main, ["doctor"])  # main runs its own event loop
    captured = capsys.readouterr()
    blocks = _blocks(captured.out)
    assert code == 1
    assert "FAILED" in blocks["ango"] and "key rejected (HTTP 401)" in blocks["ango"]
    assert "fix: Ango rejected ANGO_API_KEY" in blocks["ango"]
    assert " ok " in blocks["deepomatic"] and sandbox.base_url("deepomatic", origin=origin) in blocks["deepomatic"]
    assert "not configured" in blocks["sendai"] and "set SENDAI_API_KEY" in blocks["sendai"]
    assert "INCOMPLETE" in blocks["maxsight"] and "MAXSIGHT_REGION" in blocks["maxsight"]
    assert_no_key(captured.out + captured.err)


async def test_an_unreachable_host_names_the_url_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_environment(monkeypatch)
    monkeypatch.setenv("DEEPOMATIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("DEEPOMATIC_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    code = await anyio.to_thread.run_sync(main, ["doctor"])  # main runs its own event loop
    captured = capsys.readouterr()
    block = _blocks(captured.out)["deepomatic"]
    assert code == 1
    assert "unreachable" in block and "set DEEPOMATIC_API_URL" in block
    assert_no_key(captured.out + captured.err)


async def test_unusable_configuration_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_environment(monkeypatch)
    monkeypatch.setenv("MAXSIGHT_REGION", "uk")
    assert main(["doctor"]) == 2
    assert "MAXSIGHT_REGION" in capsys.readouterr().err


def _blocks(report: str) -> dict[str, str]:
    """The report's lines grouped by provider (a block runs until the next provider's line)."""
    blocks: dict[str, str] = {}
    current = None
    for line in report.splitlines():
        first = line.split()[0] if line.strip() else ""
        if line.startswith("  ") and first in PROVIDERS:
            current = first
        if current:
            blocks[current] = blocks.get(current, "") + line + "\n"
    return blocks


async def test_the_shared_redis_is_checked_and_reported_without_its_password(redis_url: str) -> None:
    out = io.StringIO()
    assert await run_doctor(Config(providers={}, sandbox=True, redis_url=redis_url, replicas=3), out) == 0
    report = out.getvalue()
    assert re.search(r"redis +ok +\d+ ms +127\.0\.0\.1:\d+/0, shared by 3 replicas", report), report
    dead = "redis://:hunter2secret@127.0.0.1:1/0"
    out = io.StringIO()
    assert await run_doctor(Config(providers={}, sandbox=True, redis_url=dead), out) == 1
    assert "redis       FAILED" in out.getvalue()
    assert "fix: start Redis there or correct TASKLENS_REDIS_URL" in out.getvalue()
    assert "hunter2" not in out.getvalue()
