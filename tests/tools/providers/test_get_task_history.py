"""get_task_history through a real MCP client, checked against the sandbox's raw history.

The expected differences between Ango history entries are computed here from the raw JSON with
deliberately plain code (sets of objectIds, geometry compared as JSON, answers flattened by path),
sharing nothing with `tools/providers/ango/history.py`, so a misreading there cannot hide here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client

from support.mcp_harness import AUTH_HEADERS, client_and_raw_http, text_of, tokens
from tasklens.server.sandbox import CATALOG

pytestmark = pytest.mark.anyio

REWORKED = "65f2a9c41e7b3d0012c4a801"
PING_PONG = "65f2a9c41e7b3d0012c4a812"
DOC_TASK = "6453677fc47af30015be5a58"
DOC_ENTRY = "6464b15e4ea9720015801e07"
GEOMETRY = ("bounding-box", "rotated-bounding-box", "polygon", "polyline", "point", "segmentation", "pdf", "ner")


@pytest.fixture
async def env() -> AsyncIterator[tuple[Client, httpx.AsyncClient]]:
    async with client_and_raw_http() as pair:
        yield pair


async def history(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("get_task_history", arguments)
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


async def raw_history(http: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/ango/v2/task/{task_id}/history", headers=AUTH_HEADERS["ango"])
    data = response.json()["data"]["taskHistory"]
    entries = data if isinstance(data, list) else [data]
    return sorted(entries, key=lambda e: e["createdAt"])


# ---- an independent reading of the raw history ---------------------------------------------------


def flatten(classifications: list[dict[str, Any]], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in classifications:
        path = prefix + c["title"]
        if "answer" in c:
            out[path] = c["answer"]
        out.update(flatten(c.get("classifications") or [], path + " / "))
    return out


def expected_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    old = {t["objectId"]: t for t in before.get("tools", [])}
    new = {t["objectId"]: t for t in after.get("tools", [])}
    moved, answered = set(), set()
    for oid in set(old) & set(new):
        geometry = lambda t: {k: t[k] for k in GEOMETRY if k in t}  # noqa: E731
        if geometry(old[oid]) != geometry(new[oid]):
            moved.add(oid)
        if flatten(old[oid].get("classifications") or []) != flatten(new[oid].get("classifications") or []):
            answered.add(oid)
    old_answers, new_answers = flatten(before.get("classifications", [])), flatten(after.get("classifications", []))
    return {
        "added": set(new) - set(old),
        "removed": set(old) - set(new),
        "moved": moved,
        "answered": answered,
        "answers": {q for q in set(old_answers) | set(new_answers) if old_answers.get(q) != new_answers.get(q)},
    }


def reported_changes(entry: dict[str, Any]) -> dict[str, Any]:
    changes = entry.get("changes", {})
    rows = changes.get("objects", [])
    return {
        "added": {r["object_id"] for r in rows if r["change"] == "added"},
        "removed": {r["object_id"] for r in rows if r["change"] == "removed"},
        "moved": {r["object_id"] for r in rows if "moved" in r["change"].split(",")},
        "answered": {r["object_id"] for r in rows if "answers" in r["change"].split(",")},
        "answers": {a["question"] for a in changes.get("answers", [])},
    }


# ---- Ango ------------------------------------------------------------------------------------------


async def test_reworked_task_diffs_are_exactly_the_raw_differences(env) -> None:
    client, http = env
    raw = await raw_history(http, REWORKED)
    result = await history(client, provider="ango", task_id=REWORKED, response_format="detailed")
    entries = result["entries"]
    assert [e["history_id"] for e in entries] == [r["_id"] for r in raw]
    assert [e["stage"] for e in entries] == ["Start", "Label", "Review", "Label", "Review", "Complete"]
    previous: dict[str, Any] = {"tools": [], "classifications": [], "relations": []}
    for entry, record in zip(entries, raw, strict=True):
        assert reported_changes(entry) == expected_changes(previous, record["answer"]), entry["history_id"]
        previous = record["answer"]

    # The sandbox's rework visit adds 3, deletes 2, moves 2 objects and changes 1 scene answer.
    rework = entries[3]
    assert rework["rework"] is True and rework["by"] == "maria.kovacs@fieldlabel.io"
    changes = rework["changes"]
    assert (changes["added"], changes["removed"], changes["modified"]) == (3, 2, 2)
    [answer] = changes["answers"]
    assert answer["question"] == "Time of day" and answer["old"] != answer["new"]
    old_answers = flatten(raw[2]["answer"]["classifications"])
    assert answer["old"] == old_answers["Time of day"]
    # Review visits change nothing; their outcomes are the review results.
    assert "changes" not in entries[2] and "changes" not in entries[4]
    assert [e.get("outcome") for e in entries] == [None, None, "Rejected", None, "Accepted", None]


async def test_summary_covers_every_entry(env) -> None:
    client, http = env
    raw = await raw_history(http, PING_PONG)
    result = await history(client, provider="ango", task_id=PING_PONG, limit=5)
    summary = result["summary"]
    assert summary["entries"] == len(raw) == 24
    assert summary["loops"] == 10
    assert summary["outcome"] == "Accepted"
    assert (summary["state"], summary["current_stage"]) == ("succeeded", "Complete")
    by_stage: dict[str, float] = {}
    for record in raw:
        name = {"Label": "Label", "Start": "Start", "Complete": "Complete"}.get(record["stage"], "Review")
        by_stage[name] = by_stage.get(name, 0) + record["duration"] / 1000
    assert summary["active_s_by_stage"] == {k: round(v) for k, v in by_stage.items() if v}
    assert summary["active_s"] == round(sum(by_stage.values()))


async def test_pages_walk_back_through_every_entry_once(env) -> None:
    client, http = env
    raw_ids = [r["_id"] for r in await raw_history(http, PING_PONG)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        arguments: dict[str, Any] = {
            "provider": "ango",
            "task_id": PING_PONG,
            "limit": 7,
            "response_format": "detailed",
        }
        if cursor:
            arguments["cursor"] = cursor
        page = await history(client, **arguments)
        pages += 1
        ids = [e["history_id"] for e in page["entries"]]
        assert len(ids) <= 7
        seen = ids + seen  # each page is older than the one before, oldest first within
        cursor = page.get("next_cursor")
        assert page.get("truncated") is (True if cursor else None)
        if not cursor:
            break
    assert pages == 4 and seen == raw_ids


async def test_a_bad_cursor_is_refused_with_a_next_step(env) -> None:
    client, _ = env
    maxsight = next(entry.task_id for entry in CATALOG if entry.provider == "maxsight")
    # '²' and '٣' pass str.isdigit() but not int(); a long digit run passes both but is no cursor of ours
    for cursor in ("x", "before:²", "before:٣", "before:" + "9" * 25, "before:0", "before: "):
        for provider, task_id in (("ango", REWORKED), ("maxsight", maxsight)):
            arguments = {"provider": provider, "task_id": task_id, "cursor": cursor}
            result = await client.call_tool("get_task_history", arguments)
            assert result.is_error and "call again without cursor" in text_of(result), (cursor, text_of(result))


def test_a_cursor_of_5000_digits_is_refused_before_it_is_converted() -> None:
    from tasklens.tools.errors import ProviderError
    from tasklens.tools.results.history import HistoryEntry, page_of

    with pytest.raises(ProviderError, match="call again without cursor"):
        page_of("ango", [HistoryEntry(event="created")], "before:" + "9" * 5000, 20)


async def test_docs_sample_history_single_object(env) -> None:
    client, _ = env
    result = await history(client, provider="ango", task_id=DOC_TASK)
    [entry] = result["entries"]
    assert entry["history_id"] == DOC_ENTRY
    assert (entry["stage"], entry["by"], entry["active_s"]) == ("Amount extraction", "lorenzo@ango.ai", 1.7)
    assert entry["counts"] == {"tools": 1}
    assert [row["change"] for row in entry["changes"]["objects"]] == ["added"]


async def test_one_entry_by_history_id_shows_its_answer(env) -> None:
    client, http = env
    raw = await raw_history(http, REWORKED)
    rework = raw[3]
    result = await history(client, provider="ango", history_id=rework["_id"])
    [entry] = result["entries"]
    assert result["task_id"] == REWORKED and entry["history_id"] == rework["_id"]
    answer = entry["answer"]
    assert {o["id"] for o in answer["objects"]} == {t["objectId"] for t in rework["answer"]["tools"]}
    assert all("geometry" not in o for o in answer["objects"])  # coordinates only in detailed
    assert answer["answers"] == {
        k: ", ".join(v) if isinstance(v, list) else v for k, v in flatten(rework["answer"]["classifications"]).items()
    }
    assert reported_changes(entry) == expected_changes(raw[2]["answer"], rework["answer"])  # all listed
    detailed = await history(client, provider="ango", history_id=rework["_id"], response_format="detailed")
    assert all("geometry" in o for o in detailed["entries"][0]["answer"]["objects"])


async def test_history_id_errors_say_what_to_do(env) -> None:
    client, _ = env
    missing = await client.call_tool("get_task_history", {"provider": "ango", "history_id": "aaaaaaaaaaaaaaaaaaaaaaaa"})
    assert missing.is_error and "call get_task_history with the task_id alone" in text_of(missing)
    mismatch = await client.call_tool(
        "get_task_history", {"provider": "ango", "history_id": DOC_ENTRY, "task_id": REWORKED}
    )
    assert mismatch.is_error and f"belongs to task {DOC_TASK}" in text_of(mismatch)
    neither = await client.call_tool("get_task_history", {"provider": "ango"})
    assert neither.is_error and "Pass task_id" in text_of(neither)


# ---- derived timelines ----------------------------------------------------------------------------

DERIVED_FIELDS = {
    "deepomatic": ("date_created", "date_updated"),
    "sendai": ("created_at", "last_opened_at", "exported_at", "export_failed_at"),
    "maxsight": ("created_at", "locked_at", "updated_at"),
}


@pytest.mark.parametrize("entry", [e for e in CATALOG if e.provider != "ango"], ids=lambda e: e.task_id)
async def test_derived_timelines_hold_exactly_the_task_timestamps(env, entry) -> None:
    from support.mcp_harness import raw_task

    client, http = env
    raw = await raw_task(http, entry, ango_answers=False)
    task = raw.get("payload", raw) if entry.provider == "sendai" else raw
    present = [task[f] for f in DERIVED_FIELDS[entry.provider] if task.get(f)]
    arguments = {"provider": entry.provider, "task_id": entry.task_id}
    if entry.team_id:
        arguments |= {"team_id": entry.team_id, "project_id": entry.project_id}
    result = await history(client, **arguments)
    assert result["derived"] is True and "keeps no task history" in result["note"]
    assert len(result["entries"]) == len(present) == result["summary"]["entries"]
    assert [e["at"] for e in result["entries"]] == sorted(e["at"] for e in result["entries"])
    assert all(set(e) == {"at", "event"} for e in result["entries"])


async def test_derived_providers_refuse_a_history_id(env) -> None:
    client, _ = env
    result = await client.call_tool(
        "get_task_history", {"provider": "deepomatic", "task_id": "269999729", "history_id": "1"}
    )
    assert result.is_error and "no history_id to read" in text_of(result)


# ---- every change, within the budget ----------------------------------------------------------------


def expected_kinds(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """How many object rows of each kind, and answer rows, the raw difference makes."""
    found = expected_changes(before, after)
    changed = found["moved"] | found["answered"]
    kinds = {"added": len(found["added"]), "removed": len(found["removed"]), "answer": len(found["answers"])}
    for oid in changed:
        kind = "moved" if oid in found["moved"] and oid not in found["answered"] else "answers"
        if oid in found["moved"] and oid in found["answered"]:
            kind = "modified"
        kinds[kind] = kinds.get(kind, 0) + 1
    return {k: v for k, v in kinds.items() if v}


def reported_kinds(entry: dict[str, Any]) -> dict[str, int]:
    """Listed rows plus what the entry's `truncated` says it does not list."""
    changes = entry.get("changes", {})
    kinds: dict[str, int] = {}
    for row in changes.get("objects", []):
        parts = row["change"].split(",")
        kind = parts[0] if len(parts) == 1 else "modified"
        kinds[kind] = kinds.get(kind, 0) + 1
    kinds["answer"] = kinds.get("answer", 0) + len(changes.get("answers", []))
    if "truncated" in changes:
        for part in changes["truncated"].removeprefix("not listed: ").split(", "):
            count, kind = part.split(" ")
            kinds[kind] = kinds.get(kind, 0) + int(count)
    return {k: v for k, v in kinds.items() if v}


