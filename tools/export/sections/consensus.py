"""Consensus scores: how many assets are scored, the average, median and 20-point histogram, and the
classes with the lowest average (string scores are coerced; an empty string is no score)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sketch import Sketch
from .columns import Columns
from .common import entry
from .render import Rendering, name

if TYPE_CHECKING:
    from .parts import Consensus

BINS = ("0-20", "20-40", "40-60", "60-80", "80-100")


class ConsensusSection:
    def __init__(self) -> None:
        self.scores = Sketch()
        self.bins = [0] * len(BINS)
        self.classes: dict[str, list[float]] = {}  # class key → [scores, their sum]

    def count(self, columns: Columns) -> None:
        scores = [score for score in columns.consensus if score is not None]
        if scores:
            self.scores.add_all(scores)
            for score in scores:
                self.bins[min(4, max(0, int(score // 20)))] += 1
        for key, score in columns.consensus_classes:
            stat = entry(self.classes, key, _new_class)
            stat[0] += 1
            stat[1] += score

    def merge(self, other: ConsensusSection) -> None:
        self.scores.merge(other.scores)
        self.bins = [a + b for a, b in zip(self.bins, other.bins, strict=True)]
        for key, (n, total) in other.classes.items():
            stat = entry(self.classes, key, _new_class)
            stat[0] += n
            stat[1] += total

    def render(self, out: Rendering) -> Consensus | None:
        from .parts import Consensus  # only where a summary is rendered (see parts)

        sketch = self.scores
        if not sketch.count:
            return None
        median = sketch.quantile(0.5)
        if sketch.approximate:
            out.approximate.append("consensus median")
        averages = {key: total / n for key, (n, total) in self.classes.items() if n}
        lowest = sorted(averages.items(), key=lambda kv: (kv[1], kv[0]))[: out.k]
        return Consensus(
            scored=sketch.count,
            average=round(sketch.total / sketch.count, 1),
            median=round(median or 0.0, 1),
            histogram=dict(zip(BINS, self.bins, strict=True)),
            lowest_classes={name(key): round(value, 1) for key, value in lowest},
        )


def _new_class() -> list[float]:
    return [0, 0.0]
