"""Streaming the bytes of an export out of its container: a ZIP's members, gzip, or the plain file.

Everything is push-based (`feed(raw)` then `finish()`), so a local file and an HTTP download go through
the same code and a ZIP is never extracted to disk nor needs a seekable file: members are read from
their local headers in order (deflate is self-terminating, so data descriptors are fine), CRCs checked.
Decompression is bounded twice, because a small archive can inflate a thousandfold: no single call
returns more than `OUT_CHUNK` bytes, and the total output is capped (`Limits.max_decompressed_bytes`,
and `max_ratio` × the compressed input once past `ratio_floor_bytes`) so bombs stop early.

Deflate data is inflated raw by ISA-L (`isal`, zlib's interface at over twice its speed on exports) for
both containers; a gzip member's header and trailer are read here, with zlib's rules, because isal's own
gzip mode rejects some valid headers that arrive split across calls.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

try:
    from isal import isal_zlib as deflate
except ImportError:  # a platform without an isal wheel (pyproject.toml installs isal only where there is one)
    import zlib as deflate  # type: ignore[no-redef]  # the same interface: decompressobj, crc32, error

OUT_CHUNK = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
_CENTRAL = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07")
_DESCRIPTOR = b"PK\x07\x08"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_EXPORT_SUFFIXES = (".json", ".ndjson", ".jsonl")
# A gzip header's optional fields, in the order they follow its first 10 bytes, by flag bit.
_GZIP_FIELDS = ((0x4, "extra length"), (0x8, "zero-terminated"), (0x10, "zero-terminated"), (0x2, "header CRC"))


@dataclass(frozen=True)
class Limits:
    """Caps on one export read. Defaults fit a multi-GiB export and stop a bomb within seconds."""

    max_download_bytes: int = 16 << 30
    max_decompressed_bytes: int = 64 << 30
    max_ratio: int = 200
    ratio_floor_bytes: int = 256 << 20
    max_seconds: float = 1800.0


class UnpackError(Exception):
    """The container is broken, unsupported, or over a limit; the message is the sentence to show."""


OnStart = Callable[[str | None], None]
OnData = Callable[[bytes], None]
OnEnd = Callable[[], None]


class Unpacker:
    """Sniffs the container from the first bytes and pushes member starts, data and ends to callbacks."""

    def __init__(self, on_start: OnStart, on_data: OnData, on_end: OnEnd, limits: Limits) -> None:
        self._on_start = on_start
        self._on_data = on_data
        self._on_end = on_end
        self._limits = limits
        self._head = b""
        self._inner: _Plain | _Gzip | _Zip | None = None
        self.raw_bytes = 0
        self.out_bytes = 0

    @property
    def compressed(self) -> bool:
        """True once the input is known to be a ZIP or gzip (its chunks inflate several-fold)."""
        return isinstance(self._inner, (_Gzip, _Zip))

    def feed(self, raw: bytes) -> None:
        self.raw_bytes += len(raw)
        if self._inner is None:
            self._head += raw
            if len(self._head) < 4:
                return
            raw, self._head = self._head, b""
            self._inner = self._choose(raw)
        self._inner.feed(raw)

    def finish(self) -> None:
        if self._inner is None:
            raw, self._head = self._head, b""
            self._inner = self._choose(raw)
            self._inner.feed(raw)
        self._inner.finish()

    def _choose(self, head: bytes) -> _Plain | _Gzip | _Zip:
        if head.startswith(ZIP_MAGIC):
            return _Zip(self)
        if head.startswith(GZIP_MAGIC):
            return _Gzip(self)
        return _Plain(self)

    # ---- shared by the containers ------------------------------------------------------------------
    def emit(self, data: bytes) -> None:
        if not data:
            return
        self.count(len(data))
        self._on_data(data)

    def count(self, size: int) -> None:
        """Add `size` inflated bytes to the caps' tally, whether they are read or skipped (a ZIP member
        that is not an export file inflates all the same, and can be a bomb)."""
        self.out_bytes += size
        limits = self._limits
        if self.out_bytes > limits.max_decompressed_bytes:
            raise UnpackError(
                f"The export decompresses to more than {human_size(limits.max_decompressed_bytes)}, "
                "tasklens' limit; it was not summarized. Export a smaller part (by batch or stage) and pass that."
            )
        if self.out_bytes > limits.ratio_floor_bytes and self.out_bytes > limits.max_ratio * max(1, self.raw_bytes):
            raise UnpackError(
                f"The export inflates more than {limits.max_ratio}x its compressed size, which looks like a "
                "decompression bomb; it was not summarized. Re-export it from Ango Hub, or pass ango:<project_id>."
            )

    def start(self, name: str | None) -> None:
        self._on_start(name)

    def end(self) -> None:
        self._on_end()


class _Plain:
    def __init__(self, owner: Unpacker) -> None:
        self._owner = owner
        owner.start(None)

    def feed(self, raw: bytes) -> None:
        self._owner.emit(raw)

    def finish(self) -> None:
        self._owner.end()


class _Gzip:
    """gzip, including several concatenated members (as `gzip -c a b` writes).

    Each member is a header, raw deflate data and a trailer (CRC-32 and length of the output). The header
    is checked as zlib checks it and as soon as zlib would: the magic once 2 bytes are in, the method and
    the reserved flags once 4 are, then FEXTRA, FNAME and FCOMMENT are skipped as they stream past and
    FHCRC is compared with the CRC of the header bytes.
    """

    def __init__(self, owner: Unpacker) -> None:
        self._owner = owner
        self._compressed = 0
        self._buf = b""
        self._state = "header"  # header → data → trailer, then header again for a next member
        self._fields: list[str] | None = None  # the header's optional fields still to read, once its flags are known
        self._skip = 0  # bytes of FEXTRA still to skip
        self._header_crc = 0
        self._inflate: Any = None  # the raw deflate decompressor of the current member
        self._full = False  # the last inflate call filled OUT_CHUNK: the decompressor may hold more output
        self._crc = 0
        self._size = 0
        self._between = False  # a member has just ended and no byte of another has arrived
        owner.start(None)

    def feed(self, raw: bytes) -> None:
        self._compressed += len(raw)
        self._buf += raw
        if raw:
            self._between = False
        try:
            while self._step():
                pass
        except deflate.error:  # type: ignore[misc]  # isal's stub types `error` as an instance
            raise self._corrupt() from None

    def _corrupt(self) -> UnpackError:
        return UnpackError(f"The gzip data is corrupt near compressed byte {self._compressed}; re-download the export.")

    def _step(self) -> bool:
        """Advance the state machine once; False when more bytes are needed."""
        if self._state == "header":
            return self._header()
        if self._state == "data":
            return self._data()
        return self._trailer()

    def _take(self, count: int) -> None:
        self._header_crc = deflate.crc32(self._buf[:count], self._header_crc)
        self._buf = self._buf[count:]

    def _header(self) -> bool:
        buf = self._buf
        if self._fields is None:
            if len(buf) >= 2 and buf[:2] != GZIP_MAGIC:
                raise self._corrupt()
            if len(buf) >= 4 and (buf[2] != 8 or buf[3] & 0xE0):
                raise self._corrupt()
            if len(buf) < 10:
                return False
            self._fields = [field for bit, field in _GZIP_FIELDS if buf[3] & bit]
            self._header_crc = 0
            self._take(10)
            return True
        if not self._fields:
            self._fields = None
            self._inflate = deflate.decompressobj(-15)
            self._full = False
            self._crc = self._size = 0
            self._state = "data"
            return True
        field = self._fields[0]
        if field == "extra length":
            if len(buf) < 2:
                return False
            self._skip = int.from_bytes(buf[:2], "little")
            self._take(2)
            self._fields[0] = "extra"
        elif field == "extra":
            count = min(self._skip, len(buf))
            self._take(count)
            self._skip -= count
            if self._skip:
                return False
            self._fields.pop(0)
        elif field == "zero-terminated":
            end = buf.find(b"\0")
            self._take(len(buf) if end < 0 else end + 1)
            if end < 0:
                return False
            self._fields.pop(0)
        else:  # header CRC
            if len(buf) < 2:
                return False
            if int.from_bytes(buf[:2], "little") != self._header_crc & 0xFFFF:
                raise self._corrupt()
            self._buf = buf[2:]
            self._fields.pop(0)
        return True

    def _data(self) -> bool:
        if not self._buf and not self._full:
            return False
        out = self._inflate.decompress(self._buf, OUT_CHUNK)
        self._full = len(out) >= OUT_CHUNK
        self._buf = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
        self._crc = deflate.crc32(out, self._crc)
        self._size += len(out)
        self._owner.emit(out)
        if self._inflate.eof:
            self._state = "trailer"
        return True

    def _trailer(self) -> bool:
        buf = self._buf
        if len(buf) >= 4 and int.from_bytes(buf[:4], "little") != self._crc:
            raise self._corrupt()
        if len(buf) < 8:
            return False
        if int.from_bytes(buf[4:8], "little") != self._size & 0xFFFFFFFF:
            raise self._corrupt()
        self._buf = buf[8:]
        self._state = "header"
        self._between = not self._buf
        return True

    def finish(self) -> None:
        if not self._between:
            raise UnpackError("The gzip data ends early (the file is truncated); re-download the export.")
        self._owner.end()


class _Zip:
    """ZIP read from its local headers: stored or deflated members, data descriptors, ZIP64 sizes."""

    def __init__(self, owner: Unpacker) -> None:
        self._owner = owner
        self._buf = b""
        self._offset = 0  # archive offset of _buf[0]
        self._state = "header"
        self._inflate: Any = None  # a raw deflate decompressor while a deflated member is being read
        self._full = False  # the last inflate call filled OUT_CHUNK: the decompressor may hold more output
        self._stored_left = 0
        self._crc = 0
        self._expected_crc: int | None = None
        self._descriptor = False
        self._zip64 = False
        self._emit = False  # is the current member an export document
        self._members = 0

    def feed(self, raw: bytes) -> None:
        self._buf += raw
        while self._step():
            pass

    def _consume(self, count: int) -> bytes:
        taken, self._buf = self._buf[:count], self._buf[count:]
        self._offset += count
        return taken

    def _step(self) -> bool:
        """Advance the state machine once; False when more bytes are needed."""
        if self._state == "header":
            return self._header()
        if self._state == "data":
            return self._data()
        if self._state == "descriptor":
            return self._read_descriptor()
        self._buf = b""  # central directory: nothing more to read
        return False

    def _header(self) -> bool:
        if len(self._buf) < 4:
            return False
        signature = self._buf[:4]
        if signature in _CENTRAL:
            self._state = "done"
            return True
        if signature != ZIP_MAGIC:
            raise UnpackError(f"The ZIP is corrupt: no member header at byte {self._offset}; re-download the export.")
        if len(self._buf) < _LOCAL.size:
            return False
        _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = _LOCAL.unpack_from(self._buf)
        total = _LOCAL.size + name_len + extra_len
        if len(self._buf) < total:
            return False
        header = self._consume(total)
        name = header[_LOCAL.size : _LOCAL.size + name_len].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = header[_LOCAL.size + name_len :]
        if flags & 0x1:
            raise UnpackError(f"The ZIP member {name!r} is encrypted; export it again without a password.")
        self._zip64 = csize == 0xFFFFFFFF or usize == 0xFFFFFFFF
        if self._zip64:
            csize = _zip64_size(extra, usize, csize)
        self._descriptor = bool(flags & 0x8)
        self._expected_crc = None if self._descriptor else crc
        self._crc = 0
        self._emit = _is_document(name)
        if method == 8:
            self._inflate = deflate.decompressobj(-15)
        elif method == 0:
            if self._descriptor and csize == 0:
                raise UnpackError(
                    f"The ZIP member {name!r} is stored without a size and cannot be streamed; re-zip it with deflate."
                )
            self._inflate = None
            self._stored_left = csize
        else:
            raise UnpackError(
                f"The ZIP member {name!r} uses compression method {method}; only stored and deflate are supported."
            )
        if self._emit:
            self._members += 1
            self._owner.start(name)
        self._state = "data"
        return True

    def _data(self) -> bool:
        if not self._buf and not (self._inflate is not None and self._full):
            return False
        if self._inflate is None:
            chunk = self._consume(min(self._stored_left, len(self._buf)))
            self._stored_left -= len(chunk)
            self._output(chunk)
            if self._stored_left == 0:
                self._end_member()
            return True
        data = self._buf
        try:
            out = self._inflate.decompress(data, OUT_CHUNK)
        except deflate.error:  # type: ignore[misc]  # isal's stub types `error` as an instance
            raise UnpackError(f"The ZIP data is corrupt near byte {self._offset}; re-download the export.") from None
        self._full = len(out) >= OUT_CHUNK
        rest = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
        self._offset += len(data) - len(rest)
        self._buf = rest
        self._output(out)
        if self._inflate.eof:
            self._end_member()
        return True

    def _output(self, out: bytes) -> None:
        if out and self._emit:
            self._crc = deflate.crc32(out, self._crc)
            self._owner.emit(out)
        elif out:
            self._owner.count(len(out))

    def _end_member(self) -> None:
        if self._descriptor:
            self._state = "descriptor"
            return
        self._close_member()

    def _read_descriptor(self) -> bool:
        size = 20 if self._zip64 else 12
        if len(self._buf) < 4:
            return False
        skip = 4 if self._buf[:4] == _DESCRIPTOR else 0
        if len(self._buf) < skip + size:
            return False
        self._expected_crc = struct.unpack_from("<I", self._buf, skip)[0]
        self._consume(skip + size)
        self._close_member()
        return True

    def _close_member(self) -> None:
        if self._emit:
            if self._expected_crc is not None and self._expected_crc != self._crc:
                raise UnpackError(
                    "A ZIP member failed its CRC check (the download is corrupt); re-download the export."
                )
            self._owner.end()
        self._state = "header"

    def finish(self) -> None:
        if self._state != "done":
            raise UnpackError(
                f"The ZIP ends early at byte {self._offset + len(self._buf)} (the file is truncated); "
                "re-download the export."
            )
        if not self._members:
            raise UnpackError("The ZIP holds no .json, .ndjson or .jsonl member; is it an Ango export?")


def human_size(count: int) -> str:
    """A byte count as the largest whole binary unit that fits (for limits in messages)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.3g} {unit}"
    return f"{count} bytes"


def _is_document(name: str) -> bool:
    lowered = name.lower()
    base = lowered.rsplit("/", 1)[-1]
    return (
        not lowered.endswith("/")
        and not lowered.startswith("__macosx/")
        and not base.startswith("._")
        and (lowered.endswith(_EXPORT_SUFFIXES) or "." not in base)
    )


def _zip64_size(extra: bytes, usize: int, csize: int) -> int:
    """The compressed size from a ZIP64 extra field (the local header's fields hold 0xFFFFFFFF)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001:
            fields = extra[pos + 4 : pos + 4 + length]
            values = [struct.unpack_from("<Q", fields, i)[0] for i in range(0, len(fields) - 7, 8)]
            index = 0
            if usize == 0xFFFFFFFF:
                index += 1
            if csize == 0xFFFFFFFF and len(values) > index:
                return values[index]
            return csize
        pos += 4 + length
    return csize
