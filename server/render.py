"""Tool results as aligned text for a person at a terminal.

Structured content is nested JSON; a person reads it in sections. A result's short values come first as
`key  value` lines (a small object of scalars inline, as `a: 1, b: 2`), then each larger part under its
own heading, indented: an object mapping names to records of the same shape (classes, stages, people)
becomes a table whose first column, headed by the object's key, holds the names; a list of objects
becomes a table too; a list of one object is shown as its own `key  value`
lines (a table of one row would run off the screen), and any other object is a section of its own.

In a table, columns of objects and then of lists (poll_task's `ids`) come last, and a last column of
plain values or lists is never cut: it can run on without breaking the alignment. Every other cell is
cut at `CELL_LIMIT` characters; a nested object in a cell shows its plain values and how many items its
lists hold. Every string is stripped of control characters, so a value from upstream cannot move the
cursor or recolour the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

CELL_LIMIT = 60  # characters of one table cell
INLINE_LIMIT = 80  # characters of a small object shown on its key's line
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """`text` without control characters (escape sequences included), on one line."""
    return _CONTROL.sub(" ", text)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return clean(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return clean(str(value))


def render_result(data: Any) -> str:
    """A structured tool result as `key  value` lines, then one section (a table, or more lines) per part."""
    if not isinstance(data, dict):
        return scalar(data) + "\n"
    if not data:
        return "(empty result)\n"
    return "\n".join(_block(data, "")) + "\n"


def _is_plain(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _is_flat(value: Any) -> bool:
    """A list of plain values, or an object whose values are plain values or such lists."""
    if isinstance(value, list):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_is_plain(item) or _is_flat_list(item) for item in value.values())
    return False


def _is_flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_plain(item) for item in value)


def _inline(value: Any) -> str | None:
    """`value` on its key's line, or None when it needs a section of its own."""
    if _is_plain(value):
        return scalar(value)
    if _is_flat_list(value):
        return ", ".join(scalar(item) for item in value)
    if isinstance(value, dict) and _is_flat(value):
        text = pairs_text(value)
        return text if len(text) <= INLINE_LIMIT else None
    return None


def pairs_text(mapping: Mapping[Any, Any]) -> str:
    """An object on one line: `key: value, …`, lists in brackets, lists of objects as their item count."""
    parts = []
    for key, value in mapping.items():
        if _is_plain(value):
            shown = scalar(value)
        elif _is_flat_list(value):
            shown = "[" + ", ".join(scalar(item) for item in value) + "]"
        elif isinstance(value, list):
            shown = f"[{len(value)} item{'' if len(value) == 1 else 's'}]"
        else:
            shown = "{" + pairs_text(value) + "}"
        parts.append(f"{clean(str(key))}: {shown}")
    return ", ".join(parts)


def _block(mapping: Mapping[Any, Any], indent: str) -> list[str]:
    """`mapping`'s short values as aligned lines, then a headed, indented section for each larger one."""
    pairs: list[tuple[str, str]] = []
    sections: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        text = _inline(value)
        if text is None:
            sections.append((clean(str(key)), value))
        else:
            pairs.append((clean(str(key)), text))
    width = max((len(key) for key, _ in pairs), default=0)
    lines = [f"{indent}{key:<{width}}  {text}".rstrip() for key, text in pairs]
    for key, value in sections:
        if lines:
            lines.append("")
        if _is_record_map(value):  # the table's first column is headed by the key: no heading of its own
            lines += [indent + row for row in table([{key: name, **record} for name, record in value.items()])]
        else:
            lines.append(f"{indent}{key}:")
            lines += _section(value, indent + "  ")
    return lines


def _section(value: Any, indent: str) -> list[str]:
    if isinstance(value, list):
        if not all(isinstance(item, dict) for item in value):
            return [indent + scalar(value)]
        if len(value) == 1:
            return _block(value[0], indent)
        return [indent + row for row in table(value)]
    return _block(value, indent)


def _is_record_map(value: Any) -> bool:
    """Names mapped to records that a table row can hold: each record has a plain value, and its other
    values are plain lists or small objects (a count and its breakdown, say)."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(record, dict)
            and any(_is_plain(item) for item in record.values())
            and all(_is_plain(item) or _is_flat(item) for item in record.values())
            for record in value.values()
        )
    )


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of objects as aligned columns (the union of their keys, in first-seen order, columns of
    objects and then of lists last); every column but a last one of plain values or plain lists is cut
    at `CELL_LIMIT`."""
    columns: list[str] = []
    for row in rows:
        columns += [str(key) for key in row if str(key) not in columns]
    columns.sort(key=lambda column: _column_rank(rows, column))  # stable: first-seen order otherwise
    last = len(columns) - 1
    cells = [[_cell(row.get(column), cut=i < last) for i, column in enumerate(columns)] for row in rows]
    numeric = [
        all(isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool) for row in rows if c in row)
        for c in columns
    ]
    widths = [max(len(clean(column)), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return [line([clean(column) for column in columns]), *(line(values) for values in cells)]


def _column_rank(rows: list[dict[str, Any]], column: str) -> int:
    """Plain columns first, then columns of objects (always cut), then columns of lists."""
    if any(isinstance(row.get(column), list) for row in rows):
        return 2
    return 1 if any(isinstance(row.get(column), dict) for row in rows) else 0


def _cell(value: Any, *, cut: bool) -> str:
    if _is_plain(value) or _is_flat_list(value):
        text = ", ".join(scalar(item) for item in value) if isinstance(value, list) else scalar(value)
    else:
        text, cut = (pairs_text(value) if isinstance(value, dict) else scalar(value)), True
    return text if not cut or len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"
