"""A task's history as one timeline model, whatever the provider keeps: what `get_task_history` returns.

Ango keeps a real stage history (one entry per stage visit, each with a full copy of the answer);
the other providers keep only a few timestamps on the task, so their timeline is *derived* and says
so. Both are paged the same way here: a page holds the newest `limit` entries, oldest first within
the page, and `next_cursor` walks back to earlier ones, because "where is it now and how did it get
there" is the first question. Every page says which entries of how many it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from ..errors import ProviderError
from ..untrusted import whole_number
from .compact import Compact, published_as
from .provider_name import ProviderName
from .task import State, TaskView

MAX_LIMIT = 100
_CURSOR_PREFIX = "before:"
_CURSOR_DIGITS = 6  # a history of a million entries is far beyond any task's


# Nested models carry no docstring on purpose (pydantic would publish it in the tool's output schema).


class ObjectChange(Compact):
    # One annotation object that differs from the previous entry.
    change: str = Field(description="added, removed, or what changed: moved, class, answers")
    object_id: str | None = None  # detailed only: concise rows name the class, which is what a reader asks about
    label: str
    detail: str | None = None


class AnswerChange(Compact):
    # One classification answer that differs from the previous entry (nested questions as a path).
    question: str
    old: str | None = None
    new: str | None = None


class EntryChanges(Compact):
    # What this entry's answer changed, compared with the previous entry's: counts of objects added,
    # removed and modified, of scene answers changed, and the listed changes (all of them while the
    # page fits its budget; `truncated` says how many are left out of this entry and how to list them).
    added: int | None = None
    removed: int | None = None
    modified: int | None = None
    answers_changed: int | None = None
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
    rejections: int | None = None
    reviews: dict[str, dict[str, int]] | None = None
    outcome: str | None = None
    state: State | None = None
    current_stage: str | None = None


_SUMMARY = (
    "totals over all entries, not only this page: active and wall seconds by stage; loops = times the task "
    "went back to labeling (rework); rejections; reviews = reviewer -> outcome counts; last outcome; state now"
)
_ENTRIES = (
    "oldest first; each: history_id, at, stage or event, by, active_s, wall_s, outcome, "
    "changes since the previous entry (counts, objects, answers old->new)"
)


class TaskHistory(Compact):
    """A task's timeline, oldest entry first. Empty fields are omitted."""

    provider: ProviderName
    task_id: str
    sandbox: bool | None = None
    derived: bool | None = None
    note: str | None = None
    summary: Annotated[HistorySummary | None, published_as("object", _SUMMARY)] = None
    page: str | None = Field(default=None, description="which entries of how many this page holds")
    entries: Annotated[list[HistoryEntry], published_as("array", _ENTRIES)] = []
    truncated: bool | None = None
    next_cursor: str | None = None


def page_of(
    provider: ProviderName, entries: Sequence[HistoryEntry], cursor: str | None, limit: int
) -> tuple[list[HistoryEntry], str | None, str]:
    """(entries shown, next cursor, what the page holds) for one page: the newest `limit` entries
    before `cursor`, oldest first.

    Entries only ever get appended, so a cursor (an index into the oldest-first list) stays valid
    while a task moves on."""
    total = len(entries)
    end = total if cursor is None else _cursor_end(provider, cursor, total)
    start = max(0, end - limit)
    next_cursor = f"{_CURSOR_PREFIX}{start}" if start > 0 else None
    if total == 0:
        return [], None, "no entries"
    held = f"entries {start + 1}-{end} of {total}, oldest first" if end > start else f"none of {total} entries"
    more = f"; next_cursor lists entries 1-{start}" if next_cursor else ""
    return list(entries[start:end]), next_cursor, held + more


def _cursor_end(provider: ProviderName, cursor: str, total: int) -> int:
    end = whole_number(cursor.removeprefix(_CURSOR_PREFIX), max_digits=_CURSOR_DIGITS)
    if cursor.startswith(_CURSOR_PREFIX) and end is not None and 0 < end <= total:
        return end
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
    page, next_cursor, held = page_of(view.provider, entries, cursor, limit)
    return TaskHistory(
        provider=view.provider,
        task_id=view.id,
        derived=True,
        note=note,
        summary=HistorySummary(entries=len(entries), state=view.state, current_stage=view.stage),
        page=held,
        entries=page,
        truncated=True if next_cursor or len(page) < len(entries) else None,
        next_cursor=next_cursor,
    )
