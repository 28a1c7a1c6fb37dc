"""poll_task's result shape: tasks that read alike share one group, and 100 tasks stay within budget
whatever went wrong with them (the poll itself is tested through a real client in test_poll_task.py)."""

from __future__ import annotations

import random

import pytest

from support.mcp_harness import tokens
from support.result_checks import poll_rows
from tasklens.tools.errors import clean_upstream_text
from tasklens.tools.polling.poller import DETAIL_LIMIT, ERROR_LIMIT
from tasklens.tools.results.poll import MAX_SENTENCES, PollGroup, PollResult, TaskLine, fitted, group_lines
from tasklens.tools.results.task import State

RESULT_BUDGET = 2500  # tokens of a concise result for 100 tasks
STATES: list[State] = ["queued", "running", "waiting_on_human", "succeeded", "failed", "cancelled", "unknown"]


def dumped(lines: list[TaskLine]) -> dict:
    """The lines as a whole result (with the poller's longest note), fitted to the budget as a poll's is."""

    def build(groups: list[PollGroup], cut: bool) -> PollResult:
        note = "Wait over; 60 not finished, 20 of them waiting on a person."
        if cut:
            note += " Some details and errors left out for length; get_task gives them."
        counts = {"failed": 40, "waiting_on_human": 20, "running": 20, "succeeded": 10, "error": 10}
        return PollResult(
            provider="ango",
            sandbox=True,
            all_terminal=False,
            counts=counts,
            waited_s=49.6,
            next_poll_s=10,
            note=note,
            tasks=groups,
        )

    return fitted(lines, build).model_dump(mode="json")


def test_tasks_that_read_alike_share_one_group_in_state_order() -> None:
    lines = [
        TaskLine(id="7", state="succeeded", changed=True),
        TaskLine(id="3", state="running"),
        TaskLine(id="9", state="succeeded"),
        TaskLine(id="1", state="running"),
        TaskLine(id="4", state="failed", changed=True, detail="Out of memory."),
        TaskLine(id="5", state="succeeded", changed=True),
        TaskLine(id="6", state="failed", changed=True, detail="Out of memory."),
        TaskLine(
            id="2", state="unknown", raw_status="EXPIRED", detail="Status 'EXPIRED' is not one this version knows."
        ),
        TaskLine(id="8", error="No task 8; check the id.", error_kind="not read: not found"),
    ]
    assert dumped(lines)["tasks"] == [
        {"state": "running", "terminal": False, "changed": False, "ids": ["3", "1"]},
        {"state": "succeeded", "terminal": True, "changed": True, "ids": ["7", "5"]},
        {"state": "succeeded", "terminal": True, "changed": False, "ids": ["9"]},
        {"state": "failed", "terminal": True, "changed": True, "detail": "Out of memory.", "ids": ["4", "6"]},
        {
            "state": "unknown",
            "terminal": False,
            "changed": False,
            "raw_status": "EXPIRED",
            "detail": "Status 'EXPIRED' is not one this version knows.",
            "ids": ["2"],
        },
        {"error": "No task 8; check the id.", "ids": ["8"]},
    ]


def test_an_error_naming_each_task_is_shared_with_id_in_its_place() -> None:
    def missing(task_id: str) -> TaskLine:
        return TaskLine(
            id=task_id,
            error=f"Deepomatic's task list has no task {task_id}; check the id.",
            error_kind="not read: not found",
        )

    stale = TaskLine(
        id="270000001",
        state="running",
        error="Deepomatic is failing on its side (HTTP 503).",
        error_kind="not read: unavailable (HTTP 503)",
    )
    groups = dumped([missing("999999997"), stale, missing("999999998"), missing("1999999999")])["tasks"]
    assert groups == [
        {
            "state": "running",
            "terminal": False,
            "changed": False,
            "error": "Deepomatic is failing on its side (HTTP 503).",
            "ids": ["270000001"],
        },
        {
            "error": "Deepomatic's task list has no task <id>; check the id.",
            "ids": ["999999997", "999999998", "1999999999"],
        },
    ]
    # one such task keeps its own sentence; an id inside a longer word is not replaced
    alone = dumped([missing("42"), TaskLine(id="7", error="No task 7 in 17 pages.", error_kind="not read: not found")])
    assert [group["error"] for group in alone["tasks"]] == [
        "Deepomatic's task list has no task 42; check the id.",
        "No task 7 in 17 pages.",
    ]


