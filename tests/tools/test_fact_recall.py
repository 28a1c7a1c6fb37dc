"""Fact recall: every decisive fact of every sandbox scenario is in the concise get_task result.

For each catalog task the facts a person acts on are derived here from the provider's raw JSON, with
plain code that shares nothing with the provider modules: the raw status; who must act; a failure's
reason with its status code; a person's note, whole; user metadata (SLA, flags, ticket ids); the
lowest-confidence extracted fields; the top prediction. The concise result must contain every one of
them, in a small fraction of the raw answer's tokens. (History facts, every change between entries,
are checked against the raw history in test_get_task_history.py.)
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client

from support.mcp_harness import AUTH_HEADERS, client_and_raw_http, raw_task, text_of, tokens
from tasklens.server.sandbox import CATALOG

pytestmark = pytest.mark.anyio

# Concise tokens at most this share of the raw answer's: a quarter where the raw has 1,000+ tokens, half
# where it has 400+. A Maxsight task answers in 400-500 raw tokens, and its decisive facts alone (a
# UUID assignee, a two-sentence note, five metadata fields) are a third of that.
RAW_SHARES = ((1000, 0.25), (400, 0.5))
LOWEST_FIELDS = 3
_FIELD_STATUSES = {"REVIEWING", "COMPLETED", "PROCESSING"}  # statuses whose concise view lists fields


def as_json_text(value: Any) -> str:
    """How a value reads inside the result's compact JSON."""
    return json.dumps(value, ensure_ascii=False)[1:-1] if isinstance(value, str) else json.dumps(value)


def scalar_texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [as_json_text(v) for v in value if isinstance(v, (str, int, float, bool))]
    if isinstance(value, (str, int, float, bool)):
        return [as_json_text(value)]
    return []


def facts(provider: str, raw: Any) -> list[str]:
    """The decisive facts of one raw task answer, as texts the concise result must contain."""
    if provider == "ango":
        task = raw["data"]["task"]
        found = [task["status"]]
        if task.get("assignee"):
            found.append(task["assignee"])
        return found
    if provider == "deepomatic":
        found = [raw["status"]]
        if raw["status"] == "error" and raw.get("error"):
            code = re.findall(r"HTTP \d{3}[^'\"]*$", raw["error"])
            found.append(code[-1] if code else raw["error"][-30:])
        if raw["status"] == "success":
            predicted = [p for output in raw["data"]["outputs"] for p in output["labels"]["predicted"]]
            if predicted:
                found.append(max(predicted, key=lambda p: p["score"])["label_name"])
        return found
    if provider == "sendai":
        task = raw["payload"]
        found = [task["status"]]
        for item in task.get("meta") or []:
            found += scalar_texts(item.get("value"))
        scored = [
            (a["confidence"], a.get("entity_id") or a.get("id"))
            for page in task.get("pages") or []
            for a in page.get("annotations") or []
            if isinstance(a.get("confidence"), (int, float))
        ]
        if task["status"] in _FIELD_STATUSES:
            found += [str(name) for _, name in sorted(scored)[:LOWEST_FIELDS]]
        return found
    task = raw
    found = [task["status"]]
    assignment = task.get("assignment") or {}
    if assignment.get("assigned_to_id"):
        found.append(assignment["assigned_to_id"])
    if assignment.get("assignment_comment") and task["status"] == "INCOMPLETE":
        found.append(as_json_text(" ".join(assignment["assignment_comment"].split())))
    for key, value in (task.get("custom_metadata") or {}).items():
        found += [as_json_text(key)] + scalar_texts(value)
    return found


@pytest.fixture
async def env() -> AsyncIterator[tuple[Client, httpx.AsyncClient]]:
    async with client_and_raw_http() as pair:
        yield pair


async def test_concise_get_task_recalls_every_decisive_fact(env) -> None:
    client, http = env
    report: list[str] = []
    missing: list[tuple[str, str, str]] = []
    too_long: list[str] = []
    for entry in CATALOG:
        raw = await raw_task(http, entry, ango_answers=True)
        arguments = {"provider": entry.provider, "task_id": entry.task_id}
        arguments |= {k: v for k, v in (("team_id", entry.team_id), ("project_id", entry.project_id)) if v}
        result = await client.call_tool("get_task", arguments)
        text = text_of(result)
        assert not result.is_error, (entry.task_id, text)
        expected = facts(entry.provider, raw)
        absent = [fact for fact in expected if fact not in text]
        missing += [(entry.provider, entry.task_id, fact) for fact in absent]
        ours, theirs = tokens(text), tokens(json.dumps(raw))
        if entry.provider == "ango":  # stage ids mean nothing without the project definition
            project = await http.get(f"/ango/v2/project/{raw['data']['task']['project']}", headers=AUTH_HEADERS["ango"])
            theirs += tokens(project.text)
        report.append(
            f"{entry.provider:10} {entry.task_id:26} recall {len(expected) - len(absent)}/{len(expected)}"
            f"  {ours:5} vs {theirs:6} raw tokens ({ours / theirs:.0%})"
        )
        share = next((share for floor, share in RAW_SHARES if theirs >= floor), None)
        if share is not None and ours > share * theirs:
            too_long.append(report[-1])
    print("\n".join(report))
    assert not missing, missing
    assert not too_long, too_long
