"""Reading JSON and numbers from outside: every hostile form is refused with a reason, in linear time."""

from __future__ import annotations

import gc
import json
import time

import pytest

from tasklens.tools.untrusted import MAX_DEPTH, UntrustedInput, decode_json, nests_deeper_than, whole_number


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[" * 3000 + b"]" * 3000, "nested deeper than 64"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested deeper than 64"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "nested deeper than 64"),
        (b'{"id": ' + b"9" * 5000 + b"}", "more than 100 characters"),
        (b'{"score": 1e99999}', "too large to represent"),
        (b'{"score": -1e400}', "too large to represent"),
        (b'{"score": NaN}', "NaN, which is not JSON"),
        (b"[Infinity]", "Infinity, which is not JSON"),
        (b'{"a": 1', "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_hostile_json_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(UntrustedInput, match=reason):
        decode_json(body)


def test_ordinary_json_reads_as_json_loads_does() -> None:
    document = {"a": [1, -2.5e3, 'x[{\\"]}', None, True, {"b": [[[]]]}], "id": 12345678901234567890}
    text = json.dumps(document)
    assert decode_json(text.encode()) == decode_json(text) == json.loads(text)
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert decode_json(nested) == json.loads(nested)
    # brackets inside strings (escaped quotes included) do not count as nesting
    assert decode_json(json.dumps(["[" * 1000, '"{' * 1000])) == ["[" * 1000, '"{' * 1000]


@pytest.mark.parametrize(
    "shape",
    [
        lambda n: b"[" + b"[]," * n + b"[]]",  # wide and flat
        lambda n: (b"[" * 64 + b"]" * 64) * (n // 64),  # many groups exactly at the limit
        lambda n: b'["' + b'a\\"[' * n + b'"]',  # one long string full of brackets and escapes
    ],
)
def test_the_depth_check_is_linear(shape: object) -> None:
    timings = []
    for n in (400_000, 1_600_000):  # both past the CPU caches, so only the algorithm's growth shows
        body = shape(n)  # type: ignore[operator]
        best = float("inf")
        gc.disable()  # a collection inside one timing would be noise, not the algorithm
        try:
            for _ in range(5):
                started = time.perf_counter()
                assert not nests_deeper_than(body, MAX_DEPTH)
                best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
        timings.append(best)
    assert timings[1] <= 5 * timings[0] + 0.05, timings


@pytest.mark.parametrize(
    "text, expected",
    [("42", 42), (" 7 ", 7), ("0", 0), ("²", None), ("٣", None), ("-1", None), ("1.5", None), ("", None)],
)
def test_whole_number_accepts_only_ascii_digits(text: str, expected: int | None) -> None:
    assert whole_number(text, max_digits=6) == expected


def test_whole_number_bounds_the_length_before_converting() -> None:
    assert whole_number("9" * 5000, max_digits=18) is None
    assert whole_number("9" * 7, max_digits=6) is None
    assert whole_number(None, max_digits=6) is None
