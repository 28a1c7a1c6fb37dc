"""What deserves a look: slow assets, assets with no labels in Complete, assets rejected then resubmitted
unchanged, boxes drawn with a negative size, polygons under 3 points.

* slow asset: total duration above `SLOW_FACTOR` × the median (the slowest are named, longest first).
* rejected-then-unchanged: after a rejection, the asset's next Label-like visit is to the same stage
  as its last one before, with byte-identical tools and classifications.
* a negative box was drawn from another corner (negative width or height).
"""

from __future__ import annotations

import heapq
import json
import re
from typing import TYPE_CHECKING

from ..sketch import Sketch
from .columns import Columns, Visits
from .common import MAX_EXAMPLES, Examples, Name, Order
from .render import Rendering, name, seconds

if TYPE_CHECKING:
    from .parts import Anomalies, Slow

SLOW_FACTOR = 3.0
# Each match runs to the end of its box (boxes are joined with NUL, which JSON text never holds), so
# a box with both sizes negative counts once.
_NEGATIVE_SIZE = re.compile(rb'"(?:width|height)"\s*:\s*-[^\x00]*')
_THREE_POINTS = re.compile(rb"\s*\[[^\[]*\[[^\[]*\[[^\[]*\[")  # the outer "[" and three point "["s


class AnomaliesSection:
    def __init__(self) -> None:
        self.durations = Sketch()  # every asset's total duration
        # the longest, as a min-heap of (ms, negated place, name): equal durations rank the earlier first
        self.longest: list[tuple[float, Order, Name]] = []
        self.empty_complete = Examples()
        self.rejected_unchanged = Examples()
        self.negative_boxes = 0
        self.short_polygons = 0

    def count(self, columns: Columns) -> None:
        self._durations(columns)
        complete = [i for i in columns.empty if columns.in_complete(i)]
        self.empty_complete.add([columns.order(i) for i in complete], lambda j: columns.name(complete[j]))
        kinds = columns.tool_kinds
        if "bounding-box" in kinds:
            boxes = [
                tool.bounding_box
                for tool, kind in zip(columns.flat_tools, kinds, strict=True)
                if kind == "bounding-box"
            ]
            self.negative_boxes += len(_NEGATIVE_SIZE.findall(b"\x00".join(boxes)))
        if "polygon" in kinds:
            polygons = [tool.polygon for tool, kind in zip(columns.flat_tools, kinds, strict=True) if kind == "polygon"]
            self.short_polygons += list(map(_THREE_POINTS.match, polygons)).count(None)
        if columns.generation == "current" and "Rejected" in columns.visits.status:
            unchanged = _unchanged(columns.visits)
            self.rejected_unchanged.add([columns.order(i) for i in unchanged], lambda j: columns.name(unchanged[j]))

    def _durations(self, columns: Columns) -> None:
        timed = [(i, ms) for i, ms in enumerate(columns.totals) if ms is not None and ms >= 0]
        if not timed:
            return
        self.durations.add_all([ms for _, ms in timed])
        longest = self.longest
        if len(longest) == MAX_EXAMPLES:  # only as long as the shortest kept, or longer, can enter
            timed = [(i, ms) for i, ms in timed if ms >= longest[0][0]]
        segment, positions = columns.segment, columns.positions
        for i, ms in timed:
            place = (-segment, -positions[i])
            if len(longest) < MAX_EXAMPLES:
                heapq.heappush(longest, (ms, place, columns.name(i)))
            elif (ms, place) > longest[0][:2]:
                heapq.heapreplace(longest, (ms, place, columns.name(i)))

    def merge(self, other: AnomaliesSection) -> None:
        self.durations.merge(other.durations)
        self.longest = heapq.nlargest(MAX_EXAMPLES, self.longest + other.longest)
        heapq.heapify(self.longest)
        self.empty_complete.merge(other.empty_complete)
        self.rejected_unchanged.merge(other.rejected_unchanged)
        self.negative_boxes += other.negative_boxes
        self.short_polygons += other.short_polygons

    def render(self, out: Rendering) -> Anomalies | None:
        from ...results.compact import compact_json  # only where a summary is rendered (see parts)
        from .parts import Anomalies, Slow

        k = out.nested
        slow: list[Slow] = []
        slow_count = None
        median = self.durations.quantile(0.5)
        if median:
            threshold = SLOW_FACTOR * median
            slow_count = self.durations.count_above(threshold) or None
            if self.durations.approximate and slow_count:
                out.approximate.append("anomalies slow_count")
            ranked = sorted(self.longest, reverse=True)
            slow = [
                Slow(asset=name(out.name_of(who)), s=seconds(ms) or 0.0) for ms, _, who in ranked if ms > threshold
            ][:k]
        anomalies = Anomalies(
            slow=slow,
            slow_count=slow_count,
            empty_complete=out.listed(self.empty_complete, k),
            rejected_unchanged=out.listed(self.rejected_unchanged, k),
            negative_boxes=self.negative_boxes or None,
            short_polygons=self.short_polygons or None,
        )
        return anomalies if json.loads(compact_json(anomalies)) else None


def _unchanged(visits: Visits) -> list[int]:
    """The assets rejected then resubmitted unchanged (in batch order): around each rejection, the
    last Label-like visit before it and the first after it, in the same asset."""
    assets, stages, labeling, entries = visits.asset, visits.stage, visits.labeling, visits.entries
    found: list[int] = []
    for row, status in enumerate(visits.status):
        if status != "Rejected":
            continue
        asset = assets[row]
        if found and found[-1] == asset:
            continue
        before = row - 1
        while before >= 0 and assets[before] == asset and not labeling[before]:
            before -= 1
        after = row + 1
        while after < len(assets) and assets[after] == asset and not labeling[after]:
            after += 1
        if (
            before >= 0
            and after < len(assets)
            and assets[before] == asset
            and assets[after] == asset
            and stages[before] == stages[after]
            and entries[before].tools == entries[after].tools
            and entries[before].classifications == entries[after].classifications
        ):
            found.append(asset)
    return found