async def test_concise_lists_every_change_of_a_page_that_fits(env) -> None:
    client, http = env
    raw = await raw_history(http, REWORKED)
    result = await history(client, provider="ango", task_id=REWORKED)
    assert "note" not in result and result["page"] == "entries 1-6 of 6, oldest first"
    previous: dict[str, Any] = {"tools": [], "classifications": [], "relations": []}
    for entry, record in zip(result["entries"], raw, strict=True):
        assert "truncated" not in entry.get("changes", {})
        assert reported_kinds(entry) == expected_kinds(previous, record["answer"])
        previous = record["answer"]
    # The rework visit's three added objects are all listed, by class.
    added = [row for row in result["entries"][3]["changes"]["objects"] if row["change"] == "added"]
    assert len(added) == 3 and all(row["label"] for row in added)


async def test_a_cut_page_lists_every_answer_and_counts_every_object_where_it_is_left_out(env) -> None:
    client, http = env
    raw = await raw_history(http, PING_PONG)
    result = await history(client, provider="ango", task_id=PING_PONG)
    assert result["page"] == "entries 5-24 of 24, oldest first; next_cursor lists entries 1-4"
    previous = raw[3]["answer"]
    for entry, record in zip(result["entries"], raw[4:], strict=True):
        assert reported_kinds(entry) == expected_kinds(previous, record["answer"]), entry
        previous = record["answer"]
    answers = [
        (a["question"], a["old"], a["new"]) for e in result["entries"] for a in e.get("changes", {}).get("answers", [])
    ]
    assert ("Weather", "Fog", "Snow") in answers and ("Weather", "Snow", "Rain") in answers
    assert "history_id lists all of them" in result["note"]


