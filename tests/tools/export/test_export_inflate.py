"""isal inflates an export as zlib does: the same bytes, the same errors in the same place, the same caps.

unpack.py inflates raw deflate with isal where it is installed (zlib elsewhere) and reads gzip headers and
trailers itself. Hostile streams — cut at every header and trailer byte, bit-flipped, with trailing bytes,
bombs — go through both libraries and are compared: the bare decompressors driven the way unpack.py
drives them, ZIPs through the Unpacker with each library, and gzip through the Unpacker against zlib's own
gzip mode (wbits=31).
"""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from support.export_fixtures import ExportGenerator, encode, wrap
from tasklens.tools.export import unpack
from tasklens.tools.export.unpack import OUT_CHUNK, Limits, Unpacker, UnpackError

isal_zlib = pytest.importorskip("isal.isal_zlib")
LIBRARIES = {"zlib": zlib, "isal": isal_zlib}
DATA = encode(ExportGenerator(5).assets(6))  # ~50 KB of export JSON: ~7 KB deflated
SMALL = b'[{"externalId":"a.jpg","task":{"stage":"Complete"}}]' * 20


def _raw(data: bytes, level: int = 6) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _flips(data: bytes, count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        damaged = bytearray(data)
        damaged[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        yield bytes(damaged)


def _cuts(data: bytes, head: int, tail: int) -> Iterator[bytes]:
    """`data` cut after each of its first `head` and last `tail` bytes, and in its middle."""
    for cut in sorted({*range(1, min(head, len(data))), *range(max(1, len(data) - tail), len(data)), len(data) // 2}):
        yield data[:cut]


# ---- the bare decompressors, in unpack.py's loop ----------------------------------------------------------
def _drive(library: ModuleType, blob: bytes, feed: int, cap: int) -> tuple[list[tuple[Any, ...]], bytes]:
    """What unpack.py sees after each fed piece (output length, end of stream, bytes after it, or the
    error), and the whole output."""
    decompressor = library.decompressobj(-15)
    seen: list[tuple[Any, ...]] = []
    out = bytearray()
    for start in range(0, len(blob), feed):
        raw, full = blob[start : start + feed], True
        try:
            while (raw or full) and not decompressor.eof:
                piece = decompressor.decompress(raw, cap)
                assert len(piece) <= cap
                full = len(piece) >= cap
                out += piece
                raw = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        except library.error:
            seen.append(("error",))
            break
        seen.append((len(out), decompressor.eof, decompressor.unused_data))
    return seen, bytes(out)


ZIP_TAIL = b"PK\x07\x08" + b"\x00" * 12 + b"PK\x01\x02 the central directory"


def _raw_streams() -> Iterator[bytes]:
    streams = [
        _raw(DATA[:6000]),  # the first three are small enough for 1-byte pieces and 1-byte output caps
        _raw(DATA[:6000], 0),
        _raw(SMALL) + ZIP_TAIL,
        _raw(DATA),
        _raw(DATA, 0),  # stored blocks
        _raw(DATA, 1),
        _raw(DATA, 9),
        _raw(b""),
        _raw(b" " * 300_000, 9),  # 1000:1
        _raw(DATA) + ZIP_TAIL,  # what follows a ZIP member: a descriptor or the next header
        _raw(b"ab" * 1_000_000, 9),
        _raw(bytes(random.Random(1).randrange(4) for _ in range(200_000))),  # short codes, many pieces
    ]
    for index, stream in enumerate(streams):
        yield stream
        yield from _cuts(stream, 8, 8)
        yield from _flips(stream, 12, index)


def _inflated(stream: bytes) -> bytes:
    decompressor = zlib.decompressobj(-15)
    try:
        return decompressor.decompress(stream)
    except zlib.error:
        return b""


def _milestones(seen: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The piece where the stream failed, the piece where it ended and all that was known then."""
    failed = next((index for index, state in enumerate(seen) if state[0] == "error"), None)
    ended = next((index for index, state in enumerate(seen) if state[0] != "error" and state[1]), None)
    return failed, ended, None if ended is None else seen[ended]


@pytest.mark.parametrize(
    "feed, cap", [(1, 100), (7, 10), (37, OUT_CHUNK), (333, 1), (4096, 1000), (128 << 10, OUT_CHUNK)]
)
def test_raw_inflate_fails_and_ends_where_zlib_does(feed: int, cap: int) -> None:
    """Errors come in the same piece; the end of the stream in the same piece, with the same output and the
    same bytes after it (`unused_data`). Between pieces isal may still hold the last symbol it could decode
    until more input comes (a byte here, at most one 258-byte match), never anything zlib did not give.
    (isal also takes a few hundred bytes more input than zlib when output is capped, so `unconsumed_tail`
    differs between calls; unpack.py keeps calling while a call fills its cap, which drains both.)"""
    checked = 0
    for stream in _raw_streams():
        if (feed < 100 or cap < 100) and (len(stream) > 2_000 or len(_inflated(stream)) > 60_000):
            continue
        (got, mine), (expected, theirs) = _drive(isal_zlib, stream, feed, cap), _drive(zlib, stream, feed, cap)
        assert _milestones(got) == _milestones(expected)
        assert theirs.startswith(mine)
        for state, reference in zip(got, expected, strict=True):
            if state[0] == "error":
                break
            assert reference[0] - 258 <= state[0] <= reference[0]
        checked += 1
    assert checked > 80


def test_crc32_agrees() -> None:
    for data in (b"", b"a", DATA, DATA[:4097]):
        for start in (0, 1, 0xFFFFFFFF, 0x12345678):
            assert isal_zlib.crc32(data, start) == zlib.crc32(data, start)


# ---- the Unpacker on whole containers ------------------------------------------------------------------
def _run(data: bytes, feed: int, limits: Limits | None = None) -> tuple[Any, ...]:
    """Everything the Unpacker reports for `data` fed in `feed`-byte pieces, and where it stopped."""
    events: list[Any] = []
    reader = Unpacker(
        lambda name: events.append(("start", name)),
        lambda chunk: events.append(chunk),
        lambda: events.append("end"),
        limits or Limits(),
    )
    pieces = 0
    try:
        for start in range(0, len(data), feed):
            reader.feed(data[start : start + feed])
            pieces += 1
        reader.finish()
        error = None
    except UnpackError as caught:
        error = str(caught)
    merged: list[Any] = []
    for event in events:  # output is compared as bytes, however it was split into calls
        if isinstance(event, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += event
        else:
            merged.append(event)
    return tuple(merged), error, pieces


def _assert_same(got: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    """Identical when the read succeeds. When it fails: the same sentence in the same piece and the same
    member starts and ends; the bytes emitted before the error may differ (isal drops what a failing call
    decoded, a trailer read here is checked after its member's last bytes went out), and do not matter:
    a failed read summarizes nothing."""
    if got[1] is None or expected[1] is None:
        assert got == expected
        return
    assert got[1:] == expected[1:]
    assert [e for e in got[0] if not isinstance(e, bytes)] == [e for e in expected[0] if not isinstance(e, bytes)]


class _ZlibGzip:
    """The oracle: gzip read by zlib's own gzip mode, a `decompressobj(31)` per member, driven as unpack.py
    drives a decompressor and speaking the Unpacker's sentences, offsets included."""

    def __init__(self, owner: Unpacker) -> None:
        self._owner = owner
        self._d = zlib.decompressobj(31)
        self._compressed = 0
        owner.start(None)

    def feed(self, raw: bytes) -> None:
        self._compressed += len(raw)
        full = True
        while raw or full:
            try:
                out = self._d.decompress(raw, OUT_CHUNK)
            except zlib.error:
                raise UnpackError(
                    f"The gzip data is corrupt near compressed byte {self._compressed}; re-download the export."
                ) from None
            full = len(out) >= OUT_CHUNK
            self._owner.emit(out)
            if self._d.eof:
                raw = self._d.unused_data
                if raw:
                    self._d = zlib.decompressobj(31)
                full = False
                continue
            raw = self._d.unconsumed_tail

    def finish(self) -> None:
        if not self._d.eof:
            raise UnpackError("The gzip data ends early (the file is truncated); re-download the export.")
        self._owner.end()


def _oracle(data: bytes, feed: int, monkeypatch: pytest.MonkeyPatch, limits: Limits | None = None) -> tuple[Any, ...]:
    with monkeypatch.context() as patch:
        patch.setattr(unpack, "_Gzip", _ZlibGzip)
        return _run(data, feed, limits)


def _member(
    data: bytes,
    flags: int = 0,
    *,
    extra: bytes = b"\x01\x02extra",
    name: bytes = b"export.json",
    comment: bytes = b"exported by a test",
    header_crc: int | None = None,
    crc: int | None = None,
    size: int | None = None,
) -> bytes:
    """One gzip member with the optional header fields `flags` asks for; wrong checks when given."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 1_700_000_000) + b"\x00\x03"
    if flags & 0x4:
        header += struct.pack("<H", len(extra)) + extra
    if flags & 0x8:
        header += name + b"\x00"
    if flags & 0x10:
        header += comment + b"\x00"
    if flags & 0x2:
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF if header_crc is None else header_crc)
    trailer = struct.pack("<II", zlib.crc32(data) if crc is None else crc, len(data) if size is None else size)
    return header + _raw(data) + trailer


def _gzip_streams() -> Iterator[bytes]:
    valid = [_member(SMALL, flags) for flags in range(0x20)]  # every combination of the optional fields
    valid += [
        _member(SMALL, 0x6, extra=b""),
        _member(SMALL, 0x1E, name=b"", comment=b""),
        _member(b""),
        gzip.compress(DATA, compresslevel=6),
        gzip.compress(DATA) + _member(SMALL, 0x1E) + _member(b"") + gzip.compress(SMALL),  # `gzip -c a b c d`
    ]
    broken = [
        b"\x1f\x8c" + valid[0][2:],  # the magic
        valid[0][:2] + b"\x07" + valid[0][3:],  # the method
        *(valid[0][:3] + bytes([bit]) + valid[0][4:] for bit in (0x20, 0x40, 0x80)),  # reserved flags
        _member(SMALL, 0x2, header_crc=0x1234),
        _member(SMALL, 0x1E, header_crc=0),
        _member(SMALL, crc=zlib.crc32(SMALL) ^ 1),
        _member(SMALL, size=len(SMALL) + 1),
        *(valid[0] + tail for tail in (b"\x00", b"\x1f", b"\x1f\x8b", b"\x00" * 16, b"garbage!", b"x" * 40)),
    ]
    for index, stream in enumerate(valid + broken):
        yield stream
        yield from _cuts(stream, 48, 10)
        yield from _flips(stream, 6, index)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("feed", [1, 2, 5, 13, 64, 4096, 128 << 10])
def test_gzip_reads_as_zlibs_gzip_mode_did(library: str, feed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same output, or the same sentence with the same compressed-byte offset in the same piece — for
    every combination of header fields, cut, flip, trailing byte and concatenation, however it is split."""
    monkeypatch.setattr(unpack, "deflate", LIBRARIES[library])
    checked = 0
    for stream in _gzip_streams():
        if feed < 13 and len(stream) > 4_000:
            continue
        _assert_same(_run(stream, feed), _oracle(stream, feed, monkeypatch))
        checked += 1
    assert checked > 600


@pytest.mark.parametrize("container", ["gz", "zip"])
@pytest.mark.parametrize(
    "payload, limits, sentence",
    [
        (b"[" + b" " * (24 << 20) + b"]", Limits(max_decompressed_bytes=4 << 20), "decompresses to more than 4 MiB"),
        (b" " * (40 << 20), Limits(ratio_floor_bytes=8 << 20), "inflates more than 200x"),
    ],
)
def test_bombs_stop_at_the_same_cap_in_the_same_piece(
    container: str, payload: bytes, limits: Limits, sentence: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = wrap(payload, container)
    if container == "zip":
        with monkeypatch.context() as patch:
            patch.setattr(unpack, "deflate", zlib)
            expected = _run(data, 128 << 10, limits)
    else:
        expected = _oracle(data, 128 << 10, monkeypatch, limits)
    got = _run(data, 128 << 10, limits)
    assert sentence in got[1]
    _assert_same(got, expected)


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


def _zips() -> Iterator[bytes]:
    several = io.BytesIO()
    with zipfile.ZipFile(several, "w") as archive:
        archive.writestr("readme.txt", b"not an export", compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("part-1.json", SMALL, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("folder/", b"")
        archive.writestr("part-2.ndjson", b'{"externalId":"b"}\n', compress_type=zipfile.ZIP_STORED)
        archive.writestr("part-3.json", b"", compress_type=zipfile.ZIP_DEFLATED)
    streamed = _Unseekable()
    with zipfile.ZipFile(streamed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("a.json", "b.json"):
            with archive.open(name, "w") as member:
                member.write(DATA[:9000])
    zips = [wrap(DATA, "zip"), several.getvalue(), bytes(streamed.data)]
    for index, data in enumerate(zips):
        yield data
        yield from _cuts(data, 40, 30)
        yield from _flips(data, 16, index)
    bomb = wrap(b" " * (6 << 20), "zip")  # 1000:1: every inflate call fills OUT_CHUNK, isal reads ahead
    for at in (len(bomb) // 2, len(bomb) * 3 // 5):
        yield bomb[:at] + b"\xff" * 6 + bomb[at + 6 :]  # invalid codes after several capped calls


_NEAR = re.compile(r"corrupt near byte (\d+)")


@pytest.mark.parametrize("feed", [1, 9, 512, 128 << 10])
def test_zips_read_the_same_with_isal_and_with_zlib(feed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Members, bytes, CRC checks and sentences match. The one figure that may differ is the offset in
    "corrupt near byte N" inside deflate data: the bytes consumed before the failing call, and isal reads
    up to a few hundred bytes further ahead than zlib."""
    for data in _zips():
        if feed < 500 and len(data) > 12_000:
            continue
        got = _run(data, feed)
        with monkeypatch.context() as patch:
            patch.setattr(unpack, "deflate", zlib)
            expected = _run(data, feed)
        near = [_NEAR.search(outcome[1] or "") for outcome in (got, expected)]
        if near[0] and near[1]:
            assert 0 <= int(near[0][1]) - int(near[1][1]) <= 1024
            got, expected = (
                (events, _NEAR.sub("corrupt near byte N", error), pieces) for events, error, pieces in (got, expected)
            )
        _assert_same(got, expected)


def test_isal_inflates_where_it_is_installed() -> None:
    assert unpack.deflate is isal_zlib
