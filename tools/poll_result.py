"""What `poll_task` returns: one lean row per task and a few batch figures that say what to do next.

A poll covers up to 100 tasks, so every token of a row is paid a hundred times. A row carries the
task's id and normalized state, `changed` only when true, `raw_status` only when the state is
`unknown` (then it is the one clue there is), and a detail only where something happened: the task
changed, failed, or could not be read. A row has no `terminal` flag: the state says it (succeeded,
failed and cancelled are the terminal states, and nothing else is), and the flag would cost five
tokens a row — a fifth of a finished task's row — to repeat it; `all_terminal` covers the batch.
Everything else about a task is one `get_task` away.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .compact import Compact, published_as
from .models import ProviderName, State

# The row model carries no docstring on purpose (pydantic would publish it in the tool's output schema).


class PollRow(Compact):
    # One task: its state now, and the detail only where something happened.
    id: str
    state: State | None = None
    changed: bool | None = None
    raw_status: str | None = None
    detail: str | None = None
    error: str | None = None


_ROWS = (
    "one per id: id, state (terminal: succeeded, failed, cancelled), changed (true: since this call "
    "began), raw_status (unknown state), detail (changed or failed), error (unreadable)"
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
    tasks: Annotated[list[PollRow], published_as("array", _ROWS)] = []
