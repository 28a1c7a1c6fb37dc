"""One pass over the records, keeping only what the summary reports: O(classes + people + top_k) memory.

Definitions (the tests recompute every one of them independently from `json.load`):

* generation: `task` present → current; else `tasks` present → legacy. The final labels are
  `task.tools/classifications/relations` (current) or those of `tasks[0]` (legacy, as iMerit's scripts do).
* class key: `title`, else `schemaId`, else "(untitled)". instances = tool entries; objects = distinct
  `objectId` per asset (video/multi-page entries share one; an entry without an id is its own object).
* kind: the geometry key present (`bounding-box`, `polygon`, …), else "other".
* unlabeled asset: no tool entries, no classifications and no mask (brush, medical brush, legacy masks).
* questions: flattened by path ("Vehicle > Occluded"); answers counted per option; a tree-dropdown counts
  only its leaves (entries that are not a prefix of another); `text` questions count answers and length.
* stage visits and time: `stageHistory[]` entries by stage name; legacy tasks count as "Label" visits
  (their `duration(ms)`) and reviewed ones as "Review" visits.
* a review is an entry with `reviewStatus`; a Label-like visit is an entry without one that has a
  `completedBy` and is not the Start stage. Every Label-like visit since the previous review is judged
  by the next review (its labeler's rejection rate); first pass = the asset's first review accepted.
* rework asset: a Label-like stage visited more than once. rejected-then-unchanged: after a rejection,
  the next Label-like visit of the same stage resubmitted byte-identical tools and classifications.
* slow asset: total duration (`task.totalDuration`; legacy `labelDuration(ms)`, else the sum of its
  tasks' durations) above 3 × the median.
* a null batch name counts as "(unnamed)". Tables past their bound (`MAX_KEYS` classes, people, stages,
  batches; `MAX_QUESTIONS`; `MAX_VALUES` answers per question) fold their rarest keys into "(other)",
  so memory stays bounded whatever the export holds.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec

from ..timestamps import parse_time
from .records import (
    GEOMETRY_KINDS,
    NULL_RAW,
    QUESTION,
    AnyQuestion,
    Asset,
    HistoryEntry,
    LegacyTask,
    Relation,
    Task,
    Tool,
    children,
    raw_present,
)
from .sketch import Sketch

MAX_KEYS = 2000  # distinct classes, questions, people, stages or batches tracked; the rest is "(other)"
MAX_QUESTIONS = 1000  # distinct question paths tracked
MAX_VALUES = 100  # distinct answers tracked per question (the least frequent fold into "(other)")
OPTIONS_FOLD_AT = 5000  # (question, answer) pairs held before the first fold check
QUESTION_CACHE = 5000  # distinct raw questions whose decoded answers are kept between batches (~1-2 MB)
MAX_EXAMPLES = 50  # example names kept per anomaly (the summary shows top_k of them)
PERSON_EXACT = 256  # per-person durations kept exactly before the sketch switches to buckets
OTHER = "(other)"
SLOW_FACTOR = 3.0
_NEGATIVE_SIZE = re.compile(rb'"(?:width|height)"\s*:\s*-')
_ISO_Z = 24  # len("2023-08-23T11:36:38.027Z"): such strings compare chronologically as text
_THREE_POINTS = re.compile(rb"\s*\[[^\[]*\[[^\[]*\[[^\[]*\[")  # the outer "[" and three point "["s
_STR = frozenset({str})
_ID_TYPES = frozenset({str, int})
_FIRST = itemgetter(0)
_COMMON_KINDS = frozenset({"bounding_box", "polygon", "polyline", "point"})
_RARE_KINDS = tuple((attribute, label) for attribute, label in GEOMETRY_KINDS if attribute not in _COMMON_KINDS)


@dataclass
class Filters:
    """Narrow the pass (case-insensitive): task stage (legacy: asset status), batch name, annotator."""

    stage: str | None = None
    batch: str | None = None
    annotator: str | None = None

    def __post_init__(self) -> None:
        self.stage = self.stage.casefold() if self.stage else None
        self.batch = self.batch.casefold() if self.batch else None
        self.annotator = self.annotator.casefold() if self.annotator else None

    @property
    def active(self) -> bool:
        return bool(self.stage or self.batch or self.annotator)


def text(value: Any) -> str | None:
    """A name-like value as text: non-empty strings, and numbers (ids sometimes arrive as ints)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def number(value: Any) -> float | None:
    """A numeric value, coercing numeric strings ("100", as consensus scores come); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value else None
    if isinstance(value, str) and value.strip():
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if parsed == parsed and abs(parsed) != float("inf") else None
    return None


def answer_label(value: Any) -> str | None:
    """One answer option as the text it is counted under."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return None
    return "(object)"


