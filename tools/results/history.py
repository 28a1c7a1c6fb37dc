"""A task's history as one timeline model, whatever the provider keeps: what `get_task_history` returns.

Ango keeps a real stage history (one entry per stage visit, each with a full copy of the answer);
the other providers keep only a few timestamps on the task, so their timeline is *derived* and says
so. Both are paged the same way here: entries oldest first, the newest page first, and a cursor that
walks back in time, because "where is it now and how did it get there" is the first question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from ..errors import ProviderError
from .compact import Compact, published_as
from .provider_name import ProviderName
from .task import State, TaskView

MAX_LIMIT = 100
_CURSOR_PREFIX = "before:"


# Nested models carry no docstring on purpose (pydantic would publish it in the tool's output schema).


class ObjectChange(Compact):
    # One annotation object that differs from the previous entry.
    change: str = Field(description="added, removed, or what changed: moved, class, answers")
    object_id: str
    label: str
    detail: str | None = None


class AnswerChange(Compact):
    # One classification answer that differs from the previous entry (nested questions as a path).
    question: str
    old: str | None = None
    new: str | None = None


class EntryChanges(Compact):
    # What this entry's answer changed, compared with the previous entry's.
    added: int | None = None
    removed: int | None = None
    modified: int | None = None
    relations: str | None = None
    objects: list[ObjectChange] | None = None
    answers: list[AnswerChange] | None = None
    truncated: str | None = None


class HistoryEntry(Compact):
    # One stage visit (Ango) or one timestamped event (derived).
    history_id: str | None = None
    at: str | None = None
    event: str | None = None
    stage: str | None = None
    by: str | None = None
    active_s: int | float | None = None
    wall_s: int | float | None = None
    outcome: str | None = None
    rework: bool | None = None
    skipped: bool | None = None
    counts: dict[str, int] | None = None
    changes: EntryChanges | None = None
    answer: dict[str, Any] | None = None


class HistorySummary(Compact):
    # Figures over every entry, not only the page shown.
    entries: int
    active_s: int | float | None = None
    active_s_by_stage: dict[str, int | float] | None = None
    wall_s_by_stage: dict[str, int | float] | None = None
    loops: int | None = None
    outcome: str | None = None
    state: State | None = None
    current_stage: str | None = None


_SUMMARY = "totals over all entries: active time and wall time by stage, loops, outcome, state"
_ENTRIES = (
    "oldest first; each: history_id, at, stage or event, by, active_s, wall_s, outcome, "
    "changes since the previous entry"
)


class TaskHistory(Compact):
    """A task's timeline, oldest entry first. Empty fields are omitted."""

    provider: ProviderName
    task_id: str
    sandbox: bool | None = None
    derived: bool | None = None
    note: str | None = None
    summary: Annotated[HistorySummary | None, published_as("object", _SUMMARY)] = None
    entries: Annotated[list[HistoryEntry], published_as("array", _ENTRIES)] = []
    truncated: bool | None = None
    next_cursor: str | None = None


def page_of(
    provider: ProviderName, entries: Sequence[HistoryEntry], cursor: str | None, limit: int
) -> tuple[list[HistoryEntry], str | None, str | None]:
    """(entries shown, next cursor, note) for one page: the newest `limit` entries before `cursor`.

    Entries only ever get appended, so a cursor (an index into the oldest-first list) stays valid
    while a task moves on."""
    total = len(entries)
    end = total if cursor is None else _cursor_end(provider, cursor, total)
    start = max(0, end - limit)
    if start == 0 and end == total:
        return list(entries), None, None
    next_cursor = f"{_CURSOR_PREFIX}{start}" if start > 0 else None
    more = "; pass next_cursor for earlier ones" if next_cursor else ""
    return list(entries[start:end]), next_cursor, f"Showing entries {start + 1}-{end} of {total}{more}."


def _cursor_end(provider: ProviderName, cursor: str, total: int) -> int:
    digits = cursor[len(_CURSOR_PREFIX) :] if cursor.startswith(_CURSOR_PREFIX) else ""
    if digits.isdigit() and 0 < int(digits) <= total and len(digits) < 7:
        return int(digits)
    raise ProviderError(
        provider,
        "invalid_argument",
        hint="That cursor is not one this tool returned for this task; call again without cursor.",
    )


def derived_history(
    view: TaskView, events: list[tuple[str | None, str]], note: str, cursor: str | None, limit: int
) -> TaskHistory:
    """The timeline of a provider without a history API: only the timestamped events its task object
    carries (never invented ones), marked `derived`, with the task's current state as the summary."""
    dated = sorted((at, text) for at, text in events if at)
    entries = [HistoryEntry(at=at, event=text) for at, text in dated]
    page, next_cursor, page_note = page_of(view.provider, entries, cursor, limit)
    return TaskHistory(
        provider=view.provider,
        task_id=view.id,
        derived=True,
        note=" ".join(filter(None, [note, page_note])),
        summary=HistorySummary(entries=len(entries), state=view.state, current_stage=view.stage),
        entries=page,
        truncated=True if next_cursor or page_note else None,
        next_cursor=next_cursor,
    )
