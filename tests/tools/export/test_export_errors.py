"""Broken input is an error naming the byte offset and what was expected — never a partial summary."""

from __future__ import annotations

import gc
import gzip
import io
import time
import zipfile

import pytest

from support.export_fixtures import DATA, ExportGenerator, encode, wrap
from support.export_harness import read_bytes
from tasklens.tools.errors import ProviderError
from tasklens.tools.export.unpack import Limits


def _error(data: bytes, chunk: int = 1 << 16, limits: Limits | None = None) -> str:
    with pytest.raises(ProviderError) as caught:
        read_bytes(data, chunk=chunk, limits=limits)
    assert caught.value.kind in ("bad_response", "invalid_argument")
    return caught.value.for_model()


@pytest.mark.parametrize("chunk", [1 << 16, 13])
def test_the_vendors_invalid_sample_names_the_offset_and_the_missing_comma(chunk: int) -> None:
    data = (DATA / "ango_legacy_export_readme_sample.INVALID.json").read_bytes()
    message = _error(data, chunk)
    offset = data.index(b'"reviewedAt"')  # the comma is missing right before this key
    assert f"not valid JSON at byte {offset}: expected ',' or '}}'" in message
    assert "Nothing was summarized" in message


def _sample(fmt: str) -> bytes:
    return encode(ExportGenerator(3).assets(20), fmt)


@pytest.mark.parametrize("fmt", ["json", "pretty", "ndjson"])
@pytest.mark.parametrize("cut", [0.5, 0.9999])
def test_a_truncated_file_is_an_error_at_its_end(fmt: str, cut: float) -> None:
    data = _sample(fmt)
    data = data[: int(len(data) * cut)]
    if fmt == "ndjson" and data.endswith(b"\n"):
        data = data[:-1]
    message = _error(data, chunk=4096)
    assert "not valid JSON at byte" in message
    assert "truncated" in message
    assert f"byte {len(data.rstrip())}" in message or f"byte {len(data)}" in message


def test_an_array_that_is_not_closed_says_so() -> None:
    data = _sample("json")[:-1]
    assert f"at byte {len(data)}: expected ']' to close the array" in _error(data)


def test_malformed_json_in_the_middle_of_an_ndjson_file() -> None:
    lines = _sample("ndjson").split(b"\n")
    lines[7] = lines[7].replace(b'"task":', b'"task" ', 1)
    data = b"\n".join(lines)
    offset = data.index(b'"task" ') + len(b'"task" ')
    assert f"at byte {offset}: expected ':'" in _error(data)


def test_not_json_at_all() -> None:
    assert "at byte 0: expected '[' (a JSON array) or '{' (NDJSON)" in _error(b"PK this is not a zip\n")


def test_truncated_containers() -> None:
    data = _sample("json")
    zipped = wrap(data, "zip")
    assert "The ZIP ends early" in _error(zipped[: len(zipped) // 2])
    gz = wrap(data, "gz")
    assert "The gzip data ends early" in _error(gz[:-12])


def test_a_corrupt_zip_member_fails_its_crc() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("export.json", b'[{"externalId":"a"}]')
    damaged = buffer.getvalue().replace(b'"a"', b'"b"', 1)
    assert "CRC" in _error(damaged)


def test_a_zip_with_no_export_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", b"hello")
    assert "no .json, .ndjson or .jsonl member" in _error(buffer.getvalue())


def test_zip_and_gzip_bombs_stop_at_the_decompressed_size_cap() -> None:
    payload = b'[{"externalId": "' + b"x" * (24 << 20) + b'"}]'  # one 24 MiB record: ~25 KB compressed
    limits = Limits(max_decompressed_bytes=4 << 20)
    assert "decompresses to more than 4 MiB" in _error(wrap(payload, "gz"), chunk=1 << 20, limits=limits)
    assert "decompresses to more than 4 MiB" in _error(wrap(payload, "zip"), chunk=1 << 20, limits=limits)


def test_bombs_stop_at_the_expansion_ratio_with_the_default_size_cap() -> None:
    payload = gzip.compress(b" " * (40 << 20), compresslevel=9)
    limits = Limits(ratio_floor_bytes=8 << 20)  # the default floor is 256 MiB; same rule, cheaper test
    assert "inflates more than 200x" in _error(payload, chunk=1 << 20, limits=limits)


# ---- hostile whitespace: linear time, bounded buffers --------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"[" + b" " * (20 << 20) + b"]",  # whitespace after the opening bracket
        b"{" + b"\n" * (20 << 20),  # an NDJSON record left open over blank lines
        b'[{"task": {}},' + b" " * (20 << 20) + b'{"task": {}}]',  # between two records
        b'{"task": {}}\n' + b"\n" * (20 << 20) + b'{"task": {}}\n',  # between NDJSON records
    ],
)
def test_a_mebibyte_of_blank_space_is_refused_at_once(payload: bytes) -> None:
    started = time.perf_counter()
    message = _error(wrap(payload, "gz"), chunk=1 << 20)
    assert "blank space" in message
    assert time.perf_counter() - started < 2.0


