"""Tests of the provider sandbox (tasklens.server.sandbox), from the provider docs' point of view."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tasklens.server.sandbox import (
    CATALOG,
    SANDBOX_KEYS,
    Fault,
    ManualClock,
    Sandbox,
    SimulatedDisconnect,
    WallClock,
    serve_on_loopback,
)

pytestmark = pytest.mark.anyio

ANGO = {"apikey": SANDBOX_KEYS["ango"]}
DEEPO = {"X-API-KEY": SANDBOX_KEYS["deepomatic"]}
SENDAI = {"Authorization": f"Bearer {SANDBOX_KEYS['sendai']}"}
MAXSIGHT = {"apikey": SANDBOX_KEYS["maxsight"]}
ANGO_PROJECT = "645240ed462db80015ce881f"
SENDAI_BASE = "/sendai/v2/team_123456/project/proj_123456/task"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sb(clock: ManualClock) -> Sandbox:
    return Sandbox(clock=clock)


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb), base_url="http://sandbox") as c:
        yield c


def entries(provider: str) -> list:
    return [e for e in CATALOG if e.provider == provider]


def task_url(entry) -> str:  # type: ignore[no-untyped-def]
    if entry.provider == "ango":
        return f"/ango/v2/task/{entry.task_id}"
    if entry.provider == "deepomatic":
        return f"/deepomatic/v0.7/tasks/{entry.task_id}/"
    if entry.provider == "sendai":
        return f"/sendai/v2/{entry.team_id}/project/{entry.project_id}/task/{entry.task_id}"
    return f"/maxsight/v5/tasks/{entry.task_id}"


AUTH = {"ango": ANGO, "deepomatic": DEEPO, "sendai": SENDAI, "maxsight": MAXSIGHT}


# ---- public API & catalog ------------------------------------------------------------------------


def test_public_api_shapes(sb: Sandbox) -> None:
    assert set(SANDBOX_KEYS) == {"ango", "deepomatic", "sendai", "maxsight"}
    assert sb.base_url("ango") == "http://sandbox/ango"
    assert sb.base_url("maxsight", "http://127.0.0.1:9") == "http://127.0.0.1:9/maxsight"
    with pytest.raises(ValueError):
        sb.base_url("nope")
    assert isinstance(Sandbox().clock, WallClock)
    assert {e.provider for e in CATALOG} == {"ango", "deepomatic", "sendai", "maxsight"}
    assert all(e.scenario and "\n" not in e.scenario for e in CATALOG)


async def test_every_catalog_entry_resolves(client: httpx.AsyncClient) -> None:
    for entry in CATALOG:
        response = await client.get(task_url(entry), headers=AUTH[entry.provider])
        assert response.status_code == 200, (entry, response.text)


async def test_control_catalog_and_index(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/_sandbox/catalog")).json()
    assert [e["task_id"] for e in listed] == [e.task_id for e in CATALOG]
    index = (await client.get("/_sandbox/")).json()
    assert index["providers"]["deepomatic"] == "http://sandbox/deepomatic"


def test_seed_determinism() -> None:
    a, b, c = Sandbox(ManualClock(), seed=1), Sandbox(ManualClock(), seed=1), Sandbox(ManualClock(), seed=2)
    pick = "65f2a9c41e7b3d0012c4a801"
    ta, tb, tc = (s._ango.world.task_payload(s._ango.world.tasks[pick], 0, True) for s in (a, b, c))
    assert ta == tb and ta != tc
    assert sorted(a._ango.world.tasks) == sorted(b._ango.world.tasks) != sorted(c._ango.world.tasks)


# ---- Deepomatic ------------------------------------------------------------------------------------


async def test_deepomatic_docs_task_verbatim(client: httpx.AsyncClient) -> None:
    r = await client.get("/deepomatic/v0.7/tasks/269999729/", headers=DEEPO)
    assert r.status_code == 200
    assert r.json() == {
        "id": "269999729",
        "status": "success",
        "error": None,
        "date_created": "2018-03-10T20:38:12.818792Z",
        "date_updated": "2018-03-10T20:38:13.032942Z",
        "data": {
            "outputs": [
                {
                    "labels": {
                        "discarded": [],
                        "predicted": [
                            {
                                "threshold": 0.025,
                                "label_id": 207,
                                "score": 0.952849746,
                                "label_name": "golden retriever",
                            }
                        ],
                    }
                }
            ]
        },
        "subtasks": None,
    }


async def test_deepomatic_outputs_are_realistic(client: httpx.AsyncClient) -> None:
    cls = (await client.get("/deepomatic/v0.7/tasks/270114583/", headers=DEEPO)).json()
    labels = cls["data"]["outputs"][0]["labels"]
    assert labels["predicted"] and labels["discarded"]
    assert all(set(p) == {"threshold", "label_id", "score", "label_name"} for p in labels["predicted"])
    assert all(p["score"] >= p["threshold"] > d["score"] for p in labels["predicted"] for d in labels["discarded"])
    det = (await client.get("/deepomatic/v0.7/tasks/270114590/", headers=DEEPO)).json()
    box = det["data"]["outputs"][0]["labels"]["predicted"][0]["roi"]
    assert set(box) == {"region_id", "bbox"} and box["bbox"]["xmin"] < box["bbox"]["xmax"] <= 1
    err = (await client.get("/deepomatic/v0.7/tasks/270114602/", headers=DEEPO)).json()
    assert err["status"] == "error" and err["error"] and err["data"] is None and err["date_updated"]


async def test_deepomatic_append_slash_redirect(client: httpx.AsyncClient) -> None:
    r = await client.get("/deepomatic/v0.7/tasks/269999729")
    assert r.status_code == 301 and r.headers["location"] == "/deepomatic/v0.7/tasks/269999729/"
    r = await client.get("/deepomatic/v0.7/tasks?task_ids=1&task_ids=2")
    assert r.status_code == 301 and r.headers["location"] == "/deepomatic/v0.7/tasks/?task_ids=1&task_ids=2"
    followed = await client.get("/deepomatic/v0.7/tasks/269999729", headers=DEEPO, follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["id"] == "269999729"


async def test_deepomatic_auth_and_not_found(client: httpx.AsyncClient) -> None:
    r = await client.get("/deepomatic/v0.7/tasks/269999729/", headers={"X-API-KEY": "wrong"})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid API key."})
    r = await client.get("/deepomatic/v0.7/tasks/269999729/")
    assert r.status_code == 401 and set(r.json()) == {"detail"}
    r = await client.get("/deepomatic/v0.7/tasks/1/", headers=DEEPO)
    assert (r.status_code, r.json()) == (404, {"detail": "Not found."})
    r = await client.get("/deepomatic/v0.7/nothing/here/", headers=DEEPO)
    assert (r.status_code, r.json()) == (404, {"detail": "Not found."})


async def test_deepomatic_list_pagination(client: httpx.AsyncClient) -> None:
    ids = ["269999729", "269999730", "270114583", "270114590", "270114602"]
    r = await client.get(
        "/deepomatic/v0.7/tasks/", params=[("task_ids", i) for i in ids] + [("limit", "2")], headers=DEEPO
    )
    page = r.json()
    assert page["count"] == 5 and page["previous"] is None and len(page["results"]) == 2
    assert page["next"].startswith("http://sandbox/deepomatic/v0.7/tasks/?") and "offset=2" in page["next"]
    seen = [t["id"] for t in page["results"]]
    while page["next"]:
        page = (await client.get(page["next"], headers=DEEPO)).json()
        assert page["previous"] is not None
        seen += [t["id"] for t in page["results"]]
    assert seen == ids
    comma = (await client.get("/deepomatic/v0.7/tasks/?task_ids=269999729,269999730,999", headers=DEEPO)).json()
    assert [t["id"] for t in comma["results"]] == ["269999729", "269999730"] and comma["next"] is None


async def test_deepomatic_time_transitions(client: httpx.AsyncClient, clock: ManualClock) -> None:
    async def status(task_id: str) -> dict:
        return (await client.get(f"/deepomatic/v0.7/tasks/{task_id}/", headers=DEEPO)).json()

    for task_id in ("270114620", "270114627", "270114611"):
        t = await status(task_id)
        assert t["status"] == "pending" and t["date_updated"] is None and t["data"] is None
    clock.advance(19.9)
    assert (await status("270114620"))["status"] == "pending"
    clock.advance(0.1)
    done = await status("270114620")
    assert done["status"] == "success" and done["date_updated"].startswith("2025-03-03T09:00:20")
    assert done["data"]["outputs"]
    assert (await status("270114627"))["status"] == "pending"
    clock.set(40)
    failed = await status("270114627")
    assert failed["status"] == "error" and failed["error"] and failed["data"] is None
    clock.advance(10_000)
    assert (await status("270114611"))["status"] == "pending"


async def test_add_deepomatic_tasks_timing(sb: Sandbox, client: httpx.AsyncClient, clock: ManualClock) -> None:
    clock.set(100)
    ids = sb.add_deepomatic_tasks(30, finish_between=(1.0, 5.0), error_rate=0.3, seed=3)
    assert len(set(ids)) == 30
    finish = {i: sb.deepomatic_finish_time(i) for i in ids}
    assert all(101.0 <= f <= 105.0 for f in finish.values())  # type: ignore[operator]
    assert sb.deepomatic_finish_time("270114611") is None and sb.deepomatic_finish_time("nope") is None
    statuses: set[str] = set()
    for step in range(0, 60):
        now = clock.set(100 + step * 0.1)
        page = (
            await client.get("/deepomatic/v0.7/tasks/", params=[("task_ids", i) for i in ids], headers=DEEPO)
        ).json()
        for task in page["results"]:
            finished = finish[task["id"]] <= now  # type: ignore[operator]
            assert (task["status"] != "pending") == finished
            statuses.add(task["status"])
    assert statuses == {"pending", "success", "error"}
    r = await client.post("/_sandbox/deepomatic/tasks", json={"n": 2, "finish_between": [1, 2], "seed": 1})
    assert r.status_code == 201 and len(r.json()["task_ids"]) == 2


# ---- Send.ai ---------------------------------------------------------------------------------------


async def test_sendai_docs_task_verbatim(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers=SENDAI)
    assert r.status_code == 200 and set(r.json()) == {"payload"}
    task = r.json()["payload"]
    assert task["status"] == "REVIEWING" and task["last_opened_at"] == "2024-01-15T11:45:00Z"
    assert task["pages"][0]["annotations"] == [
        {
            "id": "ann_1",
            "entity_id": "total_amount",
            "confidence": 0.98,
            "content": "$1,234.56",
            "top": 120.5,
            "left_of_line": 340.0,
        }
    ]
    assert task["pages"][0]["signatures"][0]["coordinates"] == [[800, 600], [1100, 600], [1100, 750], [800, 750]]


async def test_sendai_extraction_task_is_realistic(client: httpx.AsyncClient) -> None:
    task = (await client.get(f"{SENDAI_BASE}/task_r3v8n1c6w0ty", headers=SENDAI)).json()["payload"]
    annotations = [a for p in task["pages"] for a in p["annotations"]]
    assert len(task["pages"]) == 3 and 10 <= len(annotations) <= 30
    assert sum(a["confidence"] < 0.6 for a in annotations) >= 3
    assert any(p["checkboxes"] for p in task["pages"]) and task["pages"][-1]["signatures"]
    statuses = set()
    for entry in entries("sendai"):
        r = await client.get(task_url(entry), headers=SENDAI)
        if r.status_code == 200:
            statuses.add(r.json()["payload"]["status"])
    assert statuses >= {"PROCESSING", "REVIEWING", "COMPLETED", "FAILED", "DISCARDED", "FILTERED"}


async def test_sendai_errors(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers={"Authorization": SANDBOX_KEYS["sendai"]})
    assert r.status_code == 401
    r = await client.get(f"{SENDAI_BASE}/task_missing", headers=SENDAI)
    assert (r.status_code, r.json()) == (404, {"error": {"code": "NOT_FOUND", "message": "Task not found"}})
    r = await client.get("/sendai/v2/team_x/project/proj_123456/task/task_abcdef123456", headers=SENDAI)
    assert r.status_code == 404
    r = await client.get("/sendai/v2/team_123456/project/proj_654321/task/task_abcdef123456", headers=SENDAI)
    assert r.status_code == 404  # exists, but in another project
    r = await client.get("/sendai/v2/team_123456/project/proj_990001/task/task_q1w2e3r4t5y6", headers=SENDAI)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"


async def test_sendai_status_loop_over_time(client: httpx.AsyncClient, clock: ManualClock) -> None:
    seen = []
    for t in (0, 9.9, 10, 59, 60, 74.9, 75, 80):
        clock.set(t)
        task = (await client.get(f"{SENDAI_BASE}/task_m2t5v9x3b7lk", headers=SENDAI)).json()["payload"]
        seen.append(task["status"])
        if t == 80:
            assert task["exported_at"] and task["last_opened_at"]
    assert seen == [
        "PROCESSING",
        "PROCESSING",
        "REVIEWING",
        "REVIEWING",
        "PROCESSING",
        "PROCESSING",
        "COMPLETED",
        "COMPLETED",
    ]


# ---- Maxsight --------------------------------------------------------------------------------------


async def test_maxsight_docs_task_and_errors(client: httpx.AsyncClient) -> None:
    r = await client.get("/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers=MAXSIGHT)
    task = r.json()
    assert r.status_code == 200 and task["status"] == "INCOMPLETE" and task["step_name"] == "Review"
    assert task["assignment"]["assigned_to_id"] == "73c0fde6-eb34-47d5-8ccc-1b1d0aa325b6"
    assert task["locked_at"] == "2019-08-24T14:15:22Z" and task["custom_metadata"] is None
    r = await client.get("/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers={"apikey": "x"})
    assert (r.status_code, r.json()) == (401, {"errors": [{"code": 204, "message": "Invalid API key"}]})
    r = await client.get("/maxsight/v5/tasks/00000000-0000-4000-8000-000000000000", headers=MAXSIGHT)
    assert (r.status_code, r.json()) == (404, {"errors": [{"code": 404, "message": "Task not found"}]})
    unassigned = (await client.get("/maxsight/v5/tasks/0b6a8c4e-2f1d-4e7a-9c35-7d2e81f4a6b0", headers=MAXSIGHT)).json()
    assert unassigned["assignment"] is None and unassigned["custom_metadata"]


async def test_maxsight_search_pages(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    body: dict = {"max_page_size": 20, "sorting_field": "TASK_ID", "sorting_type": "ASC"}
    while True:
        r = await client.post("/maxsight/v5/tasks/search", json=body, headers=MAXSIGHT)
        page = r.json()
        assert set(page) == {"items", "next_page_token"} and len(page["items"]) <= 20
        seen += [t["id"] for t in page["items"]]
        if page["next_page_token"] is None:
            break
        body["page_token"] = page["next_page_token"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) > 50
    default = (await client.post("/maxsight/v5/tasks/search", json={}, headers=MAXSIGHT)).json()
    assert len(default["items"]) == 50 and default["next_page_token"]
    statuses = {"filter_model": {"status": {"filterType": "set", "values": ["COMPLETED_FAIL", "EXPIRED"]}}}
    found = (await client.post("/maxsight/v5/tasks/search", json=statuses, headers=MAXSIGHT)).json()["items"]
    assert {t["status"] for t in found} == {"COMPLETED_FAIL", "EXPIRED"}
    bad = await client.post("/maxsight/v5/tasks/search", json={"page_token": "garbage"}, headers=MAXSIGHT)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 201


async def test_maxsight_task_closes_later(client: httpx.AsyncClient, clock: ManualClock) -> None:
    url = "/maxsight/v5/tasks/8f2b6d4a-7e9c-4a1b-b3d5-0c8e6a2f4d93"
    before = (await client.get(url, headers=MAXSIGHT)).json()
    clock.set(119)
    assert (await client.get(url, headers=MAXSIGHT)).json()["status"] == "INCOMPLETE"
    clock.set(120)
    after = (await client.get(url, headers=MAXSIGHT)).json()
    assert before["status"] == "INCOMPLETE" and after["status"] == "COMPLETED_PASS"
    assert after["updated_at"] == "2025-03-03T09:02:00Z" and after["data_version"] == before["data_version"] + 1


# ---- Ango ------------------------------------------------------------------------------------------


async def test_ango_task_envelope_and_answers(client: httpx.AsyncClient) -> None:
    url = "/ango/v2/task/65f2a9c41e7b3d0012c4a801"
    plain = (await client.get(url, params={"includeAnswer": "false"}, headers=ANGO)).json()
    assert plain["status"] == "success" and "answer" not in plain["data"]["task"]
    task = plain["data"]["task"]
    assert task["stage"] == "Complete" and task["status"] == "Completed" and task["reviewStatus"] == "Accepted"
    assert "stageName" not in task and len(task["_id"]) == 24
    for flag in ("true", "True"):
        full = (await client.get(url, params={"includeAnswer": flag}, headers=ANGO)).json()["data"]["task"]
        answer = full["answer"]
        assert 10 <= len(answer["tools"]) <= 60 and answer["classifications"]
        assert any(t["classifications"] for t in answer["tools"])  # nested classifications
        assert len({t["title"] for t in answer["tools"]}) >= 3


async def test_ango_auth_and_not_found(client: httpx.AsyncClient) -> None:
    r = await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801")
    assert r.status_code == 401 and r.json()["status"] == "fail" and r.json()["message"]
    r = await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801", headers={"apikey": "wrong"})
    assert (r.status_code, r.json()) == (401, {"status": "fail", "message": "Invalid API key"})
    r = await client.get("/ango/v2/task/000000000000000000000000", headers=ANGO)
    assert (r.status_code, r.json()) == (404, {"status": "fail", "message": "Task not found"})
    r = await client.get("/ango/v3/whatever", headers=ANGO)
    assert r.status_code == 404 and r.json()["status"] == "fail"


async def test_ango_history_object_vs_list(client: httpx.AsyncClient) -> None:
    docs = (await client.get("/ango/v2/task/6453677fc47af30015be5a58/history", headers=ANGO)).json()
    entry = docs["data"]["taskHistory"]
    assert isinstance(entry, dict) and entry["_id"] == "6464b15e4ea9720015801e07"
    assert entry["stage"] == "77dc1c42-6fef-4745-b783-d6c4d99204e1" and entry["duration"] == 1681
    assert entry["answer"]["tools"][0]["title"] == "Amount" and entry["__v"] == 0
    single = (await client.get("/ango/v2/taskHistory/6464b15e4ea9720015801e07", headers=ANGO)).json()
    assert single["data"]["taskHistory"] == entry
    listed = (await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801/history", headers=ANGO)).json()
    history = listed["data"]["taskHistory"]
    assert isinstance(history, list)
    assert [h["stage"] for h in history] == [
        "Start",
        "Label",
        "5e8f78a7-ef6a-473d-b02f-f4024c9ee486",
        "Label",
        "5e8f78a7-ef6a-473d-b02f-f4024c9ee486",
        "Complete",
    ]
    assert [h["rework"] for h in history] == [False, False, False, True, False, False]
    assert [h.get("reviewStatus") for h in history] == [None, None, "Rejected", None, "Accepted", None]
    one = (await client.get(f"/ango/v2/taskHistory/{history[2]['_id']}", headers=ANGO)).json()
    assert one["data"]["taskHistory"] == history[2]


async def test_ango_rework_changes_the_answer(client: httpx.AsyncClient) -> None:
    history = (await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801/history", headers=ANGO)).json()["data"][
        "taskHistory"
    ]
    first, rework = history[1]["answer"], history[3]["answer"]
    before = {t["objectId"]: t for t in first["tools"]}
    after = {t["objectId"]: t for t in rework["tools"]}
    assert len(set(after) - set(before)) == 3 and len(set(before) - set(after)) == 2
    moved = [i for i in set(before) & set(after) if before[i] != after[i]]
    assert len(moved) == 2 and all(after[i]["metadata"]["updatedIn"] == "Label" for i in moved)
    answers = lambda a: {c["title"]: c["answer"] for c in a["classifications"]}  # noqa: E731
    assert sum(answers(first)[k] != v for k, v in answers(rework).items()) == 1
    assert history[1]["assignee"] == history[3]["assignee"] and history[2]["assignee"] != history[1]["assignee"]
    assert all(h["createdAt"] < n["createdAt"] for h, n in zip(history, history[1:], strict=False))


async def test_ango_history_grows_with_time(client: httpx.AsyncClient, clock: ManualClock) -> None:
    url = "/ango/v2/task/65f2a9c41e7b3d0012c4a802"
    observed = []
    for t in (0, 29, 30, 89, 90):
        clock.set(t)
        task = (await client.get(url, headers=ANGO)).json()["data"]["task"]
        history = (await client.get(f"{url}/history", headers=ANGO)).json()["data"]["taskHistory"]
        observed.append((task["stage"], len(history), history[-1]["stage"]))
    review = "5e8f78a7-ef6a-473d-b02f-f4024c9ee486"
    assert observed == [
        ("Label", 2, "Label"),
        ("Label", 2, "Label"),
        (review, 3, review),
        (review, 3, review),
        ("Complete", 4, "Complete"),
    ]


async def test_ango_project_and_task_list(client: httpx.AsyncClient) -> None:
    project = (await client.get(f"/ango/v2/project/{ANGO_PROJECT}", headers=ANGO)).json()["data"]["project"]
    types = {s["type"] for s in project["stages"]}
    assert types == {
        "Start",
        "Label",
        "Review",
        "Logic",
        "Plugin",
        "Webhook",
        "Complete",
        "Archive",
        "Consensus",
        "Hold",
    }
    assert {"Start", "Label", "Complete"} <= {s["id"] for s in project["stages"]}
    assert all(set(s) == {"id", "name", "type", "position"} for s in project["stages"])
    assert project["batches"] and project["categorySchema"]["tools"] and project["categorySchema"]["classifications"]
    stage_types = {s["id"]: s["type"] for s in project["stages"]}

    seen: set[str] = set()
    page = 1
    while True:
        data = (
            await client.get(f"/ango/v2/project/{ANGO_PROJECT}/tasks", params={"page": page, "limit": 25}, headers=ANGO)
        ).json()["data"]
        seen |= {t["_id"] for t in data["tasks"]}
        if page * 25 >= data["total"]:
            break
        page += 1
    assert len(seen) == data["total"] > 100
    everything = (
        await client.get(f"/ango/v2/project/{ANGO_PROJECT}/tasks", params={"limit": 500}, headers=ANGO)
    ).json()["data"]
    assert len(everything["tasks"]) == 100  # limit capped at 100
    default = (await client.get(f"/ango/v2/project/{ANGO_PROJECT}/tasks", headers=ANGO)).json()["data"]
    assert len(default["tasks"]) == 10
    all_tasks = []
    for p in range(1, 4):
        all_tasks += (
            await client.get(f"/ango/v2/project/{ANGO_PROJECT}/tasks", params={"page": p, "limit": 100}, headers=ANGO)
        ).json()["data"]["tasks"]
    assert {stage_types[t["stage"]] for t in all_tasks} == set(stage_types.values())
    assert {t["status"] for t in all_tasks} == {
        "TODO",
        "Completed",
        "READY",
        "PCT_REQUEUE_WAITING",
        "PCT_SUBMIT_WAITING",
    }
    assert {t["reviewStatus"] for t in all_tasks} == {"Accepted", "Rejected", "Todo", "Fixed"}
    flt = json.dumps({"stage": {"$in": ["Label"]}, "status": {"$eq": "TODO"}})
    labelled = (
        await client.get(
            f"/ango/v2/project/{ANGO_PROJECT}/tasks",
            params={"filter": flt, "limit": 100, "includeAnswer": "true"},
            headers=ANGO,
        )
    ).json()["data"]
    assert labelled["total"] == len(labelled["tasks"]) > 3
    assert all(t["stage"] == "Label" and t["status"] == "TODO" and "answer" in t for t in labelled["tasks"])
    bad = await client.get(f"/ango/v2/project/{ANGO_PROJECT}/tasks", params={"filter": "{nope"}, headers=ANGO)
    assert bad.status_code == 400 and bad.json()["status"] == "fail"


async def test_ango_task_list_filter_operators_and_sort(client: httpx.AsyncClient) -> None:
    """Every documented operator on the list's `filter`, compared with the same test on the whole list."""
    url = f"/ango/v2/project/{ANGO_PROJECT}/tasks"

    async def listed(**params: str) -> list[dict]:
        tasks: list[dict] = []
        for page in range(1, 4):
            data = (await client.get(url, params={**params, "page": page, "limit": 100}, headers=ANGO)).json()["data"]
            tasks += data["tasks"]
        assert len(tasks) == data["total"]
        return tasks

    everything = await listed()
    middle = sorted(t["updatedAt"] for t in everything)[len(everything) // 2]
    cases = {
        '{"priority": {"$eq": 2}}': lambda t: t["priority"] == 2,
        '{"priority": {"$ne": 0}}': lambda t: t["priority"] != 0,
        '{"stage": {"$in": ["Label", "Complete"]}}': lambda t: t["stage"] in ("Label", "Complete"),
        '{"stage": {"$nin": ["Label", "Complete"]}}': lambda t: t["stage"] not in ("Label", "Complete"),
        '{"assignee": {"$exists": false}}': lambda t: t["assignee"] is None,
        '{"assignee": {"$in": [null, ""]}}': lambda t: not t["assignee"],
        f'{{"updatedAt": {{"$gte": "{middle}"}}}}': lambda t: t["updatedAt"] >= middle,
        f'{{"updatedAt": {{"$gt": "{middle}"}}}}': lambda t: t["updatedAt"] > middle,
        f'{{"updatedAt": {{"$lte": "{middle}"}}}}': lambda t: t["updatedAt"] <= middle,
        f'{{"updatedAt": {{"$lt": "{middle}", "$gte": "2025-02-25"}}}}': lambda t: (
            "2025-02-25" <= t["updatedAt"] < middle
        ),
    }
    for flt, keep in cases.items():
        found = await listed(filter=flt)
        assert {t["_id"] for t in found} == {t["_id"] for t in everything if keep(t)}, flt
    for sort, descending in (("updatedAt", False), ("-updatedAt", True)):
        stamps = [t["updatedAt"] for t in await listed(sort=sort, fields="_id,updatedAt")]
        assert stamps == sorted(stamps, reverse=descending)
    bad = await client.get(url, params={"filter": '{"stage": {"$near": 1}}'}, headers=ANGO)
    assert bad.status_code == 400 and "$near" in bad.json()["message"]


async def test_maxsight_search_text_set_and_date_filters(client: httpx.AsyncClient) -> None:
    """AG-Grid text, set and date filters, with AND/OR conditions and blank/notBlank, on the search."""

    async def searched(model: dict | None) -> list[dict]:
        body: dict = {"max_page_size": 100, "filter_model": model}
        page = (await client.post("/maxsight/v5/tasks/search", json=body, headers=MAXSIGHT)).json()
        assert page["next_page_token"] is None
        return page["items"]

    everything = await searched(None)
    middle = sorted(t["updated_at"] for t in everything)[len(everything) // 2]
    grid = middle.replace("T", " ").rstrip("Z")
    cases = [
        ({"assigned_to_id": {"filterType": "text", "type": "blank"}}, lambda t: t["assignment"] is None),
        ({"assigned_to_id": {"filterType": "text", "type": "notBlank"}}, lambda t: t["assignment"] is not None),
        (
            {"step_name": {"filterType": "text", "type": "equals", "filter": "screening"}},
            lambda t: t["step_name"] == "Screening",
        ),
        (
            {
                "status": {
                    "filterType": "text",
                    "operator": "AND",
                    "conditions": [
                        {"type": "startsWith", "filter": "COMPLETE"},
                        {"type": "notEqual", "filter": "COMPLETED_FAIL"},
                    ],
                }
            },
            lambda t: t["status"] == "COMPLETED_PASS",
        ),
        (
            {
                "status": {
                    "filterType": "text",
                    "operator": "OR",
                    "conditions": [{"type": "equals", "filter": "EXPIRED"}, {"type": "contains", "filter": "fail"}],
                }
            },
            lambda t: t["status"] in ("EXPIRED", "COMPLETED_FAIL"),
        ),
        ({"status": {"filterType": "set", "values": ["INCOMPLETE"]}}, lambda t: t["status"] == "INCOMPLETE"),
        (
            {"updated_at": {"filterType": "date", "type": "greaterThan", "dateFrom": grid}},
            lambda t: t["updated_at"] > middle,
        ),
        (
            {"updated_at": {"filterType": "date", "type": "lessThan", "dateFrom": grid}},
            lambda t: t["updated_at"] < middle,
        ),
        (
            {
                "updated_at": {
                    "filterType": "date",
                    "type": "inRange",
                    "dateFrom": "2025-02-25 00:00:00",
                    "dateTo": grid,
                }
            },
            lambda t: "2025-02-25" <= t["updated_at"] <= middle,
        ),
        (
            {"updated_at": {"filterType": "date", "type": "notEqual", "dateFrom": grid}},
            lambda t: t["updated_at"][:10] != middle[:10],
        ),
        ({"locked_at": {"filterType": "date", "type": "blank"}}, lambda t: t["locked_at"] is None),
        ({"locked_at": {"filterType": "date", "type": "notBlank"}}, lambda t: t["locked_at"] is not None),
    ]
    for model, keep in cases:
        assert {t["id"] for t in await searched(model)} == {t["id"] for t in everything if keep(t)}, model


async def test_ango_rate_limit_sliding_window(client: httpx.AsyncClient, clock: ManualClock) -> None:
    url = "/ango/v2/task/65f2a9c41e7b3d0012c4a801"
    for i in range(100):
        clock.set(i * 0.5)
        assert (await client.get(url, headers=ANGO)).status_code == 200
    limited = await client.get(url, headers=ANGO)
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.json()["status"] == "fail" and limited.json()["message"].startswith("Too many requests")
    clock.set(59.9)
    assert (await client.get(url, headers=ANGO)).status_code == 429
    clock.set(60.0)  # the first request (t=0) left the window
    assert (await client.get(url, headers=ANGO)).status_code == 200
    assert (await client.get(url, headers=ANGO)).status_code == 429
    clock.set(200)
    assert (await client.get(url, headers=ANGO)).status_code == 200
    # other providers are not limited
    for _ in range(150):
        assert (
            await client.get("/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers=MAXSIGHT)
        ).status_code == 200


async def test_ango_export_zip(client: httpx.AsyncClient, sb: Sandbox, clock: ManualClock) -> None:
    async def export(**params: str) -> list:
        r = await client.get("/ango/v2/export", params={"project": ANGO_PROJECT, **params}, headers=ANGO)
        assert r.status_code == 200 and r.json()["status"] == "success"
        url = r.json()["data"]["exportPath"]
        assert url.startswith("http://sandbox/_sandbox/ango/exports/")
        download = await client.get(url)  # no apikey: pre-signed
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        text = archive.read(archive.namelist()[0]).decode()
        if params.get("format") == "ndjson":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)

    assets = await export(stage='["Complete"]')
    by_task = {a["task"]["taskId"]: a for a in assets}
    assert "64e5e5b985eb730015b4ebd9" in by_task and "65f2a9c41e7b3d0012c4a802" not in by_task
    assert all(a["task"]["stageId"] == "Complete" for a in assets)
    for asset in assets:
        assert {"externalId", "asset", "batches", "metadata", "task"} <= set(asset)
        assert {
            "taskId",
            "stage",
            "stageId",
            "updatedAt",
            "updatedBy",
            "totalDuration",
            "tools",
            "classifications",
            "relations",
            "stageHistory",
        } <= set(asset["task"])
    rework = by_task["65f2a9c41e7b3d0012c4a801"]["task"]
    assert [s["stage"] for s in rework["stageHistory"]] == ["Start", "Label", "Review", "Label", "Review"]
    assert [s.get("reviewStatus") for s in rework["stageHistory"]] == [None, None, "Rejected", None, "Accepted"]
    assert "completedBy" not in rework["stageHistory"][0] and rework["stageHistory"][1]["completedBy"]
    assert "metadata" not in rework["stageHistory"][1]["tools"][0]
    assert rework["totalDuration"] == sum(s["duration"] for s in rework["stageHistory"])
    sample = by_task["64e5e5b985eb730015b4ebd9"]["task"]
    assert sample["totalDuration"] == 49596 and len(sample["stageHistory"]) == 3

    clock.set(90)
    later = await export(stage='["Complete"]', format="ndjson", includeHistory="false")
    assert "65f2a9c41e7b3d0012c4a802" in {a["task"]["taskId"] for a in later}
    assert all("stageHistory" not in a["task"] for a in later)
    review = await export(stage='["5e8f78a7-ef6a-473d-b02f-f4024c9ee486"]')
    assert review and all(a["task"]["stage"] == "Review" for a in review)

    missing = await client.get("/_sandbox/ango/exports/0123456789abcdef.zip")
    assert missing.status_code == 404
    bad = await client.get("/ango/v2/export", params={"project": ANGO_PROJECT, "format": "xml"}, headers=ANGO)
    assert bad.status_code == 400
    recorded = [r for r in sb.requests if r.path.startswith("/_sandbox/ango/exports/")]
    assert recorded and all("apikey" not in r.header_names for r in recorded)


# ---- raw paths -------------------------------------------------------------------------------------


async def test_encoded_ids_are_never_rerouted(client: httpx.AsyncClient, sb: Sandbox) -> None:
    cases = [
        ("/ango/v2/task/65f2a9c41e7b3d0012c4a801%2Fhistory", ANGO, {"status": "fail", "message": "Task not found"}),
        ("/ango/v2/task/%2E%2E%2Fproject%2F645240ed462db80015ce881f", ANGO, None),
        ("/deepomatic/v0.7/tasks/269999729%2F/", DEEPO, {"detail": "Not found."}),
        ("/deepomatic/v0.7/tasks/..%2F269999729/", DEEPO, {"detail": "Not found."}),
        (f"{SENDAI_BASE}/..%2F..%2Fproject%2Fproj_123456%2Ftask%2Ftask_abcdef123456", SENDAI, None),
        ("/maxsight/v5/tasks/search%2F..", MAXSIGHT, None),
        ("/maxsight/v5/tasks/%2E%2E", MAXSIGHT, None),
    ]
    for path, headers, body in cases:
        sb.requests.clear()
        r = await client.get(httpx.URL("http://sandbox" + path), headers=headers)
        assert r.status_code == 404, path
        if body is not None:
            assert r.json() == body
        assert sb.requests[-1].raw_path == path.encode()


async def test_request_log_keeps_names_not_values(client: httpx.AsyncClient, sb: Sandbox) -> None:
    await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801", headers=ANGO)
    record = sb.requests[-1]
    assert (record.provider, record.method, record.status, record.fault) == ("ango", "GET", 200, None)
    assert "apikey" in record.header_names and SANDBOX_KEYS["ango"] not in repr(record)
    logged = (await client.get("/_sandbox/requests")).json()
    assert logged[-1]["raw_path"] == "/ango/v2/task/65f2a9c41e7b3d0012c4a801"
    sb.requests.clear()
    assert len(sb.requests) == 0


# ---- faults ----------------------------------------------------------------------------------------


async def test_fault_status_kinds(client: httpx.AsyncClient, sb: Sandbox) -> None:
    url = "/deepomatic/v0.7/tasks/269999729/"
    sb.faults.add(Fault(kind="429", times=1, provider="deepomatic", retry_after=2))
    r = await client.get(url, headers=DEEPO)
    assert r.status_code == 429 and r.headers["retry-after"] == "2" and "detail" in r.json()
    sb.faults.add(Fault(kind="429", retry_after="http-date:30"))
    r = await client.get(url, headers=DEEPO)
    delta = parsedate_to_datetime(r.headers["retry-after"]).timestamp() - time.time()
    assert r.status_code == 429 and 25 <= delta <= 31
    sb.faults.add(Fault(kind="500", provider="ango"))
    r = await client.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801", headers=ANGO)
    assert r.status_code == 500 and r.json() == {"status": "error", "message": "Internal server error"}
    for kind in ("502", "503", "504"):
        sb.faults.add(Fault(kind=kind))
        r = await client.get(url, headers=DEEPO)
        assert r.status_code == int(kind) and r.headers["content-type"].startswith("text/html")
        assert f"<title>{kind}" in r.text
    sb.faults.add(Fault(kind="html"))
    r = await client.get(url, headers=DEEPO)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    sb.faults.add(Fault(kind="malformed"))
    r = await client.get(url, headers=DEEPO)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert (await client.get(url, headers=DEEPO)).status_code == 200  # all rules used up
    assert [q.fault for q in sb.requests][-1] is None


async def test_fault_echo_headers_and_matching(client: httpx.AsyncClient, sb: Sandbox) -> None:
    sb.faults.add(Fault(kind="echo_headers", times=-1, provider="maxsight", path_contains="/v5/tasks/"))
    for _ in range(3):
        r = await client.get(
            "/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers={**MAXSIGHT, "X-Custom": "a"}
        )
        assert r.status_code == 400 and r.json()["request_headers"]["apikey"] == SANDBOX_KEYS["maxsight"]
    other = await client.get("/deepomatic/v0.7/tasks/269999729/", headers=DEEPO)
    assert other.status_code == 200
    assert (await client.get("/_sandbox/catalog")).status_code == 200  # control plane never faulted
    sb.faults.clear()
    sb.faults.add(Fault(kind="503", times=2, provider="sendai", path_contains="task_abcdef123456"))
    codes = [(await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers=SENDAI)).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    with pytest.raises(ValueError):
        Fault(kind="teapot")


async def test_random_faults_and_control_plane(client: httpx.AsyncClient, sb: Sandbox) -> None:
    sb.faults.set_random(rate=0.5, kinds=["502", "504"], seed=1)
    codes = [
        (await client.get("/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers=MAXSIGHT)).status_code
        for _ in range(40)
    ]
    assert {200, 502, 504} == set(codes) and 8 < codes.count(200) < 32
    sb.faults.set_random(rate=1, kinds=["429"], seed=1, retry_after=3)
    limited = await client.get("/maxsight/v5/tasks/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers=MAXSIGHT)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert (await client.get("/_sandbox/requests")).status_code == 200
    sb.faults.set_random(rate=0, kinds=["502"], seed=1)
    r = await client.post("/_sandbox/faults", json={"kind": "500", "times": 1, "provider": "sendai"})
    assert r.status_code == 201
    assert (await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers=SENDAI)).json()["error"][
        "code"
    ] == "INTERNAL_ERROR"
    assert (await client.post("/_sandbox/faults", json={"kind": "nope"})).status_code == 400
    await client.post("/_sandbox/faults", json={"kind": "500", "times": -1})
    assert (await client.delete("/_sandbox/faults")).status_code == 200
    assert (await client.get(f"{SENDAI_BASE}/task_abcdef123456", headers=SENDAI)).status_code == 200


async def test_reset_in_process_raises(client: httpx.AsyncClient, sb: Sandbox) -> None:
    sb.faults.add(Fault(kind="reset"))
    with pytest.raises(SimulatedDisconnect):
        await client.get("/deepomatic/v0.7/tasks/269999729/", headers=DEEPO)
    assert sb.requests[-1].status == 0 and sb.requests[-1].fault == "reset"
    sb.faults.add(Fault(kind="truncated"))
    r = await client.get("/deepomatic/v0.7/tasks/269999729/", headers=DEEPO)
    assert int(r.headers["content-length"]) > len(r.content)


async def test_clock_control(client: httpx.AsyncClient, clock: ManualClock) -> None:
    r = await client.post("/_sandbox/clock/advance", json={"seconds": 12.5})
    assert r.json() == {"now": 12.5} and clock.now() == 12.5
    wall = Sandbox()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wall), base_url="http://sandbox") as c:
        assert (await c.post("/_sandbox/clock/advance", json={"seconds": 1})).status_code == 409


# ---- loopback --------------------------------------------------------------------------------------


async def test_loopback_wire_faults(sb: Sandbox) -> None:
    url = "/deepomatic/v0.7/tasks/270114590/"
    async with serve_on_loopback(sb) as origin:
        assert origin.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=origin, timeout=10.0) as c:
            ok = await c.get(url, headers=DEEPO)
            assert ok.status_code == 200 and ok.json()["id"] == "270114590"
            page = (
                await c.get("/deepomatic/v0.7/tasks/?task_ids=269999729&task_ids=269999730&limit=1", headers=DEEPO)
            ).json()
            assert page["next"].startswith(origin + "/deepomatic/v0.7/tasks/?")

            sb.faults.add(Fault(kind="truncated", provider="deepomatic"))
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(url, headers=DEEPO)

            sb.faults.add(Fault(kind="reset"))
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await c.get(url, headers=DEEPO)

            sb.faults.add(Fault(kind="slow", delay_s=0.6))
            with pytest.raises(httpx.ReadTimeout):
                await c.get(url, headers=DEEPO, timeout=0.15)
            sb.faults.add(Fault(kind="slow", delay_s=0.2))
            started = time.monotonic()
            slow = await c.get(url, headers=DEEPO)
            assert slow.status_code == 200 and time.monotonic() - started >= 0.2

            r = await c.post("/_sandbox/faults", json={"kind": "429", "retry_after": 1, "provider": "ango"})
            assert r.status_code == 201
            limited = await c.get("/ango/v2/task/65f2a9c41e7b3d0012c4a801", headers=ANGO)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
            assert (await c.post("/_sandbox/clock/advance", json={"seconds": 20})).json() == {"now": 20.0}
            done = (await c.get("/deepomatic/v0.7/tasks/270114620/", headers=DEEPO)).json()
            assert done["status"] == "success"
            export = (await c.get("/ango/v2/export", params={"project": ANGO_PROJECT}, headers=ANGO)).json()
            assert export["data"]["exportPath"].startswith(origin + "/_sandbox/ango/exports/")
            archive = await c.get(export["data"]["exportPath"])
            assert archive.status_code == 200 and zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    faults = [r.fault for r in sb.requests if r.fault]
    assert faults == ["truncated", "reset", "slow", "slow", "429"]