def test_sentences_past_the_cap_are_left_out_and_errors_are_given_by_kind() -> None:
    lines = [TaskLine(id=f"t{i}", state="failed", changed=True, detail=f"Failure number {i}.") for i in range(12)]
    lines += [TaskLine(id=f"e{i}", error=f"Upstream error {i}.", error_kind="not read: unavailable") for i in range(3)]
    lines += [TaskLine(id="t12", state="failed", detail="Failure number 0.")]  # shown already: no new sentence
    groups, cut = group_lines(lines)
    assert cut
    shown = {group.get("detail") or group.get("error") for group in dumped(lines)["tasks"]} - {None}
    assert shown == {f"Failure number {i}." for i in range(MAX_SENTENCES)} | {"not read: unavailable"}
    rows = poll_rows(dumped(lines))
    assert rows["t12"]["detail"] == "Failure number 0." and "detail" not in rows["t11"]
    assert {rows[f"e{i}"]["error"] for i in range(3)} == {"not read: unavailable"}


def _ango_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"  # random hex: ~15 tokens, the costliest ids a poll takes


def _detail(rng: random.Random) -> str:
    """A detail as long as a poll shows, shaped like the longest real one (a URL and a status)."""
    site, stamp = rng.randrange(10_000), rng.randrange(10**14)
    text = (
        f"Could not fetch input image 'https://storage.googleapis.com/fieldops-uploads/site-{site}/"
        f"IMG_{stamp}.jpg': HTTP 403 Forbidden"
    )
    return clean_upstream_text(text, limit=DETAIL_LIMIT)


def _error(rng: random.Random, task_id: str) -> str:
    text = (
        f"Ango answered HTTP 502 for task {task_id} in project {_ango_id(rng)}; retry in a minute. "
        f'Upstream said: "upstream connect error or disconnect/reset before headers {rng.randrange(10**9)}"'
    )
    return clean_upstream_text(text, limit=ERROR_LIMIT)


@pytest.mark.parametrize("case", ["every task failed its own way", "none could be read", "every kind of group"])
def test_100_ango_tasks_fit_the_budget_whatever_went_wrong(case: str) -> None:
    rng = random.Random(case)
    ids = [_ango_id(rng) for _ in range(100)]
    if case == "every task failed its own way":
        lines = [TaskLine(id=i, state="failed", changed=True, detail=_detail(rng)) for i in ids]
    elif case == "none could be read":  # (the call then fails; here, all but one)
        lines = [TaskLine(id=i, error=_error(rng, i), error_kind="not read: bad response (HTTP 502)") for i in ids]
    else:  # each state changed and not, details and stale errors mixed in
        lines = []
        for n, task_id in enumerate(ids):
            state = STATES[n % len(STATES)]
            lines.append(
                TaskLine(
                    id=task_id,
                    state=state,
                    changed=n % 2 == 0,
                    raw_status="EXPIRED_BY_POLICY" if state == "unknown" else None,
                    detail=_detail(rng) if n % 3 == 0 else None,
                    error=_error(rng, task_id) if n % 5 == 0 else None,
                    error_kind="not read: bad response (HTTP 502)",
                )
            )
    data = dumped(lines)
    assert len(poll_rows(data)) == 100
    print(f"poll_task result tokens (o200k_base), 100 random-hex Ango ids, {case}:", tokens(data))
    assert tokens(data) <= RESULT_BUDGET, tokens(data)
    # what fits is kept: fewer sentences, not none, and the note says some were left out
    shown = {group.get("detail") or group.get("error") for group in data["tasks"]} - {None}
    assert 1 <= len(shown) < MAX_SENTENCES and "left out for length" in data["note"]
