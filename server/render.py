"""Tool results as aligned text for a person at a terminal.

Structured content is nested JSON. For reading, scalars become `key  value` lines (nested objects
flattened with dotted keys, lists of scalars joined with commas) and lists of objects become small
tables after them. A table's columns of lists (poll_task's `ids`) come last, and the last column is never
cut: it can run on without breaking the alignment. Anything else that does not fit a cell is shown as
compact JSON. Every string is stripped of control characters, so a value from upstream cannot move the
cursor or recolour the terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any

CELL_LIMIT = 60  # characters of one table cell
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
    """A structured tool result as `key  value` lines, then one table per list of objects."""
    if not isinstance(data, dict):
        return scalar(data) + "\n"
    if not data:
        return "(empty result)\n"
    pairs: list[tuple[str, str]] = []
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    _flatten("", data, pairs, tables)
    width = max((len(key) for key, _ in pairs), default=0)
    lines = [f"{key:<{width}}  {value}".rstrip() for key, value in pairs]
    for title, rows in tables:
        if lines:
            lines.append("")
        lines.append(f"{title}:")
        lines += ["  " + row for row in table(rows)]
    return "\n".join(lines) + "\n"


def _flatten(
    prefix: str, value: Any, pairs: list[tuple[str, str]], tables: list[tuple[str, list[dict[str, Any]]]]
) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, pairs, tables)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        tables.append((prefix, value))
    elif isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        pairs.append((prefix, ", ".join(scalar(item) for item in value)))
    else:
        pairs.append((prefix, scalar(value)))


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of objects as aligned columns (the union of their keys, in first-seen order, columns of
    lists last); every column but the last is cut at `CELL_LIMIT` characters."""
    columns: list[str] = []
    for row in rows:
        columns += [str(key) for key in row if str(key) not in columns]
    holds_lists = {column: any(isinstance(row.get(column), list) for row in rows) for column in columns}
    columns.sort(key=lambda column: holds_lists[column])  # stable: first-seen order otherwise
    cells = [[_cell(row.get(column), cut=i < len(columns) - 1) for i, column in enumerate(columns)] for row in rows]
    numeric = [
        all(isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool) for row in rows if c in row)
        for c in columns
    ]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return [line(columns), *(line(values) for values in cells)]


def _cell(value: Any, *, cut: bool) -> str:
    if isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        text = ", ".join(scalar(item) for item in value)
    else:
        text = scalar(value)
    return text if not cut or len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"
