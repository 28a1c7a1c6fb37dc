"""The summary result: what a project lead asks about first, in a few hundred tokens (concise) or more.

Each section of the accumulator renders its own part (`sections/`); this module composes them, says
every cut in `truncated` and every estimated figure in `approximate`, and keeps the result within its
token budget.

The sections are typed models (validated when the result is built), but are published in the tool's
output schema as plain objects (`OBJECT`): their full schema cost ~800 tokens of `tools/list` on
every request, against a budget of ~440 for the whole tool, and their field names say what they hold.
The nested models have no docstrings for the same reason.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, WithJsonSchema

from ..results.budget import uniform_token_estimate
from ..results.compact import Compact, compact_json
from .accumulate import Accumulator
from .sections.parts import Anomalies, Answers, Consensus, Labels, People, Workflow
from .sections.render import Rendering

TOKEN_BUDGET = {"concise": 1900, "detailed": 7600}  # under the 2,000 / 8,000 tokens promised, with margin
OBJECT = WithJsonSchema({"type": "object"})
_LABELS = "instances = tool entries; objects = distinct objectIds (a video object spans many instances)"
_QUESTIONS = "by question path: answered = assets answering, answers = count per option"
_WORKFLOW = (
    "stages: visits and active seconds per stage; reviews: stage -> outcome -> count; rates over reviewed assets"
)
_PEOPLE = "tasks = stage visits (labelers) or reviews given (reviewers); rejection_rate = share rejected"
_ANOMALIES = "slow = assets over 3x the median duration; empty_complete, rejected_unchanged: count and examples"


def _object(description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "object", "description": description})


class ExportSummary(Compact):
    # An Ango export, summarized in one streaming pass; empty sections are omitted. `records` (records
    # read) appears only when filters dropped some; `resource` is the export-summary:// URI the server
    # keeps it under. No docstring: it would be published in the schema.
    source: str
    resource: str | None = Field(default=None, description="export-summary:// URI this result is kept under")
    sandbox: bool | None = None
    assets: int = Field(description="assets that passed the filters")
    records: int | None = Field(default=None, description="records read, when filters dropped some")
    generation: str = Field(description="export format: current (task), legacy (tasks[]), mixed")
    first: str | None = Field(default=None, description="earliest task update or stage completion")
    last: str | None = Field(default=None, description="latest task update or stage completion")
    stages: dict[str, int] | None = Field(default=None, description="assets per current stage")
    batches: dict[str, int] | None = Field(default=None, description="assets per batch")
    sections: list[str] | None = None
    labels: Annotated[Labels | None, _object(_LABELS)] = None
    questions: Annotated[dict[str, Answers] | None, _object(_QUESTIONS)] = None
    workflow: Annotated[Workflow | None, _object(_WORKFLOW)] = None
    people: Annotated[People | None, _object(_PEOPLE)] = None
    consensus: Annotated[Consensus | None, OBJECT] = None
    anomalies: Annotated[Anomalies | None, _object(_ANOMALIES)] = None
    unreadable: str | None = Field(default=None, description="records skipped as unreadable, and where")
    approximate: list[str] | None = Field(default=None, description="figures estimated by a sketch, not exact")
    truncated: str | None = None


def build_summary(
    acc: Accumulator,
    *,
    source: str,
    top_k: int,
    detailed: bool,
    sandbox: bool = False,
    unreadable: tuple[int, int | None] = (0, None),
) -> ExportSummary:
    """The result model, within the token budget of its format (lists shrink before anything else)."""
    acc.flush()
    budget = TOKEN_BUDGET["detailed" if detailed else "concise"]
    k = top_k
    while True:
        summary = _render(
            acc, source=source, k=k, top_k=top_k, detailed=detailed, sandbox=sandbox, unreadable=unreadable
        )
        if k <= 1 or token_estimate(compact_json(summary)) + RESOURCE_FIELD_TOKENS <= budget:
            return summary
        k = max(1, k * 2 // 3)


def token_estimate(text: str) -> float:
    """An upper estimate of a summary's tokens: compact JSON runs at 3-4 ASCII characters per token,
    2.5 is assumed for its ids and e-mail addresses."""
    return uniform_token_estimate(text, ascii_per_token=2.5)


# The server adds `"resource":"export-summary://<12 hex>"` after building the summary (the id is a hash
# of the summary), so the budget leaves room for it.
RESOURCE_FIELD_TOKENS = token_estimate('"resource":"export-summary://0123456789ab",')


def _render(
    acc: Accumulator,
    *,
    source: str,
    k: int,
    top_k: int,
    detailed: bool,
    sandbox: bool,
    unreadable: tuple[int, int | None],
) -> ExportSummary:
    """Every section's part, in the summary's order (which is also the order cuts are said in)."""
    out = Rendering(k=k, detailed=detailed, name_of=acc.name_of)
    overview = acc.overview.render(out)
    labels = acc.labels.render(out)
    questions = acc.questions.render(out)
    workflow = acc.workflow.render(out)
    people = acc.people.render(out)
    consensus = acc.consensus.render(out)
    anomalies = acc.anomalies.render(out)
    more = "; a larger top_k shows more" if detailed else "; response_format=detailed or a larger top_k shows more"
    truncated = ("showing " + ", ".join(out.cuts) + more) if out.cuts else None
    if k < top_k:
        truncated = (truncated + "; " if truncated else "") + f"lists cut to {k} to fit the response budget"
    count, offset = unreadable
    return ExportSummary(
        source=source,
        sandbox=sandbox or None,
        records=acc.records if acc.records != overview["assets"] else None,
        **overview,
        labels=labels,
        questions=questions,
        workflow=workflow,
        people=people,
        consensus=consensus,
        anomalies=anomalies,
        unreadable=(
            f"{count} records were valid JSON but not assets (first at byte {offset}); they are not counted"
            if count
            else None
        ),
        approximate=out.approximate,
        truncated=truncated,
    )
