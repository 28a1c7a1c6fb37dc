"""Each provider client against the sandbox over real loopback HTTP.

The expected states come from the table below (docs/state-mapping.md), applied to the raw payload the
test fetches itself, so a client's misreading of a provider cannot hide behind its own mapping code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from support.clocks import FakeTime
from support.mcp_harness import AUTH_HEADERS, raw_task
from tasklens.server.sandbox import CATALOG, SANDBOX_KEYS, Fault, ManualClock, Sandbox, serve_on_loopback
from tasklens.tools.errors import ProviderError
from tasklens.tools.http.rate_limit import GUARD_S
from tasklens.tools.providers import CLIENT_CLASSES, PROVIDERS, SPECS_BY_NAME, ProviderClient, ProviderSettings, Runtime

pytestmark = pytest.mark.anyio

EXPECTED_BY_RAW = {
    "deepomatic": {"pending": "running", "success": "succeeded", "error": "failed"},
    "sendai": {
        "PROCESSING": "running",
        "REVIEWING": "waiting_on_human",
        "COMPLETED": "succeeded",
        "FAILED": "failed",
        "DISCARDED": "cancelled",
        "FILTERED": "cancelled",
    },
    "maxsight": {
        "INCOMPLETE": "waiting_on_human",
        "COMPLETED_PASS": "succeeded",
        "COMPLETED_FAIL": "failed",
        "CANCELLED": "cancelled",
    },
}
EXPECTED_BY_ANGO_STAGE_TYPE = {
    "Start": "queued",
    "Label": "waiting_on_human",
    "Review": "waiting_on_human",
    "Consensus": "waiting_on_human",
    "Hold": "waiting_on_human",
    "Logic": "running",
    "Plugin": "running",
    "Webhook": "running",
    "Complete": "succeeded",
    "Archive": "cancelled",
}


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(clock=ManualClock())
    async with serve_on_loopback(sandbox) as origin:
        yield sandbox, origin


def make_client(
    provider: str, sandbox: Sandbox, origin: str, fake_time: FakeTime, key: str | None = None, **retry: Any
) -> ProviderClient:
    from tasklens.tools.http.policy import RetryPolicy

    settings = ProviderSettings(
        name=provider,  # type: ignore[arg-type]
        api_key=key or SANDBOX_KEYS[provider],
        base_url=sandbox.base_url(provider, origin=origin),
        requests_per_minute=100,
        defaults=SPECS_BY_NAME[provider].sandbox_defaults,  # type: ignore[index]
    )
    runtime = Runtime(clock=fake_time.clock, sleep=fake_time.sleep, retry=RetryPolicy(**retry))
    return CLIENT_CLASSES[provider](settings, runtime)  # type: ignore[index]


async def raw_payload(origin: str, provider: str, entry: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=origin) as http:
        body = await raw_task(http, entry, ango_answers=False)
        if provider == "sendai":
            return body["payload"]
        if provider == "ango":
            task = body["data"]["task"]
            project = (await http.get(f"/ango/v2/project/{task['project']}", headers=AUTH_HEADERS["ango"])).json()
            stage_types = {stage["id"]: stage["type"] for stage in project["data"]["project"]["stages"]}
            task["_expected_stage_type"] = stage_types[task["stage"]]
            return task
        return body


def expected_state(provider: str, raw: dict[str, Any]) -> str:
    if provider == "ango":
        return EXPECTED_BY_ANGO_STAGE_TYPE[raw["_expected_stage_type"]]
    return EXPECTED_BY_RAW[provider].get(raw["status"], "unknown")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_catalog_task_normalizes_as_the_table_says(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str
) -> None:
    sandbox, origin = loopback
    client = make_client(provider, sandbox, origin, fake_time)
    entries = [entry for entry in CATALOG if entry.provider == provider]
    assert entries, f"the sandbox catalog has no {provider} tasks"
    seen_states = set()
    try:
        for entry in entries:
            raw = await raw_payload(origin, provider, entry)
            for detailed in (False, True):
                view = await client.get_task(
                    entry.task_id, team_id=entry.team_id, project_id=entry.project_id, detailed=detailed
                )
                assert view.provider == provider and view.id == entry.task_id
                assert view.state == expected_state(provider, raw), entry
                assert view.terminal == (view.state in ("succeeded", "failed", "cancelled"))
                assert view.sandbox is None  # only the server's sandbox mode sets it
            seen_states.add(view.state)
    finally:
        await client.aclose()
    assert len(seen_states) >= 3, seen_states


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wrong_key_is_unauthorized_with_the_providers_hint_and_no_key(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str
) -> None:
    sandbox, origin = loopback
    client = make_client(provider, sandbox, origin, fake_time, key="not-the-right-key-123")
    entry = next(e for e in CATALOG if e.provider == provider)
    try:
        with pytest.raises(ProviderError) as caught:
            await client.get_task(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
    finally:
        await client.aclose()
    error = caught.value
    assert error.kind == "unauthorized" and error.http_status == 401
    assert "not-the-right-key-123" not in error.for_model()
    if provider == "maxsight":
        assert "region" in error.for_model() and "allow-list" in error.for_model()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unknown_id_is_not_found_naming_the_id(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str
) -> None:
    sandbox, origin = loopback
    client = make_client(provider, sandbox, origin, fake_time)
    missing = {
        "deepomatic": "123123123123",
        "sendai": "task_doesnotexist",
        "maxsight": "00000000-0000-4000-8000-000000000000",
        "ango": "000000000000000000000000",
    }[provider]
    try:
        with pytest.raises(ProviderError) as caught:
            await client.get_task(missing)
    finally:
        await client.aclose()
    assert caught.value.kind == "not_found" and missing in caught.value.for_model()
    assert client.http.attempts == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["429", "503", "504", "truncated"])
async def test_transient_faults_are_absorbed(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str, fault: str
) -> None:
    sandbox, origin = loopback
    sandbox.faults.add(Fault(kind=fault, times=1, provider=provider, retry_after=2 if fault == "429" else None))
    client = make_client(provider, sandbox, origin, fake_time)
    entry = next(e for e in CATALOG if e.provider == provider)
    try:
        view = await client.get_task(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
    finally:
        await client.aclose()
    assert view.id == entry.task_id
    if fault == "429":
        assert 2.0 in fake_time.sleeps


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_persistent_outage_ends_in_one_clear_sentence(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str
) -> None:
    sandbox, origin = loopback
    sandbox.faults.add(Fault(kind="503", times=-1, provider=provider))
    client = make_client(provider, sandbox, origin, fake_time)
    entry = next(e for e in CATALOG if e.provider == provider)
    try:
        with pytest.raises(ProviderError) as caught:
            await client.get_task(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
    finally:
        await client.aclose()
    message = caught.value.for_model()
    assert caught.value.kind == "unavailable" and "retry" in message and "<" not in message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout_and_malformed_body(loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str) -> None:
    sandbox, origin = loopback
    entry = next(e for e in CATALOG if e.provider == provider)
    client = make_client(provider, sandbox, origin, fake_time, read_timeout_s=0.2, max_attempts=2)
    try:
        sandbox.faults.add(Fault(kind="slow", times=2, provider=provider, delay_s=1.5))
        with pytest.raises(ProviderError) as caught:
            await client.get_task(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
        assert caught.value.kind == "timeout"
        sandbox.faults.clear()
        sandbox.faults.add(Fault(kind="malformed", times=1, provider=provider))
        with pytest.raises(ProviderError) as caught:
            await client.get_task(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
        assert caught.value.kind == "bad_response"
    finally:
        await client.aclose()


async def test_hostile_ids_never_reach_the_upstream_path(loopback: tuple[Sandbox, str], fake_time: FakeTime) -> None:
    sandbox, origin = loopback
    client = make_client("deepomatic", sandbox, origin, fake_time)
    sandbox.requests.clear()
    try:
        for hostile in ["../../admin", "a/b", "x?y=1", "x#y", "%2e%2e", "a b", "a\x00b", "..", "é"]:
            with pytest.raises(ProviderError) as caught:
                await client.get_task(hostile)
            assert caught.value.kind == "invalid_argument"
    finally:
        await client.aclose()
    assert len(sandbox.requests) == 0


async def test_sendai_needs_team_and_project(loopback: tuple[Sandbox, str], fake_time: FakeTime) -> None:
    sandbox, origin = loopback
    settings = ProviderSettings(
        name="sendai", api_key=SANDBOX_KEYS["sendai"], base_url=sandbox.base_url("sendai", origin=origin)
    )
    client = CLIENT_CLASSES["sendai"](settings, Runtime(clock=fake_time.clock, sleep=fake_time.sleep))
    try:
        with pytest.raises(ProviderError) as caught:
            await client.get_task("task_abcdef123456")
    finally:
        await client.aclose()
    assert "team_id and project_id" in caught.value.for_model() and "SENDAI_TEAM_ID" in caught.value.for_model()


async def test_ango_rate_limit_is_respected_client_side(loopback: tuple[Sandbox, str]) -> None:
    """120 calls at the documented 100/min: the client queues the extra 20 instead of drawing 429s."""
    sandbox, origin = loopback
    sandbox_clock: ManualClock = sandbox.clock  # type: ignore[assignment]

    class SharedTime(FakeTime):
        """Our fake time, moving the sandbox's manual clock along with it so both see one timeline."""

        async def sleep(self, seconds: float) -> None:
            await super().sleep(seconds)
            sandbox_clock.advance(max(0.0, seconds))

    shared = SharedTime()
    # With the default 30 s deadline, call 101 would have to wait ~60 s for a slot: it refuses, clearly.
    client = make_client("ango", sandbox, origin, shared)
    try:
        while client.http.attempts < 100:  # the first call also reads the project (then cached)
            await client.get_task("6453677fc47af30015be5a58")
        with pytest.raises(ProviderError) as caught:
            await client.get_task("6453677fc47af30015be5a58")
    finally:
        await client.aclose()
    assert caught.value.kind == "rate_limited" and "configured rate limit" in caught.value.for_model()
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60 + GUARD_S
    # With a deadline long enough, the extra calls queue instead: 120 calls, no 429 from the sandbox.
    sandbox.requests.clear()
    shared = SharedTime()
    sandbox_clock.advance(120)
    client = make_client("ango", sandbox, origin, shared, deadline_s=120)
    try:
        for _ in range(120):
            await client.get_task("6453677fc47af30015be5a58")
    finally:
        await client.aclose()
    statuses = [r.status for r in sandbox.requests if r.provider == "ango"]
    assert len(statuses) >= 120 and 429 not in statuses
    assert shared.now - 1000.0 >= 60.0


