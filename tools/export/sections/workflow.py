"""The workflow: visits and time per stage, review outcomes, first-pass acceptance, rework, skips.

A review is a visit with a status; first pass = the asset's first review accepted. A rework asset
visited a Label-like stage more than once (the current generation's history says so; legacy tasks
do not). Skips are the legacy generation's `isSkipped` tasks.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress
from typing import TYPE_CHECKING

from ..sketch import Sketch
from .columns import Columns
from .common import add_counts, bounded, entry
from .render import Rendering, name, rate, seconds, top

if TYPE_CHECKING:
    from .parts import Workflow


class StageStat:
    __slots__ = ("visits", "total_ms", "sketch")

    def __init__(self) -> None:
        self.visits = 0
        self.total_ms = 0.0
        self.sketch = Sketch()

    def add(self, durations: list[float | None]) -> None:
        """Visits, in file order, with their durations (None: not recorded)."""
        self.visits += len(durations)
        timed = [ms for ms in durations if ms is not None]
        total = self.total_ms
        for ms in timed:  # one addition after the other, in file order
            total += ms
        self.total_ms = total
        self.sketch.add_all(timed)

    def merge(self, other: StageStat) -> None:
        self.visits += other.visits
        self.total_ms += other.total_ms
        self.sketch.merge(other.sketch)


class WorkflowSection:
    def __init__(self) -> None:
        self.visits: dict[str, StageStat] = {}
        self.reviews: dict[str, dict[str, int]] = {}  # stage → status → reviews
        self.reviewed_assets = 0
        self.first_pass_accepted = 0
        self.rework_assets = 0
        self.skipped = 0

    def count(self, columns: Columns) -> None:
        self.skipped += columns.skipped
        visits = columns.visits
        if not visits.stage:
            return
        per_stage: dict[str, list[float | None]] = {}
        for stage, ms in zip(visits.stage, visits.ms, strict=True):
            durations = per_stage.get(stage)
            if durations is None:
                durations = per_stage[stage] = []
            durations.append(ms)
        for stage, durations in per_stage.items():
            entry(self.visits, stage, StageStat).add(durations)
        reviews = [
            (asset, stage, status)
            for asset, stage, status in zip(visits.asset, visits.stage, visits.status, strict=True)
            if status is not None
        ]
        for (stage, status), n in Counter((stage, status) for _, stage, status in reviews).items():
            counts = self.reviews.setdefault(bounded(self.reviews, stage), {})
            counts[status] = counts.get(status, 0) + n
        first = dict(reversed([(asset, status) for asset, _, status in reviews]))  # each asset's first review
        self.reviewed_assets += len(first)
        self.first_pass_accepted += list(first.values()).count("Accepted")
        if columns.generation == "current":
            loops = Counter(compress(zip(visits.asset, visits.stage, strict=True), visits.labeling))
            self.rework_assets += len({asset for (asset, _), n in loops.items() if n > 1})

    def merge(self, other: WorkflowSection) -> None:
        for stage, stat in other.visits.items():
            entry(self.visits, stage, StageStat).merge(stat)
        for stage, statuses in other.reviews.items():
            add_counts(self.reviews.setdefault(bounded(self.reviews, stage), {}), statuses.items())
        self.reviewed_assets += other.reviewed_assets
        self.first_pass_accepted += other.first_pass_accepted
        self.rework_assets += other.rework_assets
        self.skipped += other.skipped

    def render(self, out: Rendering) -> Workflow | None:
        from .parts import StageTime, Workflow  # only where a summary is rendered (see parts)

        if not self.visits and not self.reviews and not self.skipped:
            return None
        shown = top(self.visits, out.k, weight=lambda stat: stat.visits)
        out.cut("workflow stages", len(shown), len(self.visits))
        label = "workflow median_s/p90_s"
        stages = {
            name(stage): StageTime(
                visits=stat.visits,
                total_s=seconds(stat.total_ms) if stat.sketch.count else None,
                median_s=out.quantile_s(stat.sketch, 0.5, label),
                p90_s=out.quantile_s(stat.sketch, 0.9, label),
            )
            for stage, stat in shown
        }
        reviews = {
            name(stage): dict(top(counts, 10))
            for stage, counts in top(self.reviews, out.k, weight=lambda counts: sum(counts.values()))
        }
        accepted = sum(counts.get("Accepted", 0) for counts in self.reviews.values())
        rejected = sum(counts.get("Rejected", 0) for counts in self.reviews.values())
        return Workflow(
            stages=stages,
            reviews=reviews,
            acceptance_rate=rate(accepted, accepted + rejected),
            first_pass_rate=rate(self.first_pass_accepted, self.reviewed_assets),
            rework_assets=self.rework_assets or None,
            skipped=self.skipped or None,
        )
