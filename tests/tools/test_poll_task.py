"""poll_task through a real MCP client, on a sandbox and a tasklens that share virtual time.

Minutes of polling run in milliseconds and every timing assertion is exact: the sandbox records the
time tasklens scheduled each request (see virtual_time.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer

from support.mcp_harness import text_of, tokens, wire_json
from support.result_checks import poll_rows
from support.virtual_time import VirtualTime, virtual_server
from tasklens.server.app import build_server, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.sandbox import Fault, ManualClock, Sandbox, serve_on_loopback
from tasklens.server.sandbox.ango_seed import seed_tasks
from tasklens.server.sandbox.catalog import (
    ANGO_HOLD_TASK,
    ANGO_LOGIC_TASK,
    ANGO_PLUGIN_TASK,
    ANGO_PROJECT,
    ANGO_START_TASK,
    ANGO_WEBHOOK_TASK,
    DEEPOMATIC_DOC_TASK,
    SENDAI_MOVING_STEPS,
    SENDAI_MOVING_TASK,
)
from tasklens.tools.providers import Runtime
from tasklens.tools.results.task import TERMINAL_STATES

pytestmark = pytest.mark.anyio
RESULT_BUDGET = 2500  # tokens of a concise result for 100 tasks


def deepomatic_requests(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests.for_provider("deepomatic")]


async def call(client: Client, **arguments: Any) -> Any:
    result = await client.call_tool("poll_task", arguments)
    assert not result.is_error, text_of(result)
    return result


async def test_every_completion_is_reported_none_early_none_missed() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(100, finish_between=(5, 150), error_rate=0.1, seed=11)
    finish = {task_id: sandbox.deepomatic_finish_time(task_id) for task_id in ids}
    seen_terminal: dict[str, tuple[str, float]] = {}
    calls = 0
    async with vt.running(), Client(virtual_server(sandbox, vt), mode="legacy") as client:
        while len(seen_terminal) < len(ids):
            calls += 1
            assert calls < 20, "the poll never finished"
            started = vt.now()
            result = await call(client, provider="deepomatic", task_ids=ids, wait_s=30)
            data = result.structured_content
            returned = vt.now()
            assert returned - started <= 30 + 1e-6 and data["waited_s"] <= 30
            assert tokens(data) <= RESULT_BUDGET
            reads = [r.at for r in deepomatic_requests(sandbox) if started <= r.at <= returned]
            for row in poll_rows(data).values():
                if row.get("state") in TERMINAL_STATES and row["id"] not in seen_terminal:
                    seen_terminal[row["id"]] = (row["state"], max(reads))
            if not data["all_terminal"]:
                assert data["next_poll_s"] >= 1
    # none reported before it happened; every one reported, with the state the sandbox gave it
    for task_id, (_state, reported_at) in seen_terminal.items():
        assert finish[task_id] <= reported_at, task_id
    failed = {task_id for task_id, (state, _) in seen_terminal.items() if state == "failed"}
    assert set(seen_terminal) == set(ids)
    assert 0 < len(failed) < 30
    # all batched: one list request per round for all 100 tasks, at most one round a second
    requests = deepomatic_requests(sandbox)
    assert all(r.path.endswith("/v0.7/tasks/") for r in requests)
    assert len(requests) <= sandbox.clock.now(), (len(requests), sandbox.clock.now())


async def test_latency_stays_within_the_backed_off_interval() -> None:
    """Each task is reported in the first round after it finished, and rounds are at most 5 s apart."""
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(100, finish_between=(1, 45), error_rate=0.1, seed=3)
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        result = await call(client, provider="deepomatic", task_ids=ids, wait_s=50)
    data = result.structured_content
    assert data["all_terminal"] and data["counts"]["succeeded"] + data["counts"]["failed"] == 100
    assert "next_poll_s" not in data
    rounds = [r.at for r in deepomatic_requests(sandbox)]
    assert all(later - earlier <= 5 * 1.2 + 1e-9 for earlier, later in zip(rounds, rounds[1:], strict=False))
    # the worst case for tokens: all 100 changed in this call, some failed with a detail
    assert all(row["changed"] for row in poll_rows(data).values())
    print("poll_task result tokens (o200k_base), 100 Deepomatic tasks, all changed:", tokens(data))
    assert tokens(data) <= RESULT_BUDGET, tokens(data)
    assert tokens(wire_json(result)) <= 2.6 * tokens(data)


async def test_wait_s_zero_is_one_batched_read() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(40, finish_between=(100, 200), error_rate=0, seed=1)
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (await call(client, provider="deepomatic", task_ids=ids, wait_s=0)).structured_content
    assert len(deepomatic_requests(sandbox)) == 1
    assert data["waited_s"] == 0 and data["all_terminal"] is False
    assert data["counts"] == {"running": 40} and data["next_poll_s"] >= 1
    assert data["tasks"] == [{"state": "running", "terminal": False, "changed": False, "ids": ids}]


async def test_unknown_ids_and_bad_ids_are_reported_per_task() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (
            await call(client, provider="deepomatic", task_ids=[DEEPOMATIC_DOC_TASK, "999999999", "../x"], wait_s=5)
        ).structured_content
        rows = poll_rows(data)
        assert rows[DEEPOMATIC_DOC_TASK]["state"] == "succeeded"
        assert "no task 999999999" in rows["999999999"]["error"]
        assert "characters an id cannot have" in rows["../x"]["error"]
        assert data["counts"] == {"succeeded": 1, "error": 2}
        assert data["waited_s"] == 0  # nothing left that another read could change
        # nothing readable at all: the call itself fails, with one sentence
        failed = await client.call_tool("poll_task", {"provider": "deepomatic", "task_ids": ["999999998", "999999999"]})
        assert failed.is_error
        assert "None of the 2 tasks could be read" in text_of(failed) and len(text_of(failed)) < 400
        # Ango: per-task reads, a 404 for one id only
        data = (
            await call(client, provider="ango", task_ids=[ANGO_HOLD_TASK, "ffffffffffffffffffffffff"], wait_s=0)
        ).structured_content
        rows = poll_rows(data)
        assert rows[ANGO_HOLD_TASK]["state"] == "waiting_on_human"
        assert "HTTP 404" in rows["ffffffffffffffffffffffff"]["error"]


async def test_until_change_returns_at_the_first_change() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(10, finish_between=(12, 40), error_rate=0, seed=5)
    first = min(sandbox.deepomatic_finish_time(i) or 0 for i in ids)
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (await call(client, provider="deepomatic", task_ids=ids, wait_s=50, until="change")).structured_content
    changed = [row for row in poll_rows(data).values() if row["changed"]]
    assert changed and all(row["state"] == "succeeded" for row in changed)
    assert first <= data["waited_s"] <= first + 6
    assert data["note"].startswith("Stopped: a task changed")


async def test_until_actionable_stops_when_a_task_needs_a_person() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (
            await call(client, provider="sendai", task_ids=[SENDAI_MOVING_TASK], wait_s=50, until="actionable")
        ).structured_content
    row = poll_rows(data)[SENDAI_MOVING_TASK]
    assert row["state"] == "waiting_on_human" and row["changed"] is True and "detail" in row
    assert SENDAI_MOVING_STEPS[0] <= data["waited_s"] <= SENDAI_MOVING_STEPS[0] + 5
    assert data["next_poll_s"] >= 60  # a person must act: come back in minutes, not seconds


async def test_tasks_waiting_on_people_are_reported_not_waited_on() -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (await call(client, provider="ango", task_ids=[ANGO_HOLD_TASK], wait_s=50)).structured_content
    assert data["waited_s"] == 0 and data["next_poll_s"] >= 60
    assert "waiting on a person" in data["note"]


async def test_ango_polling_never_exceeds_the_rate_limit_even_after_a_429() -> None:
    """An agent that ignores next_poll_s and polls 100 Ango tasks back to back for 5 minutes, with a
    429 + Retry-After injected: no 60 s window ever holds more than 100 Ango requests, the sandbox's
    own limiter never has to refuse one, and nothing is sent while the Retry-After runs."""
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    machine = [ANGO_START_TASK, ANGO_LOGIC_TASK, ANGO_PLUGIN_TASK, ANGO_WEBHOOK_TASK]
    ids = machine + seeded_ango_ids(sandbox, 96, exclude=machine)
    assert len(ids) == 100
    sandbox.faults.add(Fault(kind="429", provider="ango", times=1, retry_after=20))
    results = []
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        while vt.now() < 300:
            result = await client.call_tool(
                "poll_task", {"provider": "ango", "task_ids": ids, "wait_s": 50, "project_id": ANGO_PROJECT}
            )
            assert not result.is_error, text_of(result)
            results.append(result.structured_content)
            await client.call_tool("get_task", {"provider": "ango", "task_id": ANGO_START_TASK})
    requests = sandbox.requests.for_provider("ango")
    times = sorted(r.at for r in requests)
    busiest = max(sum(1 for t in times if start <= t < start + 60) for start in times)
    assert busiest <= 100, busiest
    refused = [r for r in requests if r.status == 429]
    assert len(refused) == 1 and refused[0].fault == "429", "the sandbox's own limiter had to refuse a request"
    held = [r for r in requests if refused[0].at < r.at < refused[0].at + 20]
    assert not held, "requests were sent while Retry-After ran"
    assert len(requests) >= 300  # it did keep polling: about 100 a minute
    assert all(data["next_poll_s"] >= 1 for data in results if not data["all_terminal"])


def seeded_ango_ids(sandbox: Sandbox, n: int, exclude: list[str]) -> list[str]:
    """`n` seeded Ango task ids (any state) besides `exclude`, read from the seed rather than over HTTP,
    which would spend the sandbox's own rate limit before the test starts."""
    ids = [task.id for task in seed_tasks(sandbox.clock, sandbox.seed) if task.id not in exclude]
    return ids[:n]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_reaches_a_real_client_at_least_every_5_s(mode: str) -> None:
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(100, finish_between=(8, 45), error_rate=0.1, seed=9)
    seen: list[tuple[float, float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((vt.now(), progress, total, message))

    # Over a wire (stdio, HTTP) the client puts a progressToken in `_meta` when it passes a callback, in
    # both protocol modes; the SDK's in-memory modern mode calls the callback directly and drops the
    # token, so this test sends the token a wire client would send.
    meta: dict[str, Any] = {"progress_token": "poll"} if mode == "auto" else {}
    async with vt.running(), Client(virtual_server(sandbox, vt), mode=mode) as client:
        result = await client.call_tool(
            "poll_task",
            {"provider": "deepomatic", "task_ids": ids, "wait_s": 50},
            progress_callback=on_progress,
            meta=meta or None,
        )
    assert not result.is_error and result.structured_content["all_terminal"]
    times = [0.0] + [at for at, *_ in seen] + [result.structured_content["waited_s"]]
    assert max(later - earlier for earlier, later in zip(times, times[1:], strict=False)) <= 5
    values = [float(progress) for _, progress, _, _ in seen]
    assert all(later > earlier for earlier, later in zip(values, values[1:], strict=False))
    assert values[-1] == 100 and all(float(total or 0) == 100 for *_, total, _ in seen)
    assert seen[-1][3].startswith("100/100 done")
    assert any("running" in (message or "") for *_, message in seen)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_no_progress_token_no_heartbeat(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that asked for no progress gets none, and the poll does not even try: no heartbeat
    wakes every few seconds to report into the void."""
    reports: list[float] = []

    async def counted(self: Context, progress: float, total: float | None = None, message: str | None = None) -> None:
        reports.append(progress)

    monkeypatch.setattr(Context, "report_progress", counted)
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = sandbox.add_deepomatic_tasks(10, finish_between=(8, 45), error_rate=0, seed=9)
    async with vt.running(), Client(virtual_server(sandbox, vt), mode=mode) as client:
        data = (await call(client, provider="deepomatic", task_ids=ids, wait_s=50)).structured_content
        assert data["all_terminal"] and data["waited_s"] > 8
        assert reports == []
        await client.call_tool(
            "poll_task", {"provider": "deepomatic", "task_ids": ids, "wait_s": 0}, meta={"progress_token": "p"}
        )
        assert len(reports) == 1  # the same poll with a token does report (one round: one notification)


async def _loopback_client_and_pool(sandbox: Sandbox, origin: str) -> tuple[MCPServer, httpx.AsyncHTTPTransport]:
    transport = httpx.AsyncHTTPTransport()
    config = Config(providers=sandbox_providers(sandbox, origin=origin), sandbox=True)
    return build_server(config, lambda name: Runtime(transport=transport)), transport


def _busy_connections(transport: httpx.AsyncHTTPTransport) -> int:
    return sum(not connection.is_idle() for connection in transport._pool.connections)


@pytest.mark.parametrize(("mode", "moment"), [("auto", "waiting"), ("legacy", "requesting")])
async def test_cancelling_a_poll_leaves_no_loop_and_no_open_request(mode: str, moment: str) -> None:
    """Real time and real sockets: the client gives up while the poll waits between rounds, or while
    a request is in flight; afterwards no task of the poll runs and no request is sent or open."""
    sandbox = Sandbox(clock=ManualClock())  # its time stands still: the tasks stay pending
    ids = sandbox.add_deepomatic_tasks(5, finish_between=(100, 200), error_rate=0, seed=1)
    async with serve_on_loopback(sandbox) as origin:
        server, transport = await _loopback_client_and_pool(sandbox, origin)
        async with Client(server, mode=mode) as client:
            await client.call_tool("get_task", {"provider": "deepomatic", "task_id": DEEPOMATIC_DOC_TASK})
            if moment == "requesting":
                sandbox.faults.add(Fault(kind="slow", provider="deepomatic", delay_s=3.0, times=1))
            tasks_before = len(asyncio.all_tasks())
            sent_before = len(sandbox.requests)
            with anyio.move_on_after(1.5 if moment == "waiting" else 0.5) as scope:
                await client.call_tool("poll_task", {"provider": "deepomatic", "task_ids": ids, "wait_s": 50})
            assert scope.cancelled_caught
            await anyio.sleep(0.5)
            assert len(asyncio.all_tasks()) == tasks_before
            assert _busy_connections(transport) == 0
            sent = len(sandbox.requests)
            assert sent > sent_before
            await anyio.sleep(2.5)  # a leaked loop would have polled again by now (interval 1-1.5 s)
            assert len(sandbox.requests) == sent
            if moment == "requesting":
                abandoned = sandbox.requests[-1]
                assert abandoned.fault == "slow" and abandoned.status == 0  # the client hung up on it


async def test_a_100_task_ango_result_fits_the_budget_too() -> None:
    """Ango ids are 24 hex characters (~14 tokens each, against ~4 for Deepomatic's), the costliest rows."""
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    ids = seeded_ango_ids(sandbox, 100, exclude=[])
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (await call(client, provider="ango", task_ids=ids, wait_s=0, project_id=ANGO_PROJECT)).structured_content
    assert len(poll_rows(data)) == 100 and sum(data["counts"].values()) == 100
    print("poll_task result tokens (o200k_base), 100 seeded Ango tasks:", tokens(data))
    assert tokens(data) <= RESULT_BUDGET, tokens(data)


async def test_unknown_ango_ids_share_one_error_sentence() -> None:
    """Ango's 404 sentence names the id; twenty unknown ids make one group whose sentence says `<id>`,
    not twenty sentences (which cost more than the hundred ids of a poll)."""
    sandbox = Sandbox(clock=ManualClock())
    vt = VirtualTime(sandbox.clock)  # type: ignore[arg-type]
    unknown = [f"{0xBADC0DE000000000000000 + n:024x}" for n in range(20)]
    ids = seeded_ango_ids(sandbox, 78, exclude=[]) + unknown  # 98 reads and the project's: under 100 a minute
    async with vt.running(), Client(virtual_server(sandbox, vt)) as client:
        data = (await call(client, provider="ango", task_ids=ids, wait_s=0, project_id=ANGO_PROJECT)).structured_content
    errors = [group for group in data["tasks"] if "error" in group]
    assert len(errors) == 1 and errors[0]["ids"] == unknown, errors
    assert errors[0]["error"].startswith("Ango has no task <id> (HTTP 404)")
    assert data["counts"]["error"] == 20 and len(poll_rows(data)) == 98
    print("poll_task result tokens (o200k_base), 78 seeded and 20 unknown Ango ids:", tokens(data))
    assert tokens(data) <= RESULT_BUDGET, tokens(data)