def _key(table: dict[str, Any], key: str) -> str:
    return key if key in table or len(table) < MAX_KEYS else OTHER


_Events = tuple[list[str], list[tuple[str, str]], list[tuple[str, int]]]
Order = tuple[int, int]  # (segment, record within it): a record's place in the document


class RecordRef(NamedTuple):
    """An asset with neither externalId nor taskId, named by its place ("record N") once the number
    of records before it is known, which a helper process reading other segments only tells at the end."""

    segment: int
    index: int


Name = str | RecordRef


class StageStat:
    __slots__ = ("visits", "total_ms", "sketch")

    def __init__(self) -> None:
        self.visits = 0
        self.total_ms = 0.0
        self.sketch = Sketch()

    def merge(self, other: StageStat) -> None:
        self.visits += other.visits
        self.total_ms += other.total_ms
        self.sketch.merge(other.sketch)


class PersonStat:
    __slots__ = ("visits", "sketch", "reviewed", "rejected", "accepted")

    def __init__(self) -> None:
        self.visits = 0
        self.sketch = Sketch(PERSON_EXACT)
        self.reviewed = 0  # labelers: visits a review judged; reviewers: reviews given
        self.rejected = 0
        self.accepted = 0

    def judged(self, status: str) -> None:
        """A labeler's visit that a review has judged."""
        self.reviewed += 1
        self.rejected += status == "Rejected"

    def gave_review(self, status: str, duration: float | None) -> None:
        """A reviewer's review, and the time it took."""
        self.visits += 1
        self.reviewed += 1
        self.rejected += status == "Rejected"
        self.accepted += status == "Accepted"
        if duration is not None:
            self.sketch.add(duration)

    def merge(self, other: PersonStat) -> None:
        self.visits += other.visits
        self.sketch.merge(other.sketch)
        self.reviewed += other.reviewed
        self.rejected += other.rejected
        self.accepted += other.accepted


class Examples:
    """A count plus the first `MAX_EXAMPLES` names, in file order."""

    __slots__ = ("count", "entries")

    def __init__(self) -> None:
        self.count = 0
        self.entries: list[tuple[Order, Name]] = []

    @property
    def names(self) -> list[Name]:
        return [name for _, name in self.entries]

    def add(self, order: Order, name: Name) -> None:
        self.count += 1
        if len(self.entries) < MAX_EXAMPLES:
            self.entries.append((order, name))

    def merge(self, other: Examples) -> None:
        self.count += other.count
        self.entries = list(heapq.merge(self.entries, other.entries, key=_FIRST))[:MAX_EXAMPLES]