async def test_one_ango_tool_call_has_one_deadline_across_its_reads(
    loopback: tuple[Sandbox, str], fake_time: FakeTime
) -> None:
    """The task read and the project read share the call's 30 s: two 20 s Retry-After waits cannot both fit,
    so the task comes back (its stage unresolved, said in detail) within the deadline."""
    sandbox, origin = loopback
    sandbox.faults.add(Fault(kind="429", provider="ango", path_contains="/v2/task/", retry_after=20))
    sandbox.faults.add(Fault(kind="429", provider="ango", path_contains="/v2/project/", retry_after=20))
    client = make_client("ango", sandbox, origin, fake_time)
    start = fake_time.now
    try:
        view = await client.get_task("6453677fc47af30015be5a58")
    finally:
        await client.aclose()
    assert fake_time.now - start <= 30.0
    assert view.state == "unknown" and view.detail and "could not be resolved" in view.detail


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_history_over_loopback_reads_the_documented_endpoints(
    loopback: tuple[Sandbox, str], fake_time: FakeTime, provider: str
) -> None:
    """Every provider's history over real HTTP, with one transient fault absorbed on the way."""
    sandbox, origin = loopback
    sandbox.faults.add(Fault(kind="503", times=1, provider=provider))
    client = make_client(provider, sandbox, origin, fake_time)
    entry = next(e for e in CATALOG if e.provider == provider and (provider != "ango" or e.history_id))
    try:
        history = await client.get_history(entry.task_id, team_id=entry.team_id, project_id=entry.project_id)
    finally:
        await client.aclose()
    assert history.task_id == entry.task_id and history.entries
    paths = [r.path for r in sandbox.requests if r.status == 200]
    if provider == "ango":
        assert history.derived is None and history.entries[0].history_id == entry.history_id
        assert f"/ango/v2/task/{entry.task_id}/history" in paths
    else:
        assert history.derived is True and all(e.event for e in history.entries)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_451_is_said_as_unavailable_for_legal_reasons(provider: str, fake_time: FakeTime) -> None:
    """451 is not 403: no provider blames the key or claims a 403 for it."""
    transport = httpx.MockTransport(lambda request: httpx.Response(451, json={"message": "blocked here"}))
    settings = ProviderSettings(
        name=provider,  # type: ignore[arg-type]
        api_key=SANDBOX_KEYS[provider],
        base_url="https://upstream.test",
        defaults=SPECS_BY_NAME[provider].sandbox_defaults,  # type: ignore[index]
    )
    client = CLIENT_CLASSES[provider](settings, Runtime(transport=transport, clock=fake_time.clock))  # type: ignore[index]
    task_id = next(entry.task_id for entry in CATALOG if entry.provider == provider)
    try:
        with pytest.raises(ProviderError) as caught:
            await client.get_task(task_id)
    finally:
        await client.aclose()
    text = caught.value.for_model()
    assert caught.value.http_status == 451 and "(HTTP 451)" in text and "403" not in text
    assert ("legal reasons" in text or "by IP or country" in text) and "lacks permission" not in text, text
