"""Ango's stage history as a timeline with differences: what changed between one stage visit and the next.

Every Ango history entry carries a full copy of the task's answer at that point, so the raw history
repeats each annotation once per stage. An agent asking "what changed in review?" needs the
difference, not the copies: objects added, removed, moved (geometry), relabeled (class) or with
changed nested answers, keyed by `objectId`; and classification answers that changed, by question
path. `metadata` (who/when per object) is ignored when comparing, since it changes on every touch.

Quirks kept here: `data.taskHistory` is a list from `/task/{id}/history` but one object in the
docs' sample, so both are read; `duration` is active time in milliseconds (inferred from the
sample); `stage` is a stage id; the review outcome is not a documented entry field, so it is read
from `reviewStatus` when present and otherwise inferred only from a following rework entry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ...errors import clean_upstream_text
from ...results.budget import cut_note, token_estimate
from ...results.compact import compact_json
from ...results.history import AnswerChange, EntryChanges, HistoryEntry, HistorySummary, ObjectChange
from ...timestamps import iso_time, parse_time
from ..base import Flag, Number, Object, Text, as_text

CONCISE_TOKENS_PER_20 = 1_500  # estimated tokens of a concise result (the estimate errs high), per 20 entries
DETAILED_TOKENS_PER_24 = 8_000  # estimated tokens of a detailed result, per 24 entries
NOTE_TOKENS = 60  # room kept for the page-level note that says what did not fit
TRUNCATED_TOKENS = 12  # an entry's `truncated` field
ANSWER_OBJECTS = 100  # objects listed in one entry's answer view
VALUE_LIMIT = 120  # characters of one answer's text; a longer one is cut at a clause or word boundary

_GEOMETRY_KEYS = (
    "bounding-box",
    "rotated-bounding-box",
    "polygon",
    "polyline",
    "point",
    "segmentation",
    "pdf",
    "ner",
    "brush",
    "spline",
    "cuboid",
    "masks",
)
_POSITION_KEYS = ("page", "frame")
_REVIEW_TYPES = frozenset({"Review"})
_LABEL_TYPES = frozenset({"Label"})


class HistoryRecord(BaseModel):
    """One raw history entry; every field optional (the entry schema is only known from one sample)."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str | None, BeforeValidator(as_text)] = None
    labelTaskId: Text = None
    project: Text = None
    stage: Text = None
    duration: Number = None
    assignee: Text = None
    updatedBy: Text = None
    createdAt: Any = None
    updatedAt: Any = None
    rework: Flag = None
    isSkipped: Flag = None
    deleted: Flag = None
    reviewStatus: Text = None
    answer: Object = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> HistoryRecord:
        data = dict(payload)
        data["id"] = data.get("_id") or data.get("id")
        return cls.model_validate(data)