def _seconds_to_read(data: bytes) -> float:
    best = float("inf")
    gc.disable()  # a collection inside one timing would be noise, not the algorithm
    try:
        for _ in range(3):
            started = time.perf_counter()
            read_bytes(data, chunk=1 << 16)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_reading_whitespace_heavy_exports_is_linear(fmt: str) -> None:
    """Records separated by runs of whitespace just under the bound: 4x the input costs at most ~5x."""
    gap = b" " * (100 << 10) if fmt == "json" else b"\n" * (100 << 10)

    def export(records: int) -> bytes:
        body = [b'{"externalId": "a%d", "task": {"stage": "Label"}}' % n for n in range(records)]
        if fmt == "json":
            return b"[" + (b"," + gap).join(body) + b"]"
        return (b"\n" + gap).join(body) + b"\n"

    small, large = _seconds_to_read(export(160)), _seconds_to_read(export(640))  # 15 and 62 MiB: past the caches
    assert large <= 5 * small + 0.05, (small, large)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b'[{"task": {"tools": [' + b"[" * 1000 + b"]" * 1000 + b"]}}]", "nested too deeply"),
        (b'[{"metadata": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b', "task": {}}]', "nested too deeply"),
        (b'[{"task": {"totalDuration": ' + b"9" * 4300 + b"}}]", "number out of range"),
        (b'[{"task": {"totalDuration": 1e99999}}]', "number out of range"),
        (b'{"task": {"totalDuration": 1e99999}}\n', "number out of range"),
    ],
)
def test_values_no_decoder_reads_are_one_sentence(payload: bytes, expected: str) -> None:
    message = _error(payload)
    assert expected in message and "Nothing was summarized" in message


def test_a_skipped_zip_member_counts_toward_the_caps() -> None:
    """A member that is not an export file is inflated to be skipped: its bytes count like any other."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.bin", b"\0" * (24 << 20))
        archive.writestr("export.json", _sample("json"))
    limits = Limits(max_decompressed_bytes=4 << 20)
    assert "decompresses to more than 4 MiB" in _error(buffer.getvalue(), chunk=1 << 20, limits=limits)


def test_a_huge_zip_directory_is_not_listed_to_size_the_work() -> None:
    from tasklens.tools.export.pipeline import MAX_LISTED_MEMBERS, unpacked_size

    def archive(members: int) -> io.BytesIO:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
            for n in range(members):
                zipped.writestr(f"m{n}", b"x" * 10)
        buffer.seek(0)
        return buffer

    small = archive(10)
    assert unpacked_size(small, len(small.getvalue())) == 100  # listed: the members' own sizes
    huge = archive(MAX_LISTED_MEMBERS + 1)
    size = len(huge.getvalue())
    assert unpacked_size(huge, size) == size  # not listed: the file's size stands in


@pytest.mark.anyio
async def test_summaries_take_turns_and_past_the_bound_are_refused_with_a_sentence() -> None:
    import anyio

    from tasklens.tools.export.pipeline import Running

    running = Running(at_once=1, waiting=1)
    order: list[str] = []

    async def read(name: str, hold: float) -> None:
        async with running.slot():
            order.append(f"{name} starts")
            await anyio.sleep(hold)
            order.append(f"{name} ends")

    async with anyio.create_task_group() as group:
        group.start_soon(read, "first", 0.05)
        await anyio.sleep(0.01)
        group.start_soon(read, "second", 0)  # waits for the first to end
        await anyio.sleep(0.01)
        with pytest.raises(ProviderError) as caught:
            async with running.slot():
                pass
    assert "2 summaries are already being read or waiting" in caught.value.for_model()
    assert order == ["first starts", "first ends", "second starts", "second ends"]
    assert running.active == 0
