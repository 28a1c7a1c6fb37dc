"""What `poll_task` returns: the tasks grouped by what is true of them, and a few batch figures.

Every polled task gets its normalized state, `terminal` and `changed` (since the call began). A poll
covers up to 100 tasks, and most of them read alike (58 still running and unchanged, 37 just
succeeded), so one object per task would repeat the same three fields a hundred times, about 60% of
the tokens of a poll of Deepomatic tasks. Each entry of `tasks` therefore states those fields once,
with every task they are true of in `ids` (in the order they were asked for). Every task still has
its own state, `terminal` and `changed`, spelled out, and an id appears in exactly one group.

A group may also carry `raw_status` (only for the state `unknown`: the one clue there is), a `detail`
(only for a task that changed, failed, or is in an unknown state) or an `error` (the last read of the
task failed; without a state, it was never read). Tasks sharing a detail or an error share a group,
which is why an error sentence that named one task's id names `<id>` when several tasks share it.

Distinct details and errors split groups, and each costs a sentence, so at most `MAX_SENTENCES` are
shown, fewer if the result would otherwise pass `TOKEN_BUDGET` (100 Ango ids alone are ~1,500 tokens):
past that, details are left out and errors are given by kind, and the note says so. Everything else
about a task is one `get_task` away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, get_args

from pydantic import Field

from .budget import uniform_token_estimate
from .compact import Compact, compact_json, published_as
from .provider_name import ProviderName
from .task import State, is_terminal

MAX_SENTENCES = 10  # distinct details and error sentences in one result
SENTENCE_STEPS = (MAX_SENTENCES, 4, 0)  # tried in turn until the result fits TOKEN_BUDGET
TOKEN_BUDGET = 2500  # estimated tokens of a result (see `token_estimate`)
ID_PLACEHOLDER = "<id>"
_STATE_ORDER = {state: rank for rank, state in enumerate(get_args(State))}

# The group model carries no docstring on purpose (pydantic would publish it in the tool's output schema).


class PollGroup(Compact):
    # Tasks that share all of these fields; `ids` in the order they were asked for.
    state: State | None = None
    terminal: bool | None = None
    changed: bool | None = None
    raw_status: str | None = None
    detail: str | None = None
    error: str | None = None
    ids: list[str]


_GROUPS = (
    "groups of tasks sharing state, terminal, changed (since this call began), raw_status (unknown "
    "state), detail (changed or failed), error (not read); ids: the tasks, each in one group"
)


class PollResult(Compact):
    """Tasks after the wait. Empty fields are omitted."""

    provider: ProviderName
    sandbox: bool | None = None
    all_terminal: bool
    counts: dict[str, int] = Field(description="per state; error = unreadable")
    waited_s: float
    next_poll_s: int | None = Field(default=None, description="when to poll again, if anything is left")
    note: str | None = Field(default=None, description="why the poll returned")
    tasks: Annotated[list[PollGroup], published_as("array", _GROUPS)] = []


@dataclass(frozen=True)
class TaskLine:
    """One task as the result reports it, before the tasks that read alike are grouped."""

    id: str
    state: State | None = None  # None: never read
    changed: bool = False
    raw_status: str | None = None
    detail: str | None = None  # already chosen (the task changed, failed or is unknown) and cleaned
    error: str | None = None  # the failed read's sentence
    error_kind: str | None = None  # the same failure in a few words, for when sentences run out


def fitted(lines: list[TaskLine], build: Callable[[list[PollGroup], bool], PollResult]) -> PollResult:
    """`build(groups, sentences_cut)` with as many distinct sentences as fit the token budget (none, at
    worst: then the groups are by state, `changed` and error kind only)."""
    for limit in SENTENCE_STEPS:
        result = build(*group_lines(lines, limit))
        if token_estimate(compact_json(result)) <= TOKEN_BUDGET:
            break
    return result


def token_estimate(text: str) -> float:
    """An upper estimate of a poll result's tokens: the densest ASCII it returns is random hex ids
    (Ango's) at 1.8 characters per token."""
    return uniform_token_estimate(text, ascii_per_token=1.8)


def group_lines(lines: list[TaskLine], max_sentences: int = MAX_SENTENCES) -> tuple[list[PollGroup], bool]:
    """The lines as groups of tasks sharing every field, and whether any detail or error sentence was
    left out (more than `max_sentences` distinct ones)."""
    errors = _shared_errors(lines)
    shown: set[str] = set()
    cut = False
    members: dict[tuple[State | None, bool | None, str | None, str | None, str | None], list[str]] = {}
    for line in lines:
        detail = line.detail
        if detail is not None and not _admit(detail, shown, max_sentences):
            detail, cut = None, True
        error = errors.get(line.id)
        if error is not None and error != line.error_kind and not _admit(error, shown, max_sentences):
            error, cut = line.error_kind, True
        changed = line.changed if line.state is not None else None
        members.setdefault((line.state, changed, line.raw_status, detail, error), []).append(line.id)
    groups = [
        PollGroup(
            state=state,
            terminal=is_terminal(state) if state is not None else None,
            changed=changed,
            raw_status=raw_status,
            detail=detail,
            error=error,
            ids=ids,
        )
        for (state, changed, raw_status, detail, error), ids in members.items()
    ]
    return sorted(groups, key=_order), cut


def _admit(sentence: str, shown: set[str], limit: int) -> bool:
    """True if `sentence` is shown: already shown for another task, or there is room for one more."""
    if sentence in shown:
        return True
    if len(shown) >= limit:
        return False
    shown.add(sentence)
    return True


def _shared_errors(lines: list[TaskLine]) -> dict[str, str]:
    """Each failed task's error sentence, with its own id written `<id>` where other tasks failed with
    the same sentence but their own id (Deepomatic's "no task 999999999; check the id"), so they group."""
    templates = {line.id: _template(line.error, line.id) for line in lines if line.error is not None}
    uses: dict[str, int] = {}
    for template in templates.values():
        uses[template] = uses.get(template, 0) + 1
    return {
        line.id: templates[line.id] if uses[templates[line.id]] > 1 else line.error
        for line in lines
        if line.error is not None
    }


def _template(sentence: str, task_id: str) -> str:
    if task_id not in sentence:  # most sentences never name the id: no pattern to build
        return sentence
    return re.sub(rf"(?<![\w-]){re.escape(task_id)}(?![\w-])", ID_PLACEHOLDER, sentence)


def _order(group: PollGroup) -> tuple[int, bool]:
    """Groups by state in the vocabulary's order (queued → ... → unknown), what changed first; unread last."""
    rank = _STATE_ORDER[group.state] if group.state is not None else len(_STATE_ORDER)
    return rank, not group.changed
