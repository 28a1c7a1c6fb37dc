"""Deepomatic's batch read: ids as repeated `task_ids` keys, 100 per request, every page, key kept home."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.clocks import FakeTime
from tasklens.server.sandbox import SANDBOX_KEYS, ManualClock, Sandbox
from tasklens.tools.errors import ProviderError
from tasklens.tools.providers import ProviderSettings, Runtime
from tasklens.tools.providers.deepomatic import DeepomaticClient
from tasklens.tools.results.task import TaskView

pytestmark = pytest.mark.anyio


def client(transport: httpx.AsyncBaseTransport, fake_time: FakeTime, base_url: str) -> DeepomaticClient:
    settings = ProviderSettings(name="deepomatic", api_key=SANDBOX_KEYS["deepomatic"], base_url=base_url)
    return DeepomaticClient(settings, Runtime(transport=transport, clock=fake_time.clock, sleep=fake_time.sleep))


async def test_250_ids_take_three_list_requests_and_unknown_ids_are_per_task(fake_time: FakeTime) -> None:
    sandbox = Sandbox(clock=ManualClock())
    ids = sandbox.add_deepomatic_tasks(250, finish_between=(0, 0), error_rate=0.2, seed=2)
    deepomatic = client(httpx.ASGITransport(app=sandbox), fake_time, sandbox.base_url("deepomatic"))
    reads = await deepomatic.read_many([*ids, "123"], team_id=None, project_id=None, deadline=fake_time.now + 30)
    await deepomatic.aclose()
    requests = sandbox.requests.for_provider("deepomatic")
    assert len(requests) == 3
    first = parse_qs(requests[0].query)
    assert first["task_ids"] == ids[:100] and first["limit"] == ["100"]  # repeated keys, as the SDK sends
    assert all(isinstance(reads[i], TaskView) and reads[i].terminal for i in ids)
    assert {reads[i].state for i in ids} == {"succeeded", "failed"}  # type: ignore[union-attr]
    missing = reads["123"]
    assert isinstance(missing, ProviderError) and missing.kind == "not_found"


async def test_pages_are_followed_by_offset_on_our_own_url_never_upstreams_next(fake_time: FakeTime) -> None:
    seen: list[httpx.Request] = []

    def task(task_id: str) -> dict[str, object]:
        return {"id": task_id, "status": "pending", "error": None, "data": None}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset = int(parse_qs(request.url.query.decode()).get("offset", ["0"])[0])
        if offset == 0:  # a DRF page whose `next` points elsewhere: only its offset may be used
            return httpx.Response(
                200,
                json={
                    "count": 3,
                    "next": "https://elsewhere.example/v0.7/tasks/?limit=2&offset=2",
                    "previous": None,
                    "results": [task("1"), task("2")],
                },
            )
        return httpx.Response(200, json={"count": 3, "next": None, "previous": None, "results": [task("3")]})

    deepomatic = client(httpx.MockTransport(answer), fake_time, "https://api.deepomatic.test")
    reads = await deepomatic.read_many(["1", "2", "3"], team_id=None, project_id=None, deadline=fake_time.now + 30)
    await deepomatic.aclose()
    assert all(isinstance(reads[i], TaskView) and reads[i].state == "running" for i in "123")  # type: ignore[union-attr]
    assert [urlsplit(str(r.url)).netloc for r in seen] == ["api.deepomatic.test"] * 2
    assert parse_qs(seen[1].url.query.decode())["offset"] == ["2"]


@pytest.mark.parametrize("offset", ["²", "٣", "9" * 5000, "-2", "2.0"])
async def test_a_next_link_with_an_unusable_offset_ends_the_pages(fake_time: FakeTime, offset: str) -> None:
    """'²' passes str.isdigit() and then breaks int(); any offset that is not plain digits ends the paging,
    and the tasks of the page already read are kept."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = {"id": "1", "status": "success", "error": None, "data": None}
        return httpx.Response(200, json={"count": 2, "next": f"https://x/?offset={offset}", "results": [page]})

    deepomatic = client(httpx.MockTransport(answer), fake_time, "https://api.deepomatic.test")
    reads = await deepomatic.read_many(["1", "2"], team_id=None, project_id=None, deadline=fake_time.now + 30)
    await deepomatic.aclose()
    assert isinstance(reads["1"], TaskView) and reads["1"].state == "succeeded"
    assert isinstance(reads["2"], ProviderError) and reads["2"].kind == "not_found"
    assert len(seen) == 1
