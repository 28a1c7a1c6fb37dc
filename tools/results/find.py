"""What `find_tasks` returns, and the provider-neutral half of a listing: the query, its cursor, the
rows' budget.

A provider client turns a `FindQuery` into upstream requests and hands back `Matches`: the rows from
a `Position` on, where the next page starts, the total and the counts. Everything else is the same
for every provider and lives here: a cursor is the position of the next row plus a fingerprint of the
query it belongs to (base64 of a small JSON object), rows are fitted to the token budget from the
end, and a page cut short continues exactly where it stopped, so a walk sees every match once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ..errors import ProviderError, clean_upstream_text
from ..timestamps import parse_time
from .budget import cut_message, token_estimate
from .compact import TEXT_CEILING, Compact, compact_json, published_as
from .provider_name import ProviderName
from .task import State, TaskView

FindState = Literal["queued", "running", "waiting_on_human", "succeeded", "failed", "cancelled"]
SortOrder = Literal["oldest_update", "newest_update"]
UNASSIGNED = "none"  # the assignee filter's word for "nobody is assigned"
MAX_LIMIT = 100
MAX_CURSOR = 1200  # characters of a cursor: a provider's own page token fits, a pasted document does not
TOKEN_BUDGET = {False: 1500, True: 4000}  # estimated tokens of a concise / detailed result
NAME_LIMIT = {False: 48, True: 160}  # characters of a task's name in a row
LABEL_LIMIT = 60  # characters of a stage name, in a row or as a count's key
COUNTED_STAGES = 16  # stages counts list by name; the others are summed
_CURSOR_KEYS = frozenset({"q", "k", "s"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Where a row sits upstream: the provider's page key (Ango: a 1-based page number; Maxsight: the page
# token a block of pages starts at, None for the first) and how many rows of that page come before it.
Position = tuple[int | str | None, int]


@dataclass(frozen=True)
class FindQuery:
    """A `find_tasks` call, checked: filters in tasklens' terms, time bounds parsed, cursor decoded."""

    provider: ProviderName
    project_id: str | None = None
    team_id: str | None = None
    state: FindState | None = None
    stage: str | None = None
    assignee: str | None = None
    batch: str | None = None
    updated_after: datetime | None = None  # inclusive
    updated_before: datetime | None = None  # exclusive
    sort: SortOrder = "oldest_update"
    limit: int = 20
    detailed: bool = False
    start: Position | None = None  # None: the first page

    @property
    def oldest_first(self) -> bool:
        return self.sort == "oldest_update"

    @property
    def first_page(self) -> bool:
        return self.start is None

    @property
    def fingerprint(self) -> str:
        """What a cursor is tied to: every argument that decides which rows a page holds."""
        parts = [
            self.provider,
            self.project_id,
            self.team_id,
            self.state,
            (self.stage or "").lower(),
            self.assignee,
            (self.batch or "").lower(),
            self.updated_after.isoformat() if self.updated_after else None,
            self.updated_before.isoformat() if self.updated_before else None,
            self.sort,
            self.limit,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:10]

    def in_time_bounds(self, updated_at: Any) -> bool:
        """True if `updated_at` lies in [updated_after, updated_before)."""
        if self.updated_after is None and self.updated_before is None:
            return True
        moment = parse_time(updated_at)
        if moment is None:
            return False
        if self.updated_after is not None and moment < self.updated_after:
            return False
        return self.updated_before is None or moment < self.updated_before


@dataclass
class Matches:
    """One provider's answer to a `FindQuery`, before the rows are fitted to the budget.

    `rows` start at `position` and are at most `query.limit`; `after` is the position of the row that
    follows the last one (None: it was the last match). Counts are given on the first page only."""

    rows: list[TaskView]
    position: Position
    after: Position | None
    total: int
    total_exact: bool = True
    by_state: dict[str, int] | None = None
    by_stage: dict[str, int] | None = None
    counts_partial: str | None = None
    notes: list[str] = field(default_factory=list)


# Nested models carry no docstring on purpose (pydantic would publish it in the tool's output schema).


