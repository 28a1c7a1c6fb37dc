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

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field

from ..errors import clean_upstream_text
from .budget import cut_note, token_estimate
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
    low_below: float | None = None
    objects_by_class: dict[str, int] | None = None
    counts: dict[str, int] | None = None
    truncated: str | None = None


_RESULTS = (
    "predictions[{label,score,box}]; fields[{field,value,confidence,low,page}], lowest confidence first, "
    "low = confidence under low_below; objects_by_class; counts; truncated"
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
    review_status: str | None = Field(default=None, description="ango: review outcome, Todo = not reviewed yet")
    assignee: str | None = Field(default=None, description="who must act: type:id, or an e-mail")
    locked_at: str | None = Field(default=None, description="locked for editing by its assignee since")
    detail: str | None = Field(default=None, description="why the task is in this state, or its error")
    metadata: dict[str, Any] | None = Field(default=None, description="user-defined fields: SLA, flags, ticket ids")
    metadata_truncated: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    results: Annotated[TaskResults | None, published_as("object", _RESULTS)] = None
    extra: dict[str, Any] | None = Field(default=None, description="more provider fields (detailed)")


METADATA_TOKENS = {False: 150, True: 800}  # estimated tokens of user metadata, concise and detailed
METADATA_TEXT = {False: 120, True: 400}  # characters of one value


def user_metadata(pairs: Iterable[tuple[str, Any]], *, detailed: bool) -> tuple[dict[str, Any], str | None]:
    """User-defined key/values (what triage routes on: SLA hours, escalation flags, ticket ids) within
    the view's budget, in the provider's order, and a note when some did not fit.

    Scalars are kept as they are and a list of scalars as one comma-separated text; concise views leave
    nested objects to the detailed view, which shows them as compact JSON."""
    shown: dict[str, Any] = {}
    skipped = 0
    spent = 0.0
    for raw_key, value in pairs:
        key = clean_upstream_text(str(raw_key), limit=60)
        if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, (dict, list)):
            if not detailed:
                skipped += 1
                continue
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            continue
        if isinstance(value, str):
            value = cut_note(clean_upstream_text(value, limit=4 * METADATA_TEXT[detailed]), METADATA_TEXT[detailed])
        cost = token_estimate(json.dumps({key: value}, ensure_ascii=False))
        if spent + cost > METADATA_TOKENS[detailed]:
            skipped += 1
            continue
        spent += cost
        shown[key] = value
    if not skipped:
        return shown, None
    more = f"{skipped} more field{'s' * (skipped != 1)}"
    return shown, more if detailed else f"{more}; response_format=detailed shows them"


def is_terminal(state: State) -> bool:
    """True for states a task never leaves on its own (Ango tasks can still be requeued by a person)."""
    return state in TERMINAL_STATES
