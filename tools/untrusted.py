"""The one way tasklens reads numbers and JSON it did not write: upstream bodies, cursors, settings.

Python's own readers fail on hostile input in ways no caller expects: `json.loads` raises
`RecursionError` on a body nested a few thousand deep and `ValueError` on an integer of more than 4,300
digits, accepts `NaN` and turns `1e99999` into infinity; `str.isdigit()` accepts '²', which `int()`
then refuses. Here every such input is refused up front, within stated limits, as one exception type
(`UntrustedInput`) whose message says what was wrong, so each caller turns it into its own sentence.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused (real provider answers nest about 10 deep)."""
MAX_NUMBER_CHARS = 100
"""A JSON number written with more characters than this is refused (an id or a timestamp needs ~20)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = {ord("["): 1, ord("]"): -1}
_DIGITS = re.compile(r"[0-9]+")


class UntrustedInput(ValueError):
    """Input refused before it was used; the message is a short clause such as "nested deeper than 64"."""


def nests_deeper_than(data: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep in JSON text, told without parsing it
    (brackets inside strings do not count), in linear time and without recursion.

    Only the brackets are kept; empty pairs are dropped in a few C-speed passes while that shrinks them
    a lot (a typical body's leaves), then a running sum stops at the first level past `limit`."""
    brackets = _STRING.sub(b"", data).translate(_SQUARE, _NOT_BRACKETS)
    for _ in range(3):
        fewer = brackets.replace(b"[]", b"")
        if len(fewer) > 0.8 * len(brackets):
            break
        brackets = fewer
    return any(map(limit.__lt__, accumulate(map(_STEP.__getitem__, brackets))))


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise UntrustedInput(f"a number written with more than {MAX_NUMBER_CHARS} characters")
    return text


def _integer(text: str) -> int:
    return int(_number(text))


def _decimal(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise UntrustedInput("a number too large to represent")
    return value


def _constant(name: str) -> Any:
    raise UntrustedInput(f"{name}, which is not JSON")


def decode_json(data: bytes | str) -> Any:
    """Decode JSON text from outside tasklens, or raise `UntrustedInput` saying why it cannot be read:
    not JSON (or not UTF-8), nested deeper than `MAX_DEPTH`, a number longer than `MAX_NUMBER_CHARS`
    or out of range, or NaN/Infinity."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if nests_deeper_than(raw, MAX_DEPTH):
        raise UntrustedInput(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except UntrustedInput:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UntrustedInput("not valid JSON") from None


def whole_number(text: str | None, *, max_digits: int) -> int | None:
    """`text` as a non-negative integer if it is 1 to `max_digits` ASCII digits (spaces around allowed),
    else None. Unlike `str.isdigit()`, '²' and '٣' are not digits here, and a length bound comes first."""
    if text is None:
        return None
    text = text.strip()
    if not 0 < len(text) <= max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)