class TaskRow(Compact):
    # One matching task: what triage reads, and the id get_task and poll_task take. An id, a file name
    # and an e-mail already cost 50 tokens, so the exact times and the raw status are detailed only.
    id: str
    name: str | None = None
    state: State
    stage: str | None = None
    assignee: str | None = None
    age: str | None = None
    updated_at: str | None = None
    raw_status: str | None = None
    created_at: str | None = None


class TaskCounts(Compact):
    # Tasks per state and per stage over every match (first page only); `partial` says what is not counted.
    state: dict[str, int] | None = None
    stage: dict[str, int] | None = None
    partial: str | None = None


_COUNTS = "first page only: tasks per state and per stage over every match; partial = what is not counted, and how"
_ROWS = "id (for get_task / poll_task), name, state, stage, assignee, age since the last update; detailed adds times"


class TaskList(Compact):
    """Tasks matching the filters, in the requested order. Empty fields are omitted."""

    provider: ProviderName
    sandbox: bool | None = None
    total: int = Field(description="matches in all")
    total_is_lower_bound: bool | None = None
    counts: Annotated[TaskCounts | None, published_as("object", _COUNTS)] = None
    note: str | None = Field(default=None, description="what was applied locally or left out")
    tasks: Annotated[list[TaskRow], published_as("array", _ROWS)] = []
    next_cursor: str | None = None


def find_query(
    provider: ProviderName,
    *,
    project_id: str | None,
    team_id: str | None,
    state: FindState | None,
    stage: str | None,
    assignee: str | None,
    batch: str | None,
    updated_after: str | None,
    updated_before: str | None,
    sort: SortOrder,
    limit: int,
    cursor: str | None,
    detailed: bool,
) -> FindQuery:
    """The call's arguments checked and parsed; anything unusable is refused before a request is sent."""
    after = _time_bound(provider, "updated_after", updated_after)
    before = _time_bound(provider, "updated_before", updated_before)
    if after is not None and before is not None and after >= before:
        raise ProviderError(
            provider, "invalid_argument", hint="updated_after must be earlier than updated_before; no task fits both."
        )
    query = FindQuery(
        provider=provider,
        project_id=_given(project_id),
        team_id=_given(team_id),
        state=state,
        stage=_given(stage),
        assignee=_given(assignee),
        batch=_given(batch),
        updated_after=after,
        updated_before=before,
        sort=sort,
        limit=max(1, min(limit, MAX_LIMIT)),
        detailed=detailed,
    )
    if cursor is None or not cursor.strip():
        return query
    return replace(query, start=decode_cursor(provider, cursor.strip(), query.fingerprint))


