"""What rendering the sections shares: the cut and approximation notes, top-k lists, names, units.

Lists are top-k (by count, then name) and every cut is noted for the summary's one `truncated`
sentence; figures that came from the bounded sketch instead of exact values are named in `approximate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import clean_upstream_text
from ..sketch import Sketch
from .common import Examples, Name

if TYPE_CHECKING:
    from .parts import Listed

NAME_CHARS = 60  # class names, question paths, people, answers are cut to this
CONCISE_NESTED = 3  # answers per question and examples per anomaly in concise results
_V = TypeVar("_V")


class Rendering:
    """One rendering of the summary: its list lengths, and what it noted while rendering.

    `k` is the length of top-level lists, `nested` that of lists inside an entry (answers per
    question, examples); `name_of` turns a record's place into the name shown.
    """

    def __init__(self, *, k: int, detailed: bool, name_of: Callable[[Name], str]) -> None:
        self.k = k
        self.detailed = detailed
        self.nested = k if detailed else min(k, CONCISE_NESTED)
        self.name_of = name_of
        self.cuts: list[str] = []
        self.approximate: list[str] = []

    def cut(self, what: str, shown: int, total: int) -> None:
        """Note that a list shows `shown` of its `total` entries (nothing when it shows them all)."""
        if total > shown:
            self.cuts.append(f"{what} {shown} of {total}")

    def quantile_s(self, sketch: Sketch, q: float, label: str) -> float | None:
        """A duration quantile in seconds, noting `label` as approximate when the sketch estimated it."""
        value = sketch.quantile(q)
        if value is not None and sketch.approximate and label not in self.approximate:
            self.approximate.append(label)
        return seconds(value)

    def listed(self, examples: Examples, k: int) -> Listed | None:
        """A count with its first k examples (in file order); the count says how many there are in all."""
        from .parts import Listed  # only where a summary is rendered (see parts)

        if not examples.count:
            return None
        return Listed(count=examples.count, examples=[name(self.name_of(n)) for n in examples.names[:k]])


def name(value: str) -> str:
    """A name as shown: cleaned of control characters and cut to `NAME_CHARS`."""
    return clean_upstream_text(value, limit=NAME_CHARS)


def seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _count(value: Any) -> Any:
    return value


def top(table: dict[str, _V], k: int, weight: Callable[[_V], float] = _count) -> list[tuple[str, _V]]:
    """The k largest entries by weight (default: the value, a count), ties by name."""
    return sorted(table.items(), key=lambda kv: (-weight(kv[1]), kv[0]))[:k]