async def test_detailed_lists_every_change_with_old_and_new_without_snapshots(env) -> None:
    client, http = env
    raw = await raw_history(http, PING_PONG)
    result = await client.call_tool(
        "get_task_history", {"provider": "ango", "task_id": PING_PONG, "limit": 24, "response_format": "detailed"}
    )
    data = result.structured_content
    count = tokens(text_of(result))
    print(f"detailed 24-entry page: {count} tokens")
    assert count <= 8000 and len(data["entries"]) == 24
    assert all("answer" not in entry for entry in data["entries"])
    previous: dict[str, Any] = {"tools": [], "classifications": [], "relations": []}
    for entry, record in zip(data["entries"], raw, strict=True):
        assert reported_changes(entry) == expected_changes(previous, record["answer"]), entry["history_id"]
        assert "truncated" not in entry.get("changes", {})
        previous = record["answer"]


async def test_about_lists_one_questions_changes_across_every_entry(env) -> None:
    client, http = env
    raw = await raw_history(http, PING_PONG)
    expected = []
    previous: dict[str, Any] = {"classifications": []}
    for record in raw:
        old, new = (
            flatten(previous["classifications"]).get("Weather"),
            flatten(record["answer"]["classifications"]).get("Weather"),
        )
        if old != new:
            expected.append((record["_id"], old, new))
        previous = record["answer"]
    assert len(expected) >= 2
    result = await history(client, provider="ango", task_id=PING_PONG, about="WEATHER")
    shown = [
        (e["history_id"], a["old"] if "old" in a else None, a["new"])
        for e in result["entries"]
        for a in e["changes"]["answers"]
    ]
    assert shown == expected
    assert all("objects" not in e["changes"] for e in result["entries"])
    assert f"Only the {len(expected)} of 24 entries that changed 'weather' are listed." in result["note"]