def _given(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def _time_bound(provider: ProviderName, name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    parsed = parse_time(value.strip())
    if parsed is None:
        raise ProviderError(
            provider,
            "invalid_argument",
            hint=f"{name} must be an ISO 8601 time such as 2025-03-01T09:00:00Z (or a date, 2025-03-01).",
        )
    return parsed


def encode_cursor(fingerprint: str, position: Position) -> str:
    raw = json.dumps({"q": fingerprint, "k": position[0], "s": position[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(provider: ProviderName, cursor: str, fingerprint: str) -> Position:
    """The position a cursor names, if this tool issued it for these same arguments."""
    data: Any = None
    if len(cursor) <= MAX_CURSOR:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, binascii.Error):
            data = None
    if not (isinstance(data, dict) and set(data) == _CURSOR_KEYS and _valid_position(data.get("k"), data.get("s"))):
        raise ProviderError(
            provider,
            "invalid_argument",
            hint="That cursor is not one find_tasks returned; call again without cursor to start from the first page.",
        )
    if data["q"] != fingerprint:
        raise ProviderError(
            provider,
            "invalid_argument",
            hint="That cursor belongs to a call with other filters, sort or limit; repeat those arguments with it, "
            "or call again without cursor.",
        )
    return data["k"], data["s"]


def _valid_position(key: Any, skip: Any) -> bool:
    key_ok = (
        key is None
        or (isinstance(key, int) and not isinstance(key, bool) and 1 <= key <= 1_000_000)
        or (isinstance(key, str) and 0 < len(key) <= MAX_CURSOR)
    )
    return key_ok and isinstance(skip, int) and not isinstance(skip, bool) and 0 <= skip <= 100_000


def age_text(seconds: float) -> str:
    """Time since an update in one or two units, as a person says it: 45s, 12m, 5h 3m, 3d 4h, 12d."""
    seconds = max(0, int(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{minutes}m"
    if seconds < 86400:
        return f"{hours}h {minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 7:
        return f"{days}d {hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def task_list(query: FindQuery, matches: Matches, now: datetime) -> TaskList:
    """The result: `matches`' rows as compact rows, as many as fit the budget, and the cursor that
    continues with the first row left out (or with the next page)."""
    rows = [_row(view, query.detailed, now) for view in matches.rows[: query.limit]]
    counts = None
    if matches.by_state is not None or matches.by_stage is not None or matches.counts_partial:
        by_stage = _largest(matches.by_stage) if matches.by_stage is not None else None
        counts = TaskCounts(state=matches.by_state, stage=by_stage, partial=matches.counts_partial)
    notes = " ".join(matches.notes)
    page, skip = matches.position
    shown = len(rows)
    while True:
        following = matches.after if shown == len(rows) else (page, skip + shown)
        cut = (
            f"{len(rows) - shown} more rows of this page did not fit; next_cursor lists them."
            if shown < len(rows)
            else ""
        )
        result = TaskList(
            provider=query.provider,
            total=matches.total,
            total_is_lower_bound=True if not matches.total_exact else None,
            counts=counts,
            note=f"{notes} {cut}".strip() or None,
            tasks=rows[:shown],
            next_cursor=encode_cursor(query.fingerprint, following) if following is not None else None,
        )
        if shown <= 1 or _cost(result) <= TOKEN_BUDGET[query.detailed]:
            return result
        shown -= 1


def _cost(result: TaskList) -> float:
    """A result's tokens, erring high. The shared estimate runs low on two things a listing is full of:
    UUIDs (Maxsight's ids and assignees, up to 6 tokens more each) and base64 (the cursor, ~1.3 characters
    per token)."""
    cursor = result.next_cursor or ""
    text = compact_json(result)
    return token_estimate(text) + 6 * len(_UUID.findall(text)) + len(cursor) / 1.3 - token_estimate(cursor)


def _row(view: TaskView, detailed: bool, now: datetime) -> TaskRow:
    updated = parse_time(view.updated_at)
    return TaskRow(
        id=view.id,
        name=cut_message(view.name, NAME_LIMIT[detailed]) if view.name else None,  # already clean (a TaskView)
        state=view.state,
        stage=_label(view.stage) if view.stage else None,
        assignee=view.assignee,
        updated_at=view.updated_at if detailed else None,
        age=age_text((now - updated).total_seconds()) if updated is not None else None,
        raw_status=view.raw_status if detailed else None,
        created_at=view.created_at if detailed else None,
    )


def _label(text: str) -> str:
    """A stage name as rows and counts show it: one clean line of at most `LABEL_LIMIT` characters."""
    return cut_message(clean_upstream_text(text, limit=TEXT_CEILING), LABEL_LIMIT)


def _largest(by_stage: dict[str, int]) -> dict[str, int]:
    """Per-stage counts in the provider's order, the largest `COUNTED_STAGES` of them, the rest summed
    as "other (N stages)": a workflow of 80 steps must not crowd out the rows."""
    labelled: dict[str, int] = {}
    for stage, count in by_stage.items():
        labelled[_label(stage)] = labelled.get(_label(stage), 0) + count
    if len(labelled) <= COUNTED_STAGES:
        return labelled
    kept = set(sorted(labelled, key=lambda stage: -labelled[stage])[: COUNTED_STAGES - 1])
    rest = [count for stage, count in labelled.items() if stage not in kept]
    return {**{s: c for s, c in labelled.items() if s in kept}, f"other ({len(rest)} stages)": sum(rest)}


def count_rows(views: list[TaskView]) -> tuple[dict[str, int], dict[str, int]]:
    """Tasks per state and per stage among `views` (a whole match, read in full)."""
    by_state: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for view in views:
        by_state[view.state] = by_state.get(view.state, 0) + 1
        stage = view.stage or "none"
        by_stage[stage] = by_stage.get(stage, 0) + 1
    return by_state, by_stage