def history_records(value: Any) -> list[HistoryRecord]:
    """`data.taskHistory` (a list, or one object) as records, oldest first, deleted entries dropped."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    records = [HistoryRecord.from_payload(item) for item in items if isinstance(item, dict)]
    records = [r for r in records if not r.deleted]
    order = {id(r): i for i, r in enumerate(records)}
    return sorted(records, key=lambda r: (_epoch(r.createdAt), order[id(r)]))


def _epoch(value: Any) -> float:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed else float("inf")


# ---- answers as comparable facts --------------------------------------------------------------


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        text = ", ".join(_text(v) for v in value)
    elif value is None:
        text = ""
    else:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return cut_note(clean_upstream_text(text, limit=4 * VALUE_LIMIT), VALUE_LIMIT)


def flat_answers(classifications: Any, prefix: str = "") -> dict[str, str]:
    """Nested classification answers flattened to `question path → answer text`."""
    flat: dict[str, str] = {}
    for entry in _dicts(classifications):
        title = as_text(entry.get("title")) or as_text(entry.get("schemaId")) or "?"
        path = f"{prefix}{title}"
        while path in flat:  # the same question asked twice at one level
            path += "'"
        if "answer" in entry:
            flat[path] = _text(entry.get("answer"))
        flat.update(flat_answers(entry.get("classifications"), prefix=f"{path} / "))
    return flat


def geometry_kind(tool: Mapping[str, Any]) -> str | None:
    return next((key for key in _GEOMETRY_KEYS if key in tool), None)


class _Object:
    """One annotation object: every instance (frame/page) of one `objectId`, reduced to what a diff needs."""

    def __init__(self, object_id: str) -> None:
        self.id = object_id
        self.label = "?"
        self.kind: str | None = None
        self.shapes: list[str] = []
        self.answers: dict[str, str] = {}
        self.instances: list[dict[str, Any]] = []

    def add(self, tool: dict[str, Any]) -> None:
        self.label = as_text(tool.get("title")) or as_text(tool.get("schemaId")) or self.label
        self.kind = geometry_kind(tool) or self.kind
        position = [tool.get(k) for k in _POSITION_KEYS]
        geometry = {k: tool.get(k) for k in _GEOMETRY_KEYS if k in tool}
        self.shapes.append(json.dumps([position, geometry], sort_keys=True, default=str))
        self.answers.update(flat_answers(tool.get("classifications")))
        self.instances.append(tool)


def objects_of(answer: Mapping[str, Any] | None) -> dict[str, _Object]:
    objects: dict[str, _Object] = {}
    for index, tool in enumerate(_dicts((answer or {}).get("tools"))):
        object_id = as_text(tool.get("objectId")) or f"#{index}"
        objects.setdefault(object_id, _Object(object_id)).add(tool)
    return objects


def _relation_ids(answer: Mapping[str, Any] | None) -> set[str]:
    relations = _dicts((answer or {}).get("relations"))
    return {as_text(r.get("objectId")) or json.dumps(r, sort_keys=True, default=str) for r in relations}


def diff_answers(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, about: str | None = None
) -> EntryChanges | None:
    """Every change `after` makes relative to `before`; None when nothing did.

    `about` (lower case) keeps only the changes to one class or question: objects of that class, and
    answers whose question path or one of its parts is `about`."""
    old, new = objects_of(before), objects_of(after)
    changes: list[ObjectChange] = []
    for object_id, obj in new.items():
        if object_id not in old and _is_about(about, obj.label):
            changes.append(ObjectChange(change="added", object_id=object_id, label=obj.label))
    for object_id, obj in old.items():
        if object_id not in new and _is_about(about, obj.label):
            changes.append(ObjectChange(change="removed", object_id=object_id, label=obj.label))
    modified = 0
    for object_id, obj in new.items():
        prior = old.get(object_id)
        if prior is None:
            continue
        what = []
        if prior.label != obj.label:
            what.append("class")
        if sorted(prior.shapes) != sorted(obj.shapes):
            what.append("moved")
        answer_diffs = _answer_changes(prior.answers, obj.answers)
        if answer_diffs:
            what.append("answers")
        if about is not None and not (_is_about(about, prior.label) or _is_about(about, obj.label)):
            answer_diffs = [c for c in answer_diffs if _is_about_question(about, c.question)]
            what = ["answers"] if answer_diffs else []
        if what:
            modified += 1
            detail = "; ".join(
                [f"{prior.label} → {obj.label}"] * ("class" in what)
                + [f"{c.question}: {c.old or '∅'} → {c.new or '∅'}" for c in answer_diffs]
            )
            changes.append(
                ObjectChange(change=",".join(what), object_id=object_id, label=obj.label, detail=detail or None)
            )
    answers = _answer_changes(
        flat_answers((before or {}).get("classifications")), flat_answers((after or {}).get("classifications"))
    )
    if about is not None:
        answers = [c for c in answers if _is_about_question(about, c.question)]
    old_relations, new_relations = _relation_ids(before), _relation_ids(after)
    relations_added, relations_removed = len(new_relations - old_relations), len(old_relations - new_relations)
    if about is not None:
        relations_added = relations_removed = 0
    if not changes and not answers and not relations_added and not relations_removed:
        return None
    order = {"removed": 1, "added": 2}  # modifications first: they are what a review asks about
    changes.sort(key=lambda c: order.get(c.change, 0))
    added = sum(c.change == "added" for c in changes)
    removed = sum(c.change == "removed" for c in changes)
    return EntryChanges(
        added=added or None,
        removed=removed or None,
        modified=modified or None,
        answers_changed=len(answers) or None,
        relations=f"+{relations_added} -{relations_removed}" if relations_added or relations_removed else None,
        objects=changes,
        answers=answers,
    )


def _is_about(about: str | None, label: str) -> bool:
    return about is None or label.strip().lower() == about


def _is_about_question(about: str, path: str) -> bool:
    lowered = path.lower()
    return lowered == about or about in (part.strip().rstrip("'") for part in lowered.split(" / "))


def _answer_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[AnswerChange]:
    questions = list(after) + [q for q in before if q not in after]
    return [
        AnswerChange(question=q, old=before.get(q) or None, new=after.get(q) or None)
        for q in questions
        if before.get(q) != after.get(q)
    ]


def seconds(value: float | None) -> int | float | None:
    """Seconds as few digits as still say something: whole seconds from 10 s, tenths below, None for 0."""
    return _rounded(value) if value else None


def _rounded(value: float) -> int | float:
    """Whole seconds from 10 s, tenths below; an int when nothing follows the point."""
    rounded = round(value) if value >= 10 else round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def counts_of(answer: Mapping[str, Any] | None) -> dict[str, int]:
    answer = answer or {}
    counts = {
        "tools": len(_dicts(answer.get("tools"))),
        "classifications": len(_dicts(answer.get("classifications"))),
        "relations": len(_dicts(answer.get("relations"))),
    }
    return {k: v for k, v in counts.items() if v}


def answer_view(answer: Mapping[str, Any] | None, *, coordinates: bool) -> dict[str, Any] | None:
    """One entry's answer in compact form: objects (class, geometry kind, page, nested answers),
    scene answers by question path, relations; coordinates only when asked for."""
    if not answer:
        return None
    objects = []
    for obj in objects_of(answer).values():
        row: dict[str, Any] = {"id": obj.id, "class": obj.label}
        if obj.kind:
            row["kind"] = obj.kind
        pages = sorted({page for t in obj.instances if isinstance(page := t.get("page"), int)})
        if pages:
            row["pages"] = pages[:20]
        if len(obj.instances) > 1:
            row["instances"] = len(obj.instances)
        if obj.answers:
            row["answers"] = obj.answers
        if coordinates and obj.kind:
            row["geometry"] = [t.get(obj.kind) for t in obj.instances][:20]
        objects.append(row)
    relations = []
    for relation in _dicts(answer.get("relations")):
        row = {"class": as_text(relation.get("title")) or "?"}
        for key in ("from", "to"):
            if as_text(relation.get(key)):
                row[key] = as_text(relation.get(key))
        if isinstance(relation.get("group"), list):
            row["group"] = [as_text(g) for g in relation["group"] if as_text(g)]
        relations.append(row)
    view: dict[str, Any] = {"objects": objects[:ANSWER_OBJECTS]}
    if len(objects) > ANSWER_OBJECTS:
        view["truncated"] = f"{len(objects) - ANSWER_OBJECTS} more objects not shown"
    scene = flat_answers(answer.get("classifications"))
    if scene:
        view["answers"] = scene
    if relations:
        view["relations"] = relations
    return view


# ---- the timeline -------------------------------------------------------------------------------


def timeline(
    records: list[HistoryRecord],
    stages: Mapping[str, tuple[str, str | None]],
    *,
    detailed: bool,
    with_answer: Iterable[str] = (),
    about: str | None = None,
) -> tuple[list[HistoryEntry], HistorySummary]:
    """Entries (oldest first) with every change from the previous entry, and the summary over all.

    `stages` maps a stage id to (name, type); `with_answer` names the entries whose answer is shown;
    `about` (lower case) keeps only the changes to one class or question."""
    show_answer = set(with_answer)
    entries: list[HistoryEntry] = []
    active_by_stage: dict[str, float] = {}
    wall_by_stage: dict[str, float] = {}
    previous_answer: dict[str, Any] | None = None
    previous_type: str | None = None
    previous_counts: dict[str, int] = {}
    loops = 0
    outcomes: list[str | None] = []
    reviews: dict[str, dict[str, int]] = {}
    for index, record in enumerate(records):
        name, stage_type = stages.get(record.stage or "", (record.stage or "?", None))
        following = records[index + 1] if index + 1 < len(records) else None
        outcome = record.reviewStatus
        if outcome is None and stage_type in _REVIEW_TYPES and following is not None and following.rework:
            outcome = "Rejected"  # inferred: the next visit is a rework
        outcomes.append(outcome)
        if outcome is not None:
            reviewer = reviews.setdefault(record.assignee or record.updatedBy or "?", {})
            reviewer[outcome] = reviewer.get(outcome, 0) + 1
        if record.rework or (stage_type in _LABEL_TYPES and previous_type in _REVIEW_TYPES):
            loops += 1
        active = record.duration / 1000 if record.duration is not None and record.duration > 0 else None
        started, ended = parse_time(record.createdAt), parse_time(record.updatedAt)
        wall = (ended - started).total_seconds() if started and ended and ended > started else None
        if active is not None:
            active_by_stage[name] = active_by_stage.get(name, 0.0) + active
        if wall is not None:
            wall_by_stage[name] = wall_by_stage.get(name, 0.0) + wall
        counts = counts_of(record.answer)
        show_counts = counts != previous_counts or record.id in show_answer
        entries.append(
            HistoryEntry(
                history_id=record.id,
                at=iso_time(record.updatedAt) or iso_time(record.createdAt),
                stage=clean_upstream_text(name, limit=60),
                by=record.assignee or record.updatedBy,
                active_s=seconds(active),
                wall_s=seconds(wall),
                outcome=outcome,
                rework=True if record.rework else None,
                skipped=True if record.isSkipped else None,
                counts=counts if show_counts else None,
                changes=diff_answers(previous_answer, record.answer, about=about)
                if record.answer is not None
                else None,
                answer=answer_view(record.answer, coordinates=detailed) if record.id in show_answer else None,
            )
        )
        if record.answer is not None:
            previous_answer = record.answer
        previous_type = stage_type
        previous_counts = counts
    summary = HistorySummary(
        entries=len(records),
        active_s=seconds(sum(active_by_stage.values())),
        active_s_by_stage={k: _rounded(v) for k, v in active_by_stage.items()},
        wall_s_by_stage={k: _rounded(v) for k, v in wall_by_stage.items()},
        loops=loops or None,
        rejections=sum(1 for o in outcomes if o and o.lower() == "rejected") or None,
        reviews=reviews or None,
        outcome=next((o for o in reversed(outcomes) if o), None),
    )
    return entries, summary


def page_budget(entries: int, *, detailed: bool) -> float:
    """The estimated tokens a result with `entries` entries on its page may spend in all."""
    if detailed:
        return DETAILED_TOKENS_PER_24 * max(1.0, entries / 24)
    return CONCISE_TOKENS_PER_20 * max(1.0, entries / 20)


def make_concise(page: list[HistoryEntry]) -> None:
    """What concise mode leaves out by definition: wall time per visit (the summary has it by stage),
    counts of tools etc. except on the newest entry, object ids in change rows (the class and what
    changed are what a reader asks about; detailed has the ids), change counts that the listed changes
    already show (an entry whose list `fit_page` cuts says what it left out), and the history_id of
    entries that changed nothing (the id is worth keeping where there is something to drill into)."""
    for position, entry in enumerate(reversed(page)):
        entry.wall_s = None
        if entry.changes is not None:
            entry.changes.added = entry.changes.removed = entry.changes.modified = None
            entry.changes.answers_changed = None
            for change in entry.changes.objects or []:
                change.object_id = None
        if position:
            entry.counts = None
            if entry.changes is None:
                entry.history_id = None


def fit_page(page: list[HistoryEntry], budget: float) -> int:
    """List as many changes as the budget holds; returns how many were left out.

    Object changes are left out before scene answers (answers are few, and often what a review was
    about), each kind from the oldest entries first, so the newest changes stay longest. An entry that
    lost changes says how many of each kind; its history_id lists them all (the page's note says so)."""
    spent = sum(token_estimate(compact_json(entry)) for entry in page)
    dropped: dict[int, Counter[str]] = {}
    for kind in ("objects", "answers"):
        for index, entry in enumerate(page):
            if spent <= budget:
                break
            changes = entry.changes
            listed: list[Any] = list(getattr(changes, kind) or []) if changes else []
            if changes is None or not listed:
                continue
            if index not in dropped:
                spent += TRUNCATED_TOKENS  # the note, and the counts that say what the list no longer shows
            while spent > budget and listed:
                change = listed.pop()
                spent -= token_estimate(compact_json(change)) + 1
                what = change.change if isinstance(change, ObjectChange) else "answer"
                dropped.setdefault(index, Counter())["modified" if "," in what else what] += 1
            setattr(changes, kind, listed or None)
    for index, counts in dropped.items():
        changes = page[index].changes
        assert changes is not None  # only entries with listed changes lose some
        changes.truncated = "not listed: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    return sum(sum(counts.values()) for counts in dropped.values())
