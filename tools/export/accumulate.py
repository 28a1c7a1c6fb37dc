"""One pass over the records, keeping only what the summary reports: O(classes + people + top_k) memory.

The `Accumulator` reads records and composes the summary's sections (`sections/`): each section counts
its own figures, merges another instance of itself, and renders its part of the summary. Records are
held until the end of a batch (`flush`, which `add_all` calls), then read into columns once
(`sections.columns`, where what a record says is defined) and counted by every section from them.

Filters narrow the pass: task stage (legacy: asset status), batch name, or annotator (someone who
completed a stage of the asset, or a legacy task or review), compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .records import Asset, LegacyTask, Task
from .sections.anomalies import AnomaliesSection
from .sections.columns import read
from .sections.common import Name, RecordRef
from .sections.consensus import ConsensusSection
from .sections.labels import LabelsSection
from .sections.overview import OverviewSection
from .sections.people import PeopleSection
from .sections.questions import QuestionsSection
from .sections.workflow import WorkflowSection


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


class Accumulator:
    """Feed decoded assets with `add_all`; `summary.build_summary` renders the sections."""

    def __init__(self, filters: Filters | None = None) -> None:
        self.filters = filters or Filters()
        self.records = 0
        # Segments: the stretches of the document this accumulator read, numbered in document order. A
        # single pass reads one; a helper process and the main one read alternate stretches and are
        # merged (`merge`), so a record's place is (segment, position) until every segment's count is known.
        self.segment = 0
        self._segment_start = 0  # `records` when the current segment began
        self.segment_records: dict[int, int] = {}  # records of the segments before the current one
        self.overview = OverviewSection()
        self.labels = LabelsSection()
        self.questions = QuestionsSection()
        self.workflow = WorkflowSection()
        self.people = PeopleSection()
        self.consensus = ConsensusSection()
        self.anomalies = AnomaliesSection()
        # the batch not counted yet: assets of one generation, with their places in the segment
        self._generation = "current"
        self._pending: list[Asset] = []
        self._positions: list[int] = []

    @property
    def assets(self) -> int:
        """Assets that passed the filters so far."""
        return self.overview.assets + len(self._pending)

    # ---- entry ---------------------------------------------------------------------------------
    def add_all(self, assets: Iterable[Asset]) -> None:
        batch = assets if isinstance(assets, list) else list(assets)
        if self.filters.active or None in [asset.task for asset in batch]:
            for asset in batch:
                self.add(asset)
        else:  # every record an asset of the current generation, taken at once
            if self._generation != "current":
                self.flush()
                self._generation = "current"
            first = self.records - self._segment_start + 1
            self.records += len(batch)
            self._pending += batch
            self._positions += range(first, first + len(batch))
        self.flush()

    def add(self, asset: Asset) -> None:
        """Take one record (counted at the next `flush`)."""
        self.records += 1
        task = asset.task
        if self.filters.active and not self._passes(asset, task, asset.tasks if task is None else None):
            return
        generation = "current" if task is not None else "legacy" if asset.tasks is not None else "unknown"
        if generation != self._generation:
            self.flush()  # a batch holds one generation
            self._generation = generation
        self._pending.append(asset)
        self._positions.append(self.records - self._segment_start)

    def flush(self) -> None:
        """Count the records taken since the last flush."""
        if not self._pending:
            return
        columns = read(self._generation, self.segment, self._positions, self._pending)
        self._pending, self._positions = [], []
        self.overview.count(columns)
        self.labels.count(columns)
        self.questions.count(columns)
        self.workflow.count(columns)
        self.people.count(columns)
        self.consensus.count(columns)
        self.anomalies.count(columns)

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

    # ---- segments ------------------------------------------------------------------------------
    def start_segment(self, segment: int) -> None:
        """The records that follow belong to `segment` (numbers increase in document order)."""
        self.flush()
        counted = self.records - self._segment_start
        if counted:
            self.segment_records[self.segment] = self.segment_records.get(self.segment, 0) + counted
        self.segment = segment
        self._segment_start = self.records

    def name_of(self, name: Name) -> str:
        """A name as shown: a nameless record becomes "record N", N counting every record before it."""
        if not isinstance(name, RecordRef):
            return name
        counts = self._segment_counts()
        return f"record {sum(n for segment, n in counts.items() if segment < name.segment) + name.position}"

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
        self.overview.merge(other.overview)
        self.labels.merge(other.labels)
        self.questions.merge(other.questions)
        self.workflow.merge(other.workflow)
        self.people.merge(other.people)
        self.consensus.merge(other.consensus)
        self.anomalies.merge(other.anomalies)
