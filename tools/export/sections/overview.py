"""The export at a glance: assets per generation, first and last timestamp, stages, batches, parts present."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from ...timestamps import parse_time
from .columns import Columns
from .common import add_counts, count_into
from .render import Rendering, name, top

_ISO_Z = 24  # len("2023-08-23T11:36:38.027Z"): such strings compare chronologically as text
_SHOWN = "%Y-%m-%dT%H:%M:%SZ"


class Overview(TypedDict):
    """The summary's top-level figures."""

    assets: int
    generation: str
    first: str | None
    last: str | None
    stages: dict[str, int]
    batches: dict[str, int]
    sections: list[str]


class OverviewSection:
    def __init__(self) -> None:
        self.generations = {"current": 0, "legacy": 0, "unknown": 0}
        self.stages: dict[str, int] = {}  # assets per stage (legacy: per status)
        self.batches: dict[str, int] = {}
        self.present: set[str] = set()  # optional parts of the export met
        self.span = Span()

    @property
    def assets(self) -> int:
        return sum(self.generations.values())

    def count(self, columns: Columns) -> None:
        self.generations[columns.generation] += len(columns)
        count_into(self.stages, columns.stages)
        count_into(self.batches, columns.batches)
        self.present |= columns.present
        self.span.add(columns.stamps)

    def merge(self, other: OverviewSection) -> None:
        for generation, n in other.generations.items():
            self.generations[generation] += n
        add_counts(self.stages, other.stages.items())
        add_counts(self.batches, other.batches.items())
        self.present |= other.present
        self.span.merge(other.span)

    def render(self, out: Rendering) -> Overview:
        generations = {generation: n for generation, n in self.generations.items() if n}
        if len(generations) == 1:
            generation = next(iter(generations))
        elif generations:
            generation = "mixed (" + ", ".join(f"{n} {kind}" for kind, n in generations.items()) + ")"
        else:
            generation = "none"
        stages = top(self.stages, out.k)
        batches = top(self.batches, out.k)
        out.cut("stages", len(stages), len(self.stages))
        out.cut("batches", len(batches), len(self.batches))
        first, last = self.span.shown()
        return Overview(
            assets=self.assets,
            generation=generation,
            first=first,
            last=last,
            stages={name(stage): n for stage, n in stages},
            batches={name(batch): n for batch, n in batches},
            sections=sorted(self.present),
        )


class Span:
    """The earliest and latest timestamp. Canonical ISO strings (`…T…Z`, milliseconds) are compared
    as text, which orders them in time without parsing each one; the others are parsed."""

    __slots__ = ("iso_min", "iso_max", "time_min", "time_max")

    def __init__(self) -> None:
        self.iso_min: str | None = None
        self.iso_max: str | None = None
        self.time_min: float | None = None  # epoch seconds of the other timestamps
        self.time_max: float | None = None

    def add(self, stamps: list[Any]) -> None:
        texts = [value for value in stamps if type(value) is str]
        iso = [value for value in texts if len(value) == _ISO_Z and value[-1] == "Z" and value[10] == "T"]
        if iso:
            self._iso(min(iso), max(iso))
        if len(iso) < len(texts):
            self._parsed(
                [value for value in texts if not (len(value) == _ISO_Z and value[-1] == "Z" and value[10] == "T")]
            )
        numbers = [value for value in stamps if type(value) is int or type(value) is float]
        if numbers:
            self._epochs(numbers)

    def _iso(self, low: str, high: str) -> None:
        if self.iso_min is None or low < self.iso_min:
            self.iso_min = low
        if self.iso_max is None or high > self.iso_max:
            self.iso_max = high

    def _time(self, low: float, high: float) -> None:
        if self.time_min is None or low < self.time_min:
            self.time_min = low
        if self.time_max is None or high > self.time_max:
            self.time_max = high

    def _parsed(self, values: list[Any]) -> None:
        times = [parsed.timestamp() for value in values if (parsed := parse_time(value)) is not None]
        if times:
            self._time(min(times), max(times))

    def _epochs(self, values: list[int | float]) -> None:
        """Epoch seconds or milliseconds: only the extremes are parsed when both are valid times, since
        the valid ones form one range (a NaN fails every comparison, so it is never picked over them)."""
        seconds = [value / 1000 if value > 10_000_000_000 else value for value in values]
        low, high = _epoch(min(seconds)), _epoch(max(seconds))
        if low is None or high is None:
            self._parsed(values)
        else:
            self._time(low, high)

    def merge(self, other: Span) -> None:
        if other.iso_min is not None and other.iso_max is not None:
            self._iso(other.iso_min, other.iso_max)
        if other.time_min is not None and other.time_max is not None:
            self._time(other.time_min, other.time_max)

    def shown(self) -> tuple[str | None, str | None]:
        lows: list[float] = []
        highs: list[float] = []
        for value, bucket in ((self.iso_min, lows), (self.iso_max, highs)):
            parsed = parse_time(value) if value else None
            if parsed is not None:
                bucket.append(parsed.timestamp())
        if self.time_min is not None and self.time_max is not None:
            lows.append(self.time_min)
            highs.append(self.time_max)
        if not lows or not highs:
            return None, None
        return (
            datetime.fromtimestamp(min(lows), UTC).strftime(_SHOWN),
            datetime.fromtimestamp(max(highs), UTC).strftime(_SHOWN),
        )


def _epoch(seconds: float) -> float | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).timestamp()
    except (OverflowError, OSError, ValueError):
        return None