class Accumulator:
    """Feed decoded assets with `add_all`; read the figures off the attributes (see `summary`)."""

    def __init__(self, filters: Filters | None = None) -> None:
        self.filters = filters or Filters()
        self.records = 0
        # Segments: the stretches of the document this accumulator read, numbered in document order. A
        # single pass reads one; a helper process and the main one read alternate stretches and are
        # merged (`merge`), so a record's place is (segment, index) until every segment's count is known.
        self.segment = 0
        self._segment_start = 0  # `records` when the current segment began
        self.segment_records: dict[int, int] = {}  # records of the segments before the current one
        self.assets = 0
        self.generations = {"current": 0, "legacy": 0, "unknown": 0}
        self.iso_min: str | None = None
        self.iso_max: str | None = None
        self.time_min: float | None = None  # epoch seconds of non-canonical timestamps
        self.time_max: float | None = None
        self.stages: dict[str, int] = {}
        self.batches: dict[str, int] = {}
        self.sections: set[str] = set()
        # labels: per class key, in three counters (counted in C by Counter.update)
        self.class_instances: Counter[str] = Counter()
        self.class_objects: Counter[str] = Counter()
        self.class_assets: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.objects_per_asset: dict[int, int] = {}
        self.instances = 0
        self.objects = 0
        self.relations: dict[str, int] = {}
        self.masked_assets = 0
        self.unlabeled = Examples()
        self.negative_boxes = 0
        self.short_polygons = 0
        # questions: answered per path, (path, option) counts, text questions' total length
        self.answered: Counter[str] = Counter()
        self.answers: Counter[tuple[str, str]] = Counter()
        self.text_chars: dict[str, int] = {}
        self._paths: dict[tuple[str | None, str], str] = {}  # (parent path, title) -> path
        # this batch's keys, counted in C at the end of `add_all` (one Counter.update per table per batch)
        self._instance_keys: list[str] = []
        self._object_keys: list[str] = []
        self._asset_keys: list[str] = []
        self._kind_keys: list[str] = []
        # this batch's questions: parent path (None: the asset's own) and raw JSON, turned into bytes
        # all at once in `_count_questions` (a `bytes()` per question cost 3-5 µs of an asset's ~50)
        self._question_parents: list[str | None] = []
        self._raw_questions: list[msgspec.Raw] = []
        self._question_events: dict[tuple[str | None, bytes], _Events] = {}  # bounded cache
        self._options_bound = OPTIONS_FOLD_AT
        # workflow and people
        self.visits: dict[str, StageStat] = {}
        self.reviews: dict[str, dict[str, int]] = {}
        self.reviewed_assets = 0
        self.first_pass_accepted = 0
        self.rework_assets = 0
        self.skipped = 0
        self.labelers: dict[str, PersonStat] = {}
        self.reviewers: dict[str, PersonStat] = {}
        # consensus
        self.consensus = Sketch()
        self.consensus_bins = [0, 0, 0, 0, 0]
        self.consensus_classes: dict[str, list[float]] = {}  # key -> [n, sum]
        # anomalies
        self.durations = Sketch()
        self.longest: list[tuple[float, Order, Name]] = []  # min-heap of (ms, negated order, name)
        self.empty_complete = Examples()
        self.rejected_unchanged = Examples()

    # ---- entry ---------------------------------------------------------------------------------
    def add_all(self, assets: Iterable[Asset]) -> None:
        for asset in assets:
            self.add(asset)
        self.flush()

    def flush(self) -> None:
        """Count the batch's answers, and fold the rarest keys of any table over its bound."""
        if self._raw_questions:
            self._count_questions()
        for table, pending in (
            (self.class_instances, self._instance_keys),
            (self.class_objects, self._object_keys),
            (self.class_assets, self._asset_keys),
            (self.kinds, self._kind_keys),
        ):
            if pending:
                table.update(pending)
                pending.clear()
        # Tables are folded back to their bound only when they pass 1.5x of it, so a fold runs rarely.
        if len(self.class_instances) > MAX_KEYS * 3 // 2:
            _fold(self.class_instances, (self.class_objects, self.class_assets), MAX_KEYS)
        if len(self.answered) > MAX_QUESTIONS * 3 // 2:
            dropped = _fold(self.answered, (), MAX_QUESTIONS)
            for pair in [pair for pair in self.answers if pair[0] in dropped]:
                self.answers[(OTHER, OTHER)] += self.answers.pop(pair)
            for path in dropped & self.text_chars.keys():
                del self.text_chars[path]
        if len(self.answers) > self._options_bound:
            _fold_options(self.answers)
            self._options_bound = max(OPTIONS_FOLD_AT, 2 * len(self.answers))
        if len(self._paths) > 4 * MAX_QUESTIONS:
            self._paths.clear()

    def name_of(self, name: Name) -> str:
        """A name as shown: a nameless record becomes "record N", N counting every record before it."""
        if not isinstance(name, RecordRef):
            return name
        counts = self._segment_counts()
        return f"record {sum(n for segment, n in counts.items() if segment < name.segment) + name.index}"

    def _segment_counts(self) -> dict[int, int]:
        counts = dict(self.segment_records)
        counted = self.records - self._segment_start
        if counted:
            counts[self.segment] = counts.get(self.segment, 0) + counted
        return counts

    def merge(self, other: Accumulator) -> None:
        """Fold in what `other` counted from other segments of the same document (same filters).

        The result is the one pass's, figure for figure, while no table passes its bound: past
        `MAX_KEYS`, which keys fold into "(other)" depends on the order they were met in either way.
        """
        self.flush()
        other.flush()
        counts = self._segment_counts()
        for segment, n in other._segment_counts().items():
            counts[segment] = counts.get(segment, 0) + n
        self.segment_records = counts
        self.records += other.records
        self._segment_start = self.records
        self.assets += other.assets
        _add_counts(self.generations, other.generations)
        self.iso_min = _extreme(min, self.iso_min, other.iso_min)
        self.iso_max = _extreme(max, self.iso_max, other.iso_max)
        self.time_min = _extreme(min, self.time_min, other.time_min)
        self.time_max = _extreme(max, self.time_max, other.time_max)
        _add_counts(self.stages, other.stages)
        _add_counts(self.batches, other.batches)
        self.sections |= other.sections
        for table, theirs in (
            (self.class_instances, other.class_instances),
            (self.class_objects, other.class_objects),
            (self.class_assets, other.class_assets),
            (self.kinds, other.kinds),
            (self.answered, other.answered),
            (self.answers, other.answers),
        ):
            table.update(theirs)
        for objects, n in other.objects_per_asset.items():
            self.objects_per_asset[objects] = self.objects_per_asset.get(objects, 0) + n
        self.instances += other.instances
        self.objects += other.objects
        _add_counts(self.relations, other.relations)
        self.masked_assets += other.masked_assets
        self.unlabeled.merge(other.unlabeled)
        self.negative_boxes += other.negative_boxes
        self.short_polygons += other.short_polygons
        for path, chars in other.text_chars.items():
            self.text_chars[path] = self.text_chars.get(path, 0) + chars
        for stage, stat in other.visits.items():
            _merged(self.visits, stage, StageStat).merge(stat)
        for stage, statuses in other.reviews.items():
            _add_counts(self.reviews.setdefault(_key(self.reviews, stage), {}), statuses)
        self.reviewed_assets += other.reviewed_assets
        self.first_pass_accepted += other.first_pass_accepted
        self.rework_assets += other.rework_assets
        self.skipped += other.skipped
        for mine, theirs in ((self.labelers, other.labelers), (self.reviewers, other.reviewers)):
            for who, person in theirs.items():
                _merged(mine, who, PersonStat).merge(person)
        self.consensus.merge(other.consensus)
        self.consensus_bins = [a + b for a, b in zip(self.consensus_bins, other.consensus_bins, strict=True)]
        for key, (n, total) in other.consensus_classes.items():
            stat = self.consensus_classes.setdefault(_key(self.consensus_classes, key), [0, 0.0])
            stat[0] += n
            stat[1] += total
        self.durations.merge(other.durations)
        self.longest = heapq.nlargest(MAX_EXAMPLES, self.longest + other.longest)
        heapq.heapify(self.longest)
        self.empty_complete.merge(other.empty_complete)
        self.rejected_unchanged.merge(other.rejected_unchanged)
        self.flush()  # fold any table the two sides together took past its bound

    def start_segment(self, segment: int) -> None:
        """The records that follow belong to `segment` (numbers increase in document order)."""
        counted = self.records - self._segment_start
        if counted:
            self.segment_records[self.segment] = self.segment_records.get(self.segment, 0) + counted
        self.segment = segment
        self._segment_start = self.records

    def _order(self) -> Order:
        return (self.segment, self.records - self._segment_start)

    def add(self, asset: Asset) -> None:
        self.records += 1
        task = asset.task
        legacy = asset.tasks if task is None else None
        if self.filters.active and not self._passes(asset, task, legacy):
            return
        self.assets += 1
        name = text(asset.externalId) or (text(task.taskId) if task is not None else None) or RecordRef(*self._order())
        batches = asset.batches
        if isinstance(batches, list):
            for batch in batches:
                label = "(unnamed)" if batch is None else text(batch)
                if label is not None:
                    key = _key(self.batches, label)
                    self.batches[key] = self.batches.get(key, 0) + 1
        if raw_present(asset.metadata):
            self.sections.add("metadata")
        if task is not None:
            self.generations["current"] += 1
            self._current(asset, task, name)
        elif legacy is not None:
            self.generations["legacy"] += 1
            self._legacy(asset, legacy, name)
        else:
            self.generations["unknown"] += 1
            self._stage("(none)")
            self._labels((), (), (), False, name)

    def _passes(self, asset: Asset, task: Task | None, legacy: list[LegacyTask] | None) -> bool:
        wanted = self.filters
        if wanted.stage:
            names = (task.stage, task.stageId) if task is not None else (asset.status,)
            if not any(isinstance(n, str) and n.casefold() == wanted.stage for n in names):
                return False
        if wanted.batch:
            batches = asset.batches if isinstance(asset.batches, list) else ()
            if not any(isinstance(b, str) and b.casefold() == wanted.batch for b in batches):
                return False
        if wanted.annotator:
            people: list[Any] = []
            if task is not None:
                people = [entry.completedBy for entry in task.stageHistory or ()]
            for item in legacy or ():
                people.append(item.completedBy)
                if item.review is not None:
                    people.append(item.review.completedBy)
            if not any(isinstance(p, str) and p.casefold() == wanted.annotator for p in people):
                return False
        return True

    # ---- small helpers -------------------------------------------------------------------------
    def _stage(self, name: str) -> None:
        key = _key(self.stages, name)
        self.stages[key] = self.stages.get(key, 0) + 1

    def _when(self, value: Any) -> None:
        if isinstance(value, str) and len(value) == _ISO_Z and value[-1] == "Z" and value[10] == "T":
            if self.iso_min is None or value < self.iso_min:
                self.iso_min = value
            if self.iso_max is None or value > self.iso_max:
                self.iso_max = value
            return
        parsed = parse_time(value)
        if parsed is None:
            return
        seconds = parsed.timestamp()
        if self.time_min is None or seconds < self.time_min:
            self.time_min = seconds
        if self.time_max is None or seconds > self.time_max:
            self.time_max = seconds

    def _visit(self, stage: str, duration: float | None) -> None:
        stat = self.visits.get(stage) or _merged(self.visits, stage, StageStat)
        stat.visits += 1
        if duration is not None:
            stat.total_ms += duration
            stat.sketch.add(duration)

    def _review(self, stage: str, status: str) -> None:
        key = _key(self.reviews, stage)
        counts = self.reviews.setdefault(key, {})
        counts[status] = counts.get(status, 0) + 1

    def _total_duration(self, value: float | None, name: Name) -> None:
        if value is None or value < 0:
            return
        self.durations.add(value)
        segment, index = self._order()
        entry = (value, (-segment, -index), name)  # equal durations: the earlier record ranks first
        if len(self.longest) < MAX_EXAMPLES:
            heapq.heappush(self.longest, entry)
        elif entry > self.longest[0]:
            heapq.heapreplace(self.longest, entry)

    def _consensus(self, value: Any) -> None:
        score = number(value)
        if score is None:
            return
        self.sections.add("consensus")
        self.consensus.add(score)
        self.consensus_bins[min(4, max(0, int(score // 20)))] += 1

    # ---- the current generation ----------------------------------------------------------------
    def _current(self, asset: Asset, task: Task, name: Name) -> None:
        stage = text(task.stage) or text(task.stageId) or "(none)"
        self._stage(stage)
        self._when(task.updatedAt)
        brush = isinstance(task.brushDataUrl, str) and bool(task.brushDataUrl)
        medical = isinstance(task.medicalBrushDataUrl, str) and bool(task.medicalBrushDataUrl)
        if brush:
            self.sections.add("brush")
        if medical:
            self.sections.add("medical_brush")
        unlabeled = self._labels(
            task.tools or (), task.classifications or (), task.relations or (), brush or medical, name
        )
        if unlabeled and "Complete" in (task.stageId, task.stage):
            self.empty_complete.add(self._order(), name)
        if task.stageHistory is not None:
            self.sections.add("history")
            self._history(task.stageHistory, name)
        self._total_duration(number(task.totalDuration), name)
        self._consensus(task.consensusAverage)
        for detail in task.consensusDetailed or ():
            score = number(detail.score)
            if score is None:
                continue
            key = _key(self.consensus_classes, text(detail.title) or text(detail.schemaId) or "(untitled)")
            stat = self.consensus_classes.setdefault(key, [0, 0.0])
            stat[0] += 1
            stat[1] += score

    def _history(self, entries: list[HistoryEntry], name: Name) -> None:
        label_visits: dict[str, int] = {}
        awaiting: list[PersonStat] = []  # labelers whose visits the next review judges
        last_label: tuple[str, HistoryEntry] | None = None
        after_rejection: tuple[str, HistoryEntry] | None = None
        first_review = True
        unchanged = False
        for entry in entries:
            stage = entry.stage
            if type(stage) is not str or not stage:
                stage = text(stage) or text(entry.stageId) or "(unknown)"
            duration = entry.duration
            if type(duration) is not int and type(duration) is not float:
                duration = number(duration)
            self._visit(stage, duration)
            self._when(entry.completedAt)
            who = entry.completedBy
            if type(who) is not str or not who:
                who = None
            status = entry.reviewStatus
            if status is not None and (type(status) is not str or not status):
                status = text(status)
            if status is not None:
                self._review(stage, status)
                if first_review:
                    first_review = False
                    self.reviewed_assets += 1
                    self.first_pass_accepted += status == "Accepted"
                if who is not None:
                    _merged(self.reviewers, who, PersonStat).gave_review(status, duration)
                for labeler in awaiting:
                    labeler.judged(status)
                awaiting = []
                if status == "Rejected":
                    after_rejection = last_label
            elif who is not None and entry.stageId != "Start" and stage != "Start":
                label_visits[stage] = label_visits.get(stage, 0) + 1
                labeler = _merged(self.labelers, who, PersonStat)
                labeler.visits += 1
                if duration is not None:
                    labeler.sketch.add(duration)
                awaiting.append(labeler)
                if after_rejection is not None:
                    before_stage, before = after_rejection
                    if (
                        before_stage == stage
                        and entry.tools == before.tools
                        and entry.classifications == before.classifications
                    ):
                        unchanged = True
                    after_rejection = None
                last_label = (stage, entry)
        if any(count > 1 for count in label_visits.values()):
            self.rework_assets += 1
        if unchanged:
            self.rejected_unchanged.add(self._order(), name)

    # ---- the legacy generation -----------------------------------------------------------------
    def _legacy(self, asset: Asset, tasks: list[LegacyTask], name: Name) -> None:
        self._stage(text(asset.status) or "(none)")
        self._when(asset.labeledAt)
        self._when(asset.reviewedAt)
        first = tasks[0] if tasks else None
        masked = False
        if first is not None:
            masks = first.masks
            masked = bool(isinstance(masks, list) and masks)
            for url, section in ((first.brushDataUrl, "brush"), (first.medicalBrushDataUrl, "medical_brush")):
                if isinstance(url, str) and url:
                    masked = True
                    self.sections.add(section)
            self._labels(first.objects or (), first.classifications or (), first.relations or (), masked, name)
        else:
            self._labels((), (), (), False, name)
        total = 0.0
        timed = False
        first_review = True
        for item in tasks:
            self._when(item.completedAt)
            self._when(item.updatedAt)
            if item.isSkipped is True:
                self.skipped += 1
            duration = number(item.duration_ms)
            if duration is None:
                duration = number(item.duration)
            if duration is not None:
                total += duration
                timed = True
            who = item.completedBy if isinstance(item.completedBy, str) and item.completedBy else None
            self._visit("Label", duration)
            labeler = _merged(self.labelers, who, PersonStat) if who is not None else None
            if labeler is not None:
                labeler.visits += 1
                if duration is not None:
                    labeler.sketch.add(duration)
            review = item.review
            status = text(review.status) if review is not None else None
            if review is None or status is None or status == "Todo":
                continue
            self.sections.add("legacy_review")
            self._when(review.completedAt)
            review_duration = number(review.duration_ms)
            if review_duration is None:
                review_duration = number(review.duration)
            self._visit("Review", review_duration)
            self._review("Review", status)
            if first_review:
                first_review = False
                self.reviewed_assets += 1
                self.first_pass_accepted += status == "Accepted"
            if labeler is not None:
                labeler.judged(status)
            reviewer_name = review.completedBy if isinstance(review.completedBy, str) and review.completedBy else None
            if reviewer_name is not None:
                _merged(self.reviewers, reviewer_name, PersonStat).gave_review(status, review_duration)
        declared = number(asset.labelDuration_ms)
        if declared is None:
            declared = number(asset.labelDuration)
        self._total_duration(declared if declared is not None else (total if timed else None), name)
        self._consensus(asset.consensus)

    # ---- labels (both generations) -------------------------------------------------------------
    def _labels(
        self,
        tools: list[Tool] | tuple[()],
        questions: Iterable[AnyQuestion],
        relations: Iterable[Relation],
        masked: bool,
        name: Name,
    ) -> bool:
        """Count one asset's final labels; True when it has none.

        The hottest code of the pass, so it works column-wise: a few list comprehensions over the tools
        and `Counter.update` (which counts in C), instead of one Python loop doing everything per tool.
        """
        entries = len(tools)
        objects = 0
        if entries:
            keys = [tool.title for tool in tools]
            if set(map(type, keys)) != _STR or "" in keys:
                keys = [
                    key if type(key) is str and key else _class_key(tool) for key, tool in zip(keys, tools, strict=True)
                ]
            ids = [tool.objectId for tool in tools]
            if not set(map(type, ids)) <= _ID_TYPES:  # an entry without a usable id is its own object
                ids = [i if type(i) in _ID_TYPES else (None, n) for n, i in enumerate(ids)]
            pairs = set(zip(keys, ids, strict=True))
            objects = len(pairs)
            self._instance_keys.extend(keys)
            self._object_keys.extend(map(_FIRST, pairs))
            self._asset_keys.extend(set(keys))
            # `_kind` inlined for the four common kinds: a call per tool cost more than the test itself
            kinds = [
                "bounding-box"
                if t.bounding_box and t.bounding_box != NULL_RAW
                else "polygon"
                if t.polygon and t.polygon != NULL_RAW
                else "polyline"
                if t.polyline and t.polyline != NULL_RAW
                else "point"
                if t.point and t.point != NULL_RAW
                else _kind(t)
                for t in tools
            ]
            self._kind_keys.extend(kinds)
            if "bounding-box" in kinds or "polygon" in kinds:
                self._shapes(tools, kinds)
            for key, tool in zip(keys, tools, strict=True):
                if tool.classifications:
                    self._question_parents.extend([key] * len(tool.classifications))
                    self._raw_questions.extend(tool.classifications)
        answered = len(questions) if isinstance(questions, list) else 0
        if answered:
            self._question_parents.extend([None] * answered)
            self._raw_questions.extend(questions)
        linked = 0
        for relation in relations:
            linked += 1
            kind = "group" if raw_present(relation.group) else (text(relation.direction) or "single")
            kind = _key(self.relations, kind)
            self.relations[kind] = self.relations.get(kind, 0) + 1
        if linked:
            self.sections.add("relations")
        self.instances += entries
        self.objects += objects
        self.objects_per_asset[objects] = self.objects_per_asset.get(objects, 0) + 1
        if masked:
            self.masked_assets += 1
        if not entries and not answered and not masked:
            self.unlabeled.add(self._order(), name)
            return True
        return False

    def _shapes(self, tools: list[Tool], kinds: list[str]) -> None:
        """Data-quality counts: boxes drawn from another corner (negative size), polygons under 3 points."""
        for tool, kind in zip(tools, kinds, strict=True):
            if kind == "bounding-box":
                if _NEGATIVE_SIZE.search(tool.bounding_box):
                    self.negative_boxes += 1
            elif kind == "polygon" and not _THREE_POINTS.match(tool.polygon):
                self.short_polygons += 1

    def _count_questions(self) -> None:
        """Count the batch's raw questions: each distinct (parent, raw question) is decoded and walked
        once (cached across batches), then its answers are counted as many times as it occurred."""
        cache = self._question_events
        raws = self._raw_questions
        # JSON text never holds a NUL byte (it would be an unescaped control character), so one join
        # and one split copy every raw question into its own `bytes` in two C calls.
        pieces = b"\x00".join(raws).split(b"\x00")
        if len(pieces) != len(raws):  # not JSON after all: copy one by one
            pieces = [bytes(raw) for raw in raws]
        for key, times in Counter(zip(self._question_parents, pieces, strict=True)).items():
            events = cache.get(key)
            if events is None:
                events = self._walk(*key)
                if len(cache) >= QUESTION_CACHE:
                    cache.clear()
                cache[key] = events
            answered, options, texts = events
            for path in answered:
                self.answered[path] += times
            for pair in options:
                self.answers[pair] += times
            for path, chars in texts:
                self.text_chars[path] = self.text_chars.get(path, 0) + chars * times
        self._raw_questions.clear()
        self._question_parents.clear()

    def _walk(self, prefix: str | None, raw: bytes) -> _Events:
        """The answers one question (and its nested ones) contributes: answered paths, (path, option)
        pairs, (path, characters) of text answers."""
        events: _Events = ([], [], [])
        try:
            question = QUESTION.decode(raw)
        except msgspec.DecodeError:  # includes ValidationError: a question that is not an object
            return events
        stack: list[tuple[str | None, AnyQuestion]] = [(prefix, question)]
        while stack:
            parent, question = stack.pop()
            title = question.title
            if type(title) is not str or not title:
                title = _question_key(question)
            path = self._paths.get((parent, title)) or self._path((parent, title))
            answer = question.answer
            if answer is not None and answer != "" and answer != []:
                self._answer(events, path, answer, question.tool)
            stack.extend((path, child) for child in children(question))
        return events

    def _path(self, key: tuple[str | None, str]) -> str:
        prefix, title = key
        path = self._paths[key] = f"{prefix} > {title}" if prefix else title
        return path

    @staticmethod
    def _answer(events: _Events, path: str, answer: Any, tool: Any) -> None:
        """One answer: a single choice, text (length only), multi-select, tree paths (leaves), other."""
        answered, options, texts = events
        answered.append(path)
        if tool == "text":
            texts.append((path, len(answer) if type(answer) is str else 0))
        elif type(answer) is list:
            for item in _leaves(answer) if tool == "tree-dropdown" else answer:
                label = item if type(item) is str else answer_label(item)
                if label is not None:
                    options.append((path, label))
        else:
            label = answer_label(answer)
            if label is not None:
                options.append((path, label))


def _add_counts(table: dict[str, int], other: dict[str, int]) -> None:
    for key, n in other.items():
        key = _key(table, key)
        table[key] = table.get(key, 0) + n


def _extreme(pick: Any, mine: Any, theirs: Any) -> Any:
    return theirs if mine is None else mine if theirs is None else pick(mine, theirs)


def _merged(table: dict[str, Any], key: str, new: Any) -> Any:
    """The entry of `table` that `key`'s figures merge into (its own, or "(other)" past the bound)."""
    stat = table.get(key)
    if stat is None:
        key = _key(table, key)
        stat = table.get(key)
        if stat is None:
            stat = table[key] = new()
    return stat


def _question_key(question: AnyQuestion) -> str:
    return text(question.title) or text(question.schemaId) or "(untitled)"


def _class_key(tool: Tool) -> str:
    return text(tool.title) or text(tool.schemaId) or "(untitled)"


def _fold(counter: Counter[str], companions: tuple[Counter[str], ...], limit: int) -> set[str]:
    """Keep the `limit - 1` most frequent keys of `counter`; fold the rest (and theirs in `companions`)
    into "(other)". Returns the folded keys."""
    keep = {key for key, _ in counter.most_common(limit - 1)} | {OTHER}
    dropped = {key for key in counter if key not in keep}
    for table in (counter, *companions):
        for key in dropped:
            if key in table:
                table[OTHER] += table.pop(key)
    return dropped


def _fold_options(answers: Counter[tuple[str, str]]) -> None:
    """Per question, keep its `MAX_VALUES - 1` most frequent options and fold the rest into "(other)"."""
    by_path: dict[str, list[tuple[int, str]]] = {}
    for (path, option), count in answers.items():
        by_path.setdefault(path, []).append((count, option))
    for path, options in by_path.items():
        if len(options) <= MAX_VALUES:
            continue
        options.sort(key=lambda item: (-item[0], item[1]))
        for count, option in options[MAX_VALUES - 1 :]:
            if option != OTHER:
                del answers[(path, option)]
                answers[(path, OTHER)] += count


def _kind(tool: Tool) -> str:
    """The tool kind: which geometry key the entry carries (most frequent first)."""
    if tool.bounding_box and raw_present(tool.bounding_box):
        return "bounding-box"
    if tool.polygon and raw_present(tool.polygon):
        return "polygon"
    if tool.polyline and raw_present(tool.polyline):
        return "polyline"
    if tool.point and raw_present(tool.point):
        return "point"
    for attribute, label in _RARE_KINDS:
        raw = getattr(tool, attribute)
        if raw and raw_present(raw):
            return label
    return "other"


def _leaves(paths: list[Any]) -> list[Any]:
    """Tree-dropdown answers list every selected node as "a / b"; keep the nodes no other one extends."""
    texts = [p for p in paths if isinstance(p, str)]
    return [p for p in paths if not (isinstance(p, str) and any(o.startswith(p + " / ") for o in texts))]