async def test_summary_counts_rejections_and_each_reviewers_outcomes(env) -> None:
    client, http = env
    raw = await raw_history(http, PING_PONG)
    result = await history(client, provider="ango", task_id=PING_PONG, limit=3)
    reviews: dict[str, dict[str, int]] = {}
    for record in raw:
        if record.get("reviewStatus"):
            who = reviews.setdefault(record["assignee"], {})
            who[record["reviewStatus"]] = who.get(record["reviewStatus"], 0) + 1
    summary = result["summary"]
    assert summary["reviews"] == reviews
    assert summary["rejections"] == sum(1 for r in raw if r.get("reviewStatus") == "Rejected") == 10


async def test_derived_providers_refuse_about(env) -> None:
    client, _ = env
    result = await client.call_tool(
        "get_task_history", {"provider": "deepomatic", "task_id": "269999729", "about": "Weather"}
    )
    assert result.is_error and "no changes to filter" in text_of(result)


# ---- token bars -----------------------------------------------------------------------------------


async def test_concise_page_of_twenty_entries_fits_the_budget(env) -> None:
    client, _ = env
    result = await client.call_tool("get_task_history", {"provider": "ango", "task_id": PING_PONG})
    data = result.structured_content
    assert len(data["entries"]) == 20 and data["truncated"] is True
    count = tokens(text_of(result))
    print(f"concise 20-entry page: {count} tokens")
    assert count <= 1500


