"""One batch of records read into columns: what the sections count, the same way for both generations.

What a record says (the tests recompute each definition independently from `json.load`):

* generation: `task` present → current; else `tasks` present → legacy; else unknown. The final labels
  are `task.tools/classifications/relations` (current) or those of `tasks[0]` (legacy, as iMerit's
  scripts do).
* class key: `title`, else `schemaId`, else "(untitled)". kind: the geometry key present
  (`bounding-box`, `polygon`, …), else "other".
* an asset has no labels when it has no tool entries, no questions and no mask (brush, medical brush,
  legacy masks).
* stage of an asset: `task.stage`, else `stageId`, else "(none)"; legacy: the asset's `status`.
* visits: `stageHistory[]` entries by stage name (`stage`, else `stageId`, else "(unknown)"); a legacy
  task is a "Label" visit (its `duration(ms)`, else `duration`), and its review, when it has a status
  other than "Todo", a "Review" visit. A Label-like visit has a `completedBy`, no `reviewStatus`, and
  is not in the Start stage.
* total duration: `task.totalDuration`; legacy `labelDuration(ms)`, else `labelDuration`, else the sum
  of its tasks' durations.
* timestamps: `task.updatedAt` and each visit's `completedAt`; legacy `labeledAt`, `reviewedAt`, each
  task's `completedAt` and `updatedAt`, each counted review's `completedAt`.

A batch holds records of one generation, so reading the common one (current) is a few list
comprehensions over the whole batch rather than a Python loop per record; the legacy generation is
read record by record.
"""

from __future__ import annotations

from itertools import chain, repeat
from typing import Any

import msgspec

from ..records import GEOMETRY_KINDS, NULL_RAW, Asset, HistoryEntry, Relation, Tool, raw_present
from .common import Name, Order, RecordRef, number, numbers, text

_STR = frozenset({str})
_NAMES = frozenset({str, type(None)})
_NUMBERS = frozenset({int, float})
_COMMON_KINDS = frozenset({"bounding_box", "polygon", "polyline", "point"})
_RARE_KINDS = tuple((attribute, label) for attribute, label in GEOMETRY_KINDS if attribute not in _COMMON_KINDS)
_NO_TOOLS: list[Tool] = []
_NO_QUESTIONS: list[msgspec.Raw] = []


class Visits:
    """The batch's stage visits, one row each, in file order."""

    __slots__ = ("asset", "scope", "stage", "ms", "who", "status", "labeling", "entries")

    def __init__(self) -> None:
        self.asset: list[int] = []  # the visit's asset (its index in the batch)
        self.scope: list[int] = []  # a review judges the Label-like visits before it in the same scope
        self.stage: list[str] = []
        self.ms: list[float | None] = []
        self.who: list[str | None] = []
        self.status: list[str | None] = []  # the review's status; None: not a review
        self.labeling: list[bool] = []  # a Label-like visit
        self.entries: list[HistoryEntry] = []  # current generation: the history entries themselves

    def add(self, asset: int, scope: int, stage: str, ms: float | None, who: str | None, status: str | None) -> None:
        """One visit of a legacy task or review."""
        self.asset.append(asset)
        self.scope.append(scope)
        self.stage.append(stage)
        self.ms.append(ms)
        self.who.append(who)
        self.status.append(status)
        self.labeling.append(status is None and who is not None)


class Columns:
    """One batch of records, all of one generation, as columns (per asset unless said otherwise)."""

    def __init__(self, generation: str, segment: int, positions: list[int], assets: list[Asset]) -> None:
        self.generation = generation
        self.segment = segment
        self.positions = positions  # each asset's place in the segment (see `RecordRef`)
        self.assets = assets
        self.stages: list[str] = []
        self.tools: list[list[Tool]] = []
        self.questions: list[list[msgspec.Raw]] = []  # the asset's own questions (not its tools')
        self.masked: list[bool] = []
        self.totals: list[float | None] = []
        self.consensus: list[float | None] = []
        self.relations: list[Relation] = []  # all of the batch's
        self.consensus_classes: list[tuple[str, float]] = []  # all of the batch's (class key, score)
        self.stamps: list[Any] = []  # every timestamp, as found
        self.batches: list[str] = []  # every batch name
        self.present: set[str] = set()  # optional parts of the export met ("history", "metadata", …)
        self.skipped = 0
        self.visits = Visits()
        # every tool entry of the batch, with its asset, class key and kind
        self.flat_tools: list[Tool] = []
        self.tool_asset: list[int] = []
        self.tool_keys: list[str] = []
        self.tool_kinds: list[str] = []
        self.empty: list[int] = []  # the assets with no labels

    def __len__(self) -> int:
        return len(self.assets)

    def order(self, i: int) -> Order:
        return (self.segment, self.positions[i])

    def name(self, i: int) -> Name:
        """The i-th asset's name: externalId, else taskId, else its place ("record N" once known)."""
        asset = self.assets[i]
        task = asset.task
        return (
            text(asset.externalId)
            or (text(task.taskId) if task is not None else None)
            or RecordRef(self.segment, self.positions[i])
        )

    def in_complete(self, i: int) -> bool:
        task = self.assets[i].task
        return task is not None and "Complete" in (task.stageId, task.stage)


