"""The normalized task every provider is mapped to: what the tools return and what their schemas publish.

One vocabulary of states across providers, so an agent can reason without knowing four APIs:

* `queued`: accepted, not yet being worked on
* `running`: a machine is working on it (or the provider cannot tell queued from running)
* `waiting_on_human`: resting until a person acts (label, review, KYC step) — do not spin on it
* `succeeded`, `failed`, `cancelled`: terminal
* `unknown`: a status this version does not recognise; `raw_status` keeps the provider's word

Fields are optional and dropped when empty (see `Compact`); `raw_status` is kept verbatim because it is
the one provider value an agent needs to search docs or talk to a human about the task.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .compact import Compact, published_as
from .provider_name import ProviderName

State = Literal["queued", "running", "waiting_on_human", "succeeded", "failed", "cancelled", "unknown"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
ResponseFormat = Literal["concise", "detailed"]


# The nested result models carry no docstring on purpose: pydantic would publish it in every tool's
# output schema, and their field names already say what they hold.


class Prediction(Compact):
    # One predicted label of an inference task, best first; `box` only in detailed results.
    label: str
    score: float
    box: list[float] | None = Field(default=None, description="xmin,ymin,xmax,ymax")


class ExtractedField(Compact):
    # One extracted document field; `low` marks a confidence below the provider module's threshold.
    field: str
    value: str | None = None
    confidence: float | None = None
    low: bool | None = None
    page: int | None = None


class TaskResults(Compact):
    # What the task produced, shaped per provider; `truncated` says what was left out and how to get it.
    predictions: list[Prediction] | None = None
    fields: list[ExtractedField] | None = None
    objects_by_class: dict[str, int] | None = None
    counts: dict[str, int] | None = None
    truncated: str | None = None


_RESULTS = (
    "predictions[{label,score,box}], fields[{field,value,confidence,low,page}], objects_by_class, counts, truncated"
)


class TaskView(Compact):
    """One task, normalized. Empty fields are omitted."""

    provider: ProviderName
    id: str
    state: State
    terminal: bool
    raw_status: str
    sandbox: bool | None = None
    name: str | None = None
    stage: str | None = Field(default=None, description="workflow stage or step the task is in")
    review_status: str | None = None
    assignee: str | None = None
    detail: str | None = Field(default=None, description="why the task is in this state, or its error")
    created_at: str | None = None
    updated_at: str | None = None
    results: Annotated[TaskResults | None, published_as("object", _RESULTS)] = None
    extra: dict[str, Any] | None = Field(default=None, description="more provider fields (detailed)")


def is_terminal(state: State) -> bool:
    """True for states a task never leaves on its own (Ango tasks can still be requeued by a person)."""
    return state in TERMINAL_STATES