async def test_concise_reworked_history_is_a_quarter_of_raw_at_most(env) -> None:
    client, http = env
    raw = await http.get(f"/ango/v2/task/{REWORKED}/history", headers=AUTH_HEADERS["ango"])
    result = await client.call_tool("get_task_history", {"provider": "ango", "task_id": REWORKED})
    ours, theirs = tokens(text_of(result)), tokens(raw.text)
    print(f"reworked task: {ours} tokens vs {theirs} raw ({ours / theirs:.1%})")
    assert ours <= 0.25 * theirs


def test_outcome_and_loops_fall_back_on_documented_fields_only() -> None:
    """Without the (inferred) reviewStatus field, a rework entry after a review means a rejection,
    and loops are counted from the documented `rework` flag even when stage types are unknown."""
    from tasklens.tools.providers.ango.history import history_records, timeline

    raw = [
        {"_id": "a", "stage": "Label", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:10:00Z"},
        {"_id": "b", "stage": "r-uuid", "createdAt": "2026-01-01T00:10:00Z", "updatedAt": "2026-01-01T00:20:00Z"},
        {"_id": "c", "stage": "Label", "rework": True, "createdAt": "2026-01-01T00:20:00Z"},
        {"_id": "d", "stage": "x-uuid", "createdAt": "2026-01-01T00:30:00Z", "deleted": True},
    ]
    records = history_records(list(reversed(raw)))  # any order in, oldest first out; deleted dropped
    assert [r.id for r in records] == ["a", "b", "c"]
    entries, summary = timeline(records, {"r-uuid": ("QA", "Review"), "Label": ("Label", "Label")}, detailed=False)
    assert [e.outcome for e in entries] == [None, "Rejected", None]
    assert summary.loops == 1 and summary.outcome == "Rejected"
    _, unknown_types = timeline(records, {}, detailed=False)
    assert unknown_types.loops == 1