def read(generation: str, segment: int, positions: list[int], assets: list[Asset]) -> Columns:
    columns = Columns(generation, segment, positions, assets)
    _batch_names(columns)
    if any(raw_present(asset.metadata) for asset in assets):
        columns.present.add("metadata")
    if generation == "current":
        _current(columns)
    elif generation == "legacy":
        _legacy(columns)
    else:
        count = len(assets)
        columns.stages = ["(none)"] * count
        columns.tools = [_NO_TOOLS] * count
        columns.questions = [_NO_QUESTIONS] * count
        columns.masked = [False] * count
        columns.totals = [None] * count
        columns.consensus = [None] * count
    _tool_columns(columns)
    columns.empty = [
        i
        for i, (tools, questions, masked) in enumerate(
            zip(columns.tools, columns.questions, columns.masked, strict=True)
        )
        if not tools and not questions and not masked
    ]
    if columns.relations:
        columns.present.add("relations")
    if any(score is not None for score in columns.consensus):
        columns.present.add("consensus")
    return columns


def _batch_names(columns: Columns) -> None:
    lists = [asset.batches for asset in columns.assets]
    names = list(chain.from_iterable(names for names in lists if type(names) is list))
    if set(map(type, names)) != _STR or "" in names:
        names = [name if type(name) is str and name else "(unnamed)" if name is None else text(name) for name in names]
        if None in names:
            names = [name for name in names if name is not None]
    columns.batches = names


def _current(columns: Columns) -> None:
    tasks = [asset.task for asset in columns.assets if asset.task is not None]  # (every asset has one)
    stages = [task.stage for task in tasks]
    if set(map(type, stages)) != _STR or "" in stages:
        stages = [
            stage if type(stage) is str and stage else text(stage) or text(task.stageId) or "(none)"
            for stage, task in zip(stages, tasks, strict=True)
        ]
    columns.stages = stages
    columns.stamps = [task.updatedAt for task in tasks]
    columns.tools = [task.tools or _NO_TOOLS for task in tasks]
    columns.questions = [task.classifications or _NO_QUESTIONS for task in tasks]
    columns.relations = list(chain.from_iterable(task.relations for task in tasks if task.relations))
    # `_url`, inline
    brushes = [type(url) is str and url != "" for url in [task.brushDataUrl for task in tasks]]
    medical = [type(url) is str and url != "" for url in [task.medicalBrushDataUrl for task in tasks]]
    if any(brushes):
        columns.present.add("brush")
    if any(medical):
        columns.present.add("medical_brush")
    columns.masked = [a or b for a, b in zip(brushes, medical, strict=True)]
    columns.totals = numbers([task.totalDuration for task in tasks])
    columns.consensus = numbers([task.consensusAverage for task in tasks])
    details = list(chain.from_iterable(task.consensusDetailed for task in tasks if task.consensusDetailed))
    columns.consensus_classes = [
        (text(detail.title) or text(detail.schemaId) or "(untitled)", score)
        for detail, score in zip(details, numbers([detail.score for detail in details]), strict=True)
        if score is not None
    ]
    histories = [task.stageHistory for task in tasks]
    if any(history is not None for history in histories):
        columns.present.add("history")
        _history(columns, histories)


def _url(value: Any) -> bool:
    """A mask's URL: any non-empty string."""
    return isinstance(value, str) and value != ""


