"""find_tasks through a real MCP client on the sandbox, checked against the raw list endpoints paged by
hand: counts, filters, cursors and order, refusals, and the requests one call may send."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from mcp import Client

from support.catalog_calls import unthrottled_server
from support.mcp_harness import AUTH_HEADERS, text_of
from tasklens.server.sandbox import Fault, ManualClock, Sandbox
from tasklens.server.sandbox.catalog import ANGO_PROJECT
from tasklens.tools.providers import ango, maxsight
from tasklens.tools.results.find import COUNTED_STAGES, _largest, age_text

pytestmark = pytest.mark.anyio
ANGO = {"provider": "ango", "project_id": ANGO_PROJECT}
MAXSIGHT = {"provider": "maxsight"}
# What each Ango stage type and Maxsight status means, written out from the providers' docs.
ANGO_STATE_OF_TYPE = {
    "Start": "queued",
    "Plugin": "running",
    "Logic": "running",
    "Webhook": "running",
    "Label": "waiting_on_human",
    "Review": "waiting_on_human",
    "Consensus": "waiting_on_human",
    "Hold": "waiting_on_human",
    "Complete": "succeeded",
    "Archive": "cancelled",
}
MAXSIGHT_STATE_OF_STATUS = {
    "INCOMPLETE": "waiting_on_human",
    "COMPLETED_PASS": "succeeded",
    "COMPLETED_FAIL": "failed",
    "EXPIRED": "unknown",
}


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(clock=ManualClock(), ango_requests_per_minute=None)


def _http(sandbox: Sandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox")


async def raw_ango(sandbox: Sandbox) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, str]]:
    """Every task of the project (the list endpoint paged by hand), its stages by id, its batches by id."""
    async with _http(sandbox) as http:
        project = (await http.get(f"/ango/v2/project/{ANGO_PROJECT}", headers=AUTH_HEADERS["ango"])).json()
        tasks: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await http.get(
                f"/ango/v2/project/{ANGO_PROJECT}/tasks",
                params={"page": page, "limit": 100},
                headers=AUTH_HEADERS["ango"],
            )
            data = response.json()["data"]
            tasks += data["tasks"]
            if page * 100 >= data["total"]:
                break
            page += 1
    assert len(tasks) == data["total"] > 100  # more than one raw page
    definition = project["data"]["project"]
    return tasks, {s["id"]: s for s in definition["stages"]}, {b["_id"]: b["name"] for b in definition["batches"]}


async def raw_maxsight(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every Maxsight task: the search endpoint paged by hand through its page tokens."""
    tasks: list[dict[str, Any]] = []
    body: dict[str, Any] = {"max_page_size": 25}
    async with _http(sandbox) as http:
        while True:
            page = (await http.post("/maxsight/v5/tasks/search", json=body, headers=AUTH_HEADERS["maxsight"])).json()
            tasks += page["items"]
            if not page["next_page_token"]:
                return tasks
            body["page_token"] = page["next_page_token"]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def call(client: Client, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool("find_tasks", arguments)
    assert not result.is_error, (arguments, text_of(result))
    assert result.structured_content is not None
    return result.structured_content


async def walk(client: Client, arguments: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every row of a query, following next_cursor to the end; and the pages."""
    pages = [await call(client, arguments)]
    while "next_cursor" in pages[-1]:
        assert len(pages) < 200, "the walk does not end"
        pages.append(await call(client, {**arguments, "cursor": pages[-1]["next_cursor"]}))
    return [row for page in pages for row in page.get("tasks", [])], pages


def assert_walk(rows: list[dict[str, Any]], expected: list[dict[str, Any]], updated: str, oldest_first: bool) -> None:
    """The rows are the expected tasks, each exactly once, in update order."""
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "a task was listed twice"
    assert set(ids) == {task["_id"] if "_id" in task else task["id"] for task in expected}
    times = {task.get("_id", task.get("id")): _moment(task[updated]) for task in expected}
    order = [times[task_id] for task_id in ids]
    assert order == sorted(order, reverse=not oldest_first)


def ango_counts(tasks: list[dict[str, Any]], stages: dict[str, dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    by_state = Counter(ANGO_STATE_OF_TYPE[stages[t["stage"]]["type"]] for t in tasks)
    by_stage = Counter(stages[t["stage"]]["name"] for t in tasks)
    return by_state, by_stage


async def test_ango_counts_equal_a_count_of_the_raw_list(sandbox: Sandbox) -> None:
    tasks, stages, _ = await raw_ango(sandbox)
    cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({}, tasks),
        (
            {"state": "waiting_on_human"},
            [t for t in tasks if stages[t["stage"]]["type"] in ("Label", "Review", "Consensus", "Hold")],
        ),
        (
            {"assignee": "sofia.romano@fieldlabel.io"},
            [t for t in tasks if t["assignee"] == "sofia.romano@fieldlabel.io"],
        ),
    ]
    async with Client(unthrottled_server(sandbox)) as client:
        for filters, expected in cases:
            result = await call(client, {**ANGO, **filters})
            by_state, by_stage = ango_counts(expected, stages)
            assert result["total"] == len(expected) and "total_is_lower_bound" not in result
            assert result["counts"] == {"state": dict(by_state), "stage": dict(by_stage)}, filters


async def test_maxsight_counts_equal_a_count_of_the_raw_search(sandbox: Sandbox) -> None:
    tasks = await raw_maxsight(sandbox)
    async with Client(unthrottled_server(sandbox)) as client:
        for filters, expected in [
            ({}, tasks),
            ({"stage": "screening"}, [t for t in tasks if t["step_name"] == "Screening"]),
        ]:
            result = await call(client, {**MAXSIGHT, **filters})
            assert result["total"] == len(expected) and "total_is_lower_bound" not in result
            assert result["counts"] == {
                "state": dict(Counter(MAXSIGHT_STATE_OF_STATUS[t["status"]] for t in expected)),
                "stage": dict(Counter(t["step_name"] for t in expected)),
            }


async def test_ango_filters_give_the_ids_a_hand_filter_gives(sandbox: Sandbox) -> None:
    tasks, stages, batches = await raw_ango(sandbox)
    after, before = "2025-02-25T00:00:00Z", "2025-03-01T12:00:00Z"
    batch_id, batch_name = next(iter(batches.items()))
    human = ("Label", "Review", "Consensus", "Hold")
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"stage": "review"}, lambda t: stages[t["stage"]]["name"] == "Review"),
        ({"stage": "Amount Extraction"}, lambda t: stages[t["stage"]]["name"] == "Amount extraction"),
        ({"state": "succeeded"}, lambda t: stages[t["stage"]]["type"] == "Complete"),
        ({"state": "running"}, lambda t: stages[t["stage"]]["type"] in ("Logic", "Plugin", "Webhook")),
        ({"assignee": "none"}, lambda t: not t["assignee"]),
        (
            {"assignee": "none", "state": "waiting_on_human"},
            lambda t: not t["assignee"] and stages[t["stage"]]["type"] in human,
        ),
        (
            {"assignee": "tomasz.nowak@fieldlabel.io", "stage": "Label"},
            lambda t: t["assignee"] == "tomasz.nowak@fieldlabel.io" and t["stage"] == "Label",
        ),
        ({"updated_after": after}, lambda t: _moment(t["updatedAt"]) >= _moment(after)),
        (
            {"updated_after": after, "updated_before": before},
            lambda t: _moment(after) <= _moment(t["updatedAt"]) < _moment(before),
        ),
        ({"batch": batch_name.upper()}, lambda t: batch_id in t["batches"]),
    ]
    async with Client(unthrottled_server(sandbox)) as client:
        for filters, keep in cases:
            expected = [t for t in tasks if keep(t)]
            assert expected, filters
            for sort in ("oldest_update", "newest_update"):
                rows, _ = await walk(client, {**ANGO, **filters, "sort": sort, "limit": 100})
                assert_walk(rows, expected, "updatedAt", sort == "oldest_update")


async def test_maxsight_filters_give_the_ids_a_hand_filter_gives(sandbox: Sandbox) -> None:
    tasks = await raw_maxsight(sandbox)
    assignee = next(t["assignment"]["assigned_to_id"] for t in tasks if t["assignment"])
    after = sorted(t["updated_at"] for t in tasks)[len(tasks) // 2]  # a bound equal to a task's own time
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"state": "waiting_on_human"}, lambda t: t["status"] == "INCOMPLETE"),
        ({"state": "succeeded"}, lambda t: t["status"] == "COMPLETED_PASS"),
        (
            {"state": "failed", "stage": "APPROVAL"},
            lambda t: t["status"] == "COMPLETED_FAIL" and t["step_name"] == "Approval",
        ),
        ({"assignee": "none"}, lambda t: t["assignment"] is None),
        ({"assignee": assignee}, lambda t: (t["assignment"] or {}).get("assigned_to_id") == assignee),
        ({"assignee": f"user:{assignee}"}, lambda t: (t["assignment"] or {}).get("assigned_to_id") == assignee),
        ({"updated_after": after}, lambda t: t["updated_at"] >= after),
        (
            {"updated_before": after, "state": "waiting_on_human"},
            lambda t: t["updated_at"] < after and t["status"] == "INCOMPLETE",
        ),
    ]
    async with Client(unthrottled_server(sandbox)) as client:
        for filters, keep in cases:
            expected = [t for t in tasks if keep(t)]
            assert expected, filters
            for sort in ("oldest_update", "newest_update"):
                rows, pages = await walk(client, {**MAXSIGHT, **filters, "sort": sort, "limit": 100})
                assert_walk(rows, expected, "updated_at", sort == "oldest_update")
                assert "creation time" in pages[0]["note"]  # the order is made here, and it says so


@pytest.mark.parametrize("base", [ANGO, MAXSIGHT], ids=["ango", "maxsight"])
async def test_cursors_walk_every_match_once_in_update_order(sandbox: Sandbox, base: dict[str, Any]) -> None:
    if base is ANGO:
        expected, updated = (await raw_ango(sandbox))[0], "updatedAt"
    else:
        expected, updated = await raw_maxsight(sandbox), "updated_at"
    async with Client(unthrottled_server(sandbox)) as client:
        for sort in ("oldest_update", "newest_update"):
            rows, pages = await walk(client, {**base, "sort": sort, "limit": 7, "response_format": "detailed"})
            assert_walk(rows, expected, updated, sort == "oldest_update")
            assert all(len(page["tasks"]) <= 7 for page in pages)
            assert "counts" in pages[0] and all("counts" not in page for page in pages[1:])
            assert all(row["updated_at"] and row["age"].endswith("d") for row in rows)  # the sandbox's epoch is past


async def test_maxsight_reads_blocks_and_says_what_they_cover(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more matches than one call reads (5 pages, here of 10), the order is update time within each
    block, the total a lower bound, and the cursor still walks every match once."""
    monkeypatch.setattr(maxsight, "FIND_PAGE_SIZE", 10)
    tasks = await raw_maxsight(sandbox)
    assert len(tasks) > 50
    async with Client(unthrottled_server(sandbox)) as client:
        before = len(sandbox.requests)
        first = await call(client, {**MAXSIGHT, "limit": 20})
        assert len(sandbox.requests) - before == maxsight.FIND_PAGES
        assert first["total"] == 50 and first["total_is_lower_bound"] is True
        assert sum(first["counts"]["state"].values()) == 50 and "cover this block" in first["note"]
        rows, pages = await walk(client, {**MAXSIGHT, "limit": 20, "response_format": "detailed"})
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) and set(ids) == {t["id"] for t in tasks}
    oldest_created = sorted(tasks, key=lambda t: (t["created_at"], t["id"]))
    block = {t["id"] for t in oldest_created[:50]}
    assert {row["id"] for row in rows[:50]} == block  # the first block: the 50 oldest-created tasks
    assert [r["updated_at"] for r in rows[:50]] == sorted(r["updated_at"] for r in rows[:50])


async def test_requests_per_call_are_bounded(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """One project read, one page, and at most FIND_COUNT_REQUESTS counts (fewer when the page holds the
    whole match or one stage is asked for); a later page sends one request. Stages past the bound are
    named in counts.partial."""
    async with Client(unthrottled_server(sandbox)) as client:
        observed = {}
        for label, arguments in {
            "first page, every stage": ANGO,
            "first page, one stage": {**ANGO, "stage": "Review"},
            "whole match on the page": {**ANGO, "state": "running"},
        }.items():
            before = len(sandbox.requests)
            result = await call(client, arguments)
            observed[label] = len(sandbox.requests) - before
            assert "partial" not in result["counts"]
        assert observed == {
            "first page, every stage": 1 + 1 + 11,
            "first page, one stage": 1,
            "whole match on the page": 1,
        }
        monkeypatch.setattr(ango.client, "FIND_COUNT_REQUESTS", 4)
        before = len(sandbox.requests)
        partial = await call(client, {**ANGO, "state": "waiting_on_human"})
        assert len(sandbox.requests) - before == 1 + 4
        assert partial["counts"]["partial"].startswith("Not counted (at most 4 stages a call): Client query hold;")
        assert all(request.provider == "ango" for request in sandbox.requests[before:])


async def test_a_later_page_reads_one_page_only(sandbox: Sandbox) -> None:
    async with Client(unthrottled_server(sandbox)) as client:
        first = await call(client, ANGO)
        before = len(sandbox.requests)
        second = await call(client, {**ANGO, "cursor": first["next_cursor"]})
    assert len(sandbox.requests) - before == 1 and "counts" not in second


async def test_refusals_say_what_to_do_instead(sandbox: Sandbox) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (
            {"provider": "sendai", "team_id": "team_123456", "project_id": "proj_123456"},
            ["Send.ai documents no task listing", "get_task or poll_task"],
        ),
        ({"provider": "deepomatic"}, ["Deepomatic documents no task listing", "get_task or poll_task"]),
        ({**ANGO, "stage": "QA"}, ["has no stage 'QA'", "Start, Pre-label (YOLOv8), Label", "Review", "Archive"]),
        (
            {**ANGO, "state": "done"},
            ["state must be one of 'queued', 'running', 'waiting_on_human', 'succeeded', 'failed' or 'cancelled'"],
        ),
        (
            {**ANGO, "state": "failed"},
            ["No Ango stage means failed", "queued, waiting_on_human, running, succeeded, cancelled"],
        ),
        (
            {**MAXSIGHT, "state": "queued"},
            ["No Maxsight status means queued", "waiting_on_human, succeeded, failed, cancelled"],
        ),
        ({**MAXSIGHT, "batch": "x"}, ["Maxsight tasks have no batches"]),
        ({**ANGO, "batch": "Night shift"}, ["has no batch 'Night shift'", "Munich urban - Aug 2023"]),
        ({"provider": "ango"}, ["pass project_id"]),
        ({**ANGO, "updated_after": "last tuesday"}, ["updated_after must be an ISO 8601 time"]),
        ({**ANGO, "updated_after": "2025-03-02", "updated_before": "2025-03-01"}, ["must be earlier than"]),
        ({**ANGO, "cursor": "page:2"}, ["call again without cursor"]),
        ({**ANGO, "cursor": "eyJxIjoiMCIsImsiOjIsInMiOjB9"}, ["other filters, sort or limit"]),
    ]
    async with Client(unthrottled_server(sandbox)) as client:
        other = await call(client, {**ANGO, "limit": 5})
        cases.append(({**ANGO, "limit": 6, "cursor": other["next_cursor"]}, ["other filters, sort or limit"]))
        before = len(sandbox.requests)
        for arguments, expected in cases:
            result = await client.call_tool("find_tasks", arguments)
            text = text_of(result)
            assert result.is_error and all(part in text for part in expected), (arguments, text)
            assert len(text) <= 600 and "\n" not in text
    assert len(sandbox.requests) == before  # refused before anything was sent (the project is cached)


async def test_a_state_no_stage_of_the_project_has_is_an_empty_answer(sandbox: Sandbox) -> None:
    async with Client(unthrottled_server(sandbox)) as client:
        result = await call(client, {**ANGO, "state": "queued", "stage": "Review"})
    assert result["total"] == 0 and "tasks" not in result and "No stage of project" in result["note"]


async def test_an_unreadable_project_definition_is_said_not_hidden(sandbox: Sandbox) -> None:
    """Without the project definition, rows still list (custom stages as ids, state unknown), counts are said
    to be unreadable, a state filter is refused with what to do, and the next call reads it again."""
    async with Client(unthrottled_server(sandbox)) as client:
        sandbox.faults.add(Fault("malformed", times=1, provider="ango", path_contains=f"/project/{ANGO_PROJECT}"))
        degraded = await call(client, ANGO)
        assert "could not be resolved" in degraded["note"] and "unreadable" in degraded["counts"]["partial"]
        unresolved = [row for row in degraded["tasks"] if row["state"] == "unknown"]
        assert degraded["total"] > 100 and unresolved and all(row["stage"].count("-") == 4 for row in unresolved)
        sandbox.faults.add(Fault("malformed", times=1, provider="ango", path_contains=f"/project/{ANGO_PROJECT}"))
        refused = await client.call_tool("find_tasks", {**ANGO, "state": "waiting_on_human"})
        assert refused.is_error and "call without stage and state" in text_of(refused)
        again = await call(client, ANGO)
    assert "note" not in again and "partial" not in again["counts"]


def test_ages_read_as_a_person_says_them() -> None:
    cases = {0: "0s", 59: "59s", 60: "1m", 3599: "59m", 3600: "1h", 3660 * 5: "5h 5m", 86400 * 3 + 3600 * 4: "3d 4h"}
    cases |= {86400 * 2: "2d", 86400 * 7 + 3600: "7d", 86400 * 400: "400d", -5: "0s"}
    assert {seconds: age_text(seconds) for seconds in cases} == cases


def test_counts_name_the_largest_stages_and_sum_the_rest() -> None:
    many = {f"Step {i:02d}": i for i in range(1, 41)}
    kept = _largest(many)
    assert len(kept) == COUNTED_STAGES and sum(kept.values()) == sum(many.values())
    assert kept[f"other ({40 - COUNTED_STAGES + 1} stages)"] == sum(range(1, 40 - COUNTED_STAGES + 2))
    assert _largest({"x" * 300: 1, "Review": 2}) == {"x" * 29 + " … " + "x" * 28: 1, "Review": 2}
