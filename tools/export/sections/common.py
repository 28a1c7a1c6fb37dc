"""What the sections share: value coercion, bounded tables, example lists, and a record's place.

Tables are bounded so that memory stays O(classes + people + top_k) whatever the export holds: past
`MAX_KEYS` keys, a key not yet in a table is counted under "(other)".
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

MAX_KEYS = 2000  # distinct classes, people, stages, batches or relation kinds tracked; the rest is "(other)"
MAX_EXAMPLES = 50  # example names kept per list (the summary shows top_k of them)
OTHER = "(other)"
FIRST = itemgetter(0)
SECOND = itemgetter(1)
_T = TypeVar("_T")


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


def numbers(values: list[Any]) -> list[float | None]:
    """`number` of each value, without a call for each JSON number (most of them)."""
    return [
        float(value) if type(value) is int or (type(value) is float and value == value) else number(value)
        for value in values
    ]


def bounded(table: dict[str, Any], key: str) -> str:
    """The key `key` is counted under in `table`: itself, or "(other)" once the table is full."""
    return key if key in table or len(table) < MAX_KEYS else OTHER


def add_counts(table: dict[str, int], counts: Iterable[tuple[str, int]]) -> None:
    """Add (key, n) pairs to a bounded table, in order (so keys past the bound fold as met)."""
    for key, n in counts:
        key = bounded(table, key)
        table[key] = table.get(key, 0) + n


def count_into(table: dict[str, int], keys: Iterable[str]) -> None:
    """Count `keys` into a bounded table: one `Counter` in C, then one step per distinct key. Keys
    enter the table in the order they first occur, as counting them one by one would."""
    add_counts(table, Counter(keys).items())


def entry(table: dict[str, _T], key: str, new: Callable[[], _T]) -> _T:
    """The entry of `table` that `key`'s figures go to (its own, or "(other)" past the bound)."""
    found = table.get(key)
    if found is None:
        key = bounded(table, key)
        found = table.get(key)
        if found is None:
            found = table[key] = new()
    return found


class RecordRef(NamedTuple):
    """An asset with neither externalId nor taskId, named by its place ("record N") once the number
    of records before it is known, which a helper process reading other segments only tells at the end."""

    segment: int
    position: int  # its place in the segment (1: the segment's first record)


Name = str | RecordRef
Order = tuple[int, int]  # (segment, position): a record's place in the document


class Examples:
    """A count plus the first `MAX_EXAMPLES` names, in file order."""

    __slots__ = ("count", "entries")

    def __init__(self) -> None:
        self.count = 0
        self.entries: list[tuple[Order, Name]] = []

    @property
    def names(self) -> list[Name]:
        return [name for _, name in self.entries]

    def add(self, places: list[Order], name: Callable[[int], Name]) -> None:
        """Count records at `places` (in file order); `name(i)` names the i-th, asked only when kept."""
        room = MAX_EXAMPLES - len(self.entries)
        self.entries.extend((place, name(i)) for i, place in enumerate(places[:room]))
        self.count += len(places)

    def merge(self, other: Examples) -> None:
        self.count += other.count
        self.entries = list(heapq.merge(self.entries, other.entries, key=FIRST))[:MAX_EXAMPLES]