def _history(columns: Columns, histories: list[list[HistoryEntry] | None]) -> None:
    """The current generation's visits: each entry's fields read once for the whole batch."""
    visits = columns.visits
    owned = [(i, history) for i, history in enumerate(histories) if history]
    entries = visits.entries = list(chain.from_iterable(history for _, history in owned))
    visits.asset = visits.scope = list(chain.from_iterable(repeat(i, len(history)) for i, history in owned))
    stages = [entry.stage for entry in entries]
    if set(map(type, stages)) != _STR or "" in stages:
        stages = [
            stage if type(stage) is str and stage else text(stage) or text(entry.stageId) or "(unknown)"
            for stage, entry in zip(stages, entries, strict=True)
        ]
    ms = [entry.duration for entry in entries]
    if not set(map(type, ms)) <= _NUMBERS:
        ms = [value if type(value) is int or type(value) is float else number(value) for value in ms]
    who = [entry.completedBy for entry in entries]
    if not set(map(type, who)) <= _NAMES or "" in who:
        who = [value if type(value) is str and value else None for value in who]
    status = [entry.reviewStatus for entry in entries]
    if not set(map(type, status)) <= _NAMES or "" in status:
        status = [value if value is None or (type(value) is str and value) else text(value) for value in status]
    visits.stage, visits.ms, visits.who, visits.status = stages, ms, who, status
    visits.labeling = [
        state is None and person is not None and stage != "Start" and entry.stageId != "Start"
        for state, person, stage, entry in zip(status, who, stages, entries, strict=True)
    ]
    columns.stamps.extend([entry.completedAt for entry in entries])


def _legacy(columns: Columns) -> None:
    """The legacy generation, record by record (its tasks and reviews become visits)."""
    visits = columns.visits
    scope = 0
    for i, asset in enumerate(columns.assets):
        tasks = asset.tasks or []
        columns.stages.append(text(asset.status) or "(none)")
        columns.stamps += (asset.labeledAt, asset.reviewedAt)
        first = tasks[0] if tasks else None
        masked = False
        if first is not None:
            masked = isinstance(first.masks, list) and bool(first.masks)
            for url, part in ((first.brushDataUrl, "brush"), (first.medicalBrushDataUrl, "medical_brush")):
                if _url(url):
                    masked = True
                    columns.present.add(part)
            columns.relations += first.relations or ()
        columns.tools.append((first.objects if first is not None else None) or _NO_TOOLS)
        columns.questions.append((first.classifications if first is not None else None) or _NO_QUESTIONS)
        columns.masked.append(masked)
        total = 0.0
        timed = False
        for item in tasks:
            columns.stamps += (item.completedAt, item.updatedAt)
            if item.isSkipped is True:
                columns.skipped += 1
            duration = _first_number(item.duration_ms, item.duration)
            if duration is not None:
                total += duration
                timed = True
            visits.add(i, scope, "Label", duration, _person(item.completedBy), None)
            review = item.review
            status = text(review.status) if review is not None else None
            if review is not None and status is not None and status != "Todo":
                columns.present.add("legacy_review")
                columns.stamps.append(review.completedAt)
                review_ms = _first_number(review.duration_ms, review.duration)
                visits.add(i, scope, "Review", review_ms, _person(review.completedBy), status)
            scope += 1  # a legacy review judges its own task only
        declared = _first_number(asset.labelDuration_ms, asset.labelDuration)
        columns.totals.append(declared if declared is not None else (total if timed else None))
        columns.consensus.append(number(asset.consensus))


def _first_number(value: Any, fallback: Any) -> float | None:
    parsed = number(value)
    return number(fallback) if parsed is None else parsed


def _person(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tool_columns(columns: Columns) -> None:
    """Every tool entry of the batch with its asset, class key and kind, each in one pass."""
    tools = columns.tools
    flat = columns.flat_tools = list(chain.from_iterable(tools))
    columns.tool_asset = list(chain.from_iterable(map(repeat, range(len(tools)), map(len, tools))))
    keys = [tool.title for tool in flat]
    types = set(map(type, keys))
    if types <= _NAMES:  # (the common case: titles, some missing, whose schemaId is the key)
        if types != _STR or "" in keys:
            keys = [
                key or (schema if type(schema := tool.schemaId) is str and schema else class_key(tool))
                for key, tool in zip(keys, flat, strict=True)
            ]
    else:
        keys = [key if type(key) is str and key else class_key(tool) for key, tool in zip(keys, flat, strict=True)]
    columns.tool_keys = keys
    # `kind` inlined for the four common kinds: a call per tool costs more than the test itself
    columns.tool_kinds = [
        "bounding-box"
        if t.bounding_box and t.bounding_box != NULL_RAW
        else "polygon"
        if t.polygon and t.polygon != NULL_RAW
        else "polyline"
        if t.polyline and t.polyline != NULL_RAW
        else "point"
        if t.point and t.point != NULL_RAW
        else _rare_kind(t)
        for t in flat
    ]


def class_key(tool: Tool) -> str:
    return text(tool.title) or text(tool.schemaId) or "(untitled)"


def _rare_kind(tool: Tool) -> str:
    """The kind of an entry with none of the four common geometry keys."""
    for attribute, label in _RARE_KINDS:
        raw = getattr(tool, attribute)
        if raw and raw_present(raw):
            return label
    return "other"
