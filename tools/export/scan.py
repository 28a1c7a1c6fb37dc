"""Cutting one export document (a JSON array or NDJSON) into records and decoding them, chunk by chunk.

msgspec decodes only complete buffers, so the stream is split first and each piece decoded after
(ango-export-format.md §5.3: split-then-decode reached 358 MiB/s JSON and 459 MiB/s NDJSON in ~23 MiB).

* **JSON array**: a key-anchored split. In valid JSON `{"` cannot occur inside a string (quotes are
  escaped), so `}` ws `,` ws `{"<first key>":` is either an element boundary or the start of a nested
  object with the same first key. Per chunk, the fast path decodes everything up to the last boundary
  as one `list[Asset]` in a single C call. When that fails, the careful path decodes piece by piece: a
  piece that is merely *truncated* met a false boundary and is extended to the next one; any other
  syntax error is real and is reported with its byte offset.
* **NDJSON** (or any `{`-led stream): the fast path is `Decoder.decode_lines` up to the last newline;
  the careful path joins lines while an object is incomplete (a pretty-printed object is retried only
  at lines that start in column 0, so a large one costs a linear scan, not a quadratic one).

`msgspec.ValidationError` subclasses `DecodeError`; it is never treated as a reason to join pieces
(that would swallow the file in quadratic time). A record that parses but has a container of the wrong
type is repaired (`Repair`) by deleting the offending field and decoding again; a record that cannot be
repaired is counted as unreadable, with its offset, and the summary says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from .records import Asset

MAX_RECORD_BYTES = 256 * 1024 * 1024  # one asset larger than this is refused (or the JSON is broken)
RESCAN = 4096  # bytes a boundary match may straddle between two reads
_FIRST_KEY = re.compile(rb'\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:')
_MALFORMED = re.compile(r"JSON is malformed: (.*) \(byte (\d+)\)")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_WS = b" \t\r\n"
_WS_RUN = re.compile(rb"[ \t\r\n]*")
_NEXT_COLUMN_0 = re.compile(rb"\n(?=[^ \t\r\n])")  # a line that starts with something in its first column
MAX_BLANK_RUN = 1 << 20  # whitespace bytes in a row inside or between records; no export has a MiB of them
_TRUNCATED = object()
_NEAR_END = 8  # a syntax error this close to the end of the data means the data was cut short
_MAX_REPAIRS = 32

Sink = Callable[[list[Asset]], None]
# Offered each region the fast path would decode in one call (whole records: an array's elements without
# the brackets, or complete lines) with its document offset and whether it is lines; True when another
# process took it (helpers.SharedRead.offload), False to decode it here.
Offload = Callable[[memoryview, int, bool], bool]


class ExportFormatError(Exception):
    """The bytes are not a readable export: `offset` is absolute in the document, `expected` says what."""

    def __init__(self, offset: int, expected: str) -> None:
        self.offset = offset
        self.expected = expected
        super().__init__(f"at byte {offset}: {expected}")


class Unreadable:
    """Records that parsed as JSON but could not be read as assets (count and first offset)."""

    def __init__(self) -> None:
        self.count = 0
        self.first_offset: int | None = None

    def add(self, offset: int) -> None:
        self.count += 1
        if self.first_offset is None:
            self.first_offset = offset


class Decoders:
    """The reusable msgspec decoders, and the repair of records whose containers have odd types."""

    def __init__(self, unreadable: Unreadable) -> None:
        self.one = msgspec.json.Decoder(Asset)
        self.many = msgspec.json.Decoder(list[Asset])
        self.unreadable = unreadable

    def piece(self, piece: bytes, offset: int) -> list[Asset] | object:
        """Decode one piece: its assets, or `_TRUNCATED` when it ends inside a value."""
        try:
            return _split_decode(piece, offset, self.one.decode, self.many.decode)
        except msgspec.ValidationError:
            return self._generic(piece, offset)

    def _generic(self, piece: bytes, offset: int) -> list[Asset] | object:
        """The slow path for records with odd types: decode untyped, then repair each record."""
        values = _split_decode(piece, offset, msgspec.json.decode, msgspec.json.decode)
        if values is _TRUNCATED:  # the typed pass stopped at a type error before the cut
            return _TRUNCATED
        assert isinstance(values, list)
        return [asset for value in values if (asset := self._repair(value, offset)) is not None]

    def _repair(self, value: Any, offset: int) -> Asset | None:
        """Delete the fields msgspec names in its validation errors until the record decodes."""
        if not isinstance(value, dict):
            self.unreadable.add(offset)
            return None
        for _ in range(_MAX_REPAIRS):
            try:
                return self.one.decode(msgspec.json.encode(value))
            except msgspec.ValidationError as error:
                if not _delete_path(value, str(error)):
                    break
        self.unreadable.add(offset)
        return None


def _split_decode(
    piece: bytes, offset: int, one: Callable[[bytes], Any], many: Callable[[bytes], Any]
) -> list[Any] | object:
    """One piece as a list of records: one record, or several when a boundary was missed (the next
    element starts with another key); `_TRUNCATED` when it ends inside a value. A syntax error is
    raised as an `ExportFormatError` at its offset; a `ValidationError` passes through to the caller."""
    try:
        return [one(piece)]
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as error:
        message = str(error)
        if message.startswith("Input data was truncated"):
            return _TRUNCATED
        if "trailing characters" not in message:
            raise _format_error(message, offset) from None
    try:
        return many(b"[" + piece + b"]")
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as error:
        raise _format_error(str(error), offset - 1) from None


def _delete_path(value: Any, message: str) -> bool:
    """Remove the value at msgspec's "- at `$.a.b[2]`" path from `value`; False if it cannot."""
    marker = message.rfind("at `$")
    if marker < 0:
        return False
    path = message[marker + 5 : message.rfind("`")]
    parts: list[str | int] = [key if key else int(index) for key, index in _PATH_PART.findall(path)]
    if not parts:
        return False
    container = value
    for part in parts[:-1]:
        try:
            container = container[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = parts[-1]
    try:
        del container[last]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _skip_blank(buf: bytes, pos: int, end: int | None = None) -> int:
    """The index of the first non-whitespace byte at or after `pos` (or `end`), found in one C-level step."""
    found = _WS_RUN.match(buf, pos, len(buf) if end is None else end)
    return found.end() if found else pos


def _format_error(message: str, offset: int) -> ExportFormatError:
    match = _MALFORMED.search(message)
    if match:
        return ExportFormatError(offset + int(match.group(2)), match.group(1))
    if message.startswith("Input data was truncated"):
        return ExportFormatError(offset, "expected more data: it ends inside a value")
    return ExportFormatError(offset, message.split(" (byte")[0][:120])


class _Buffered:
    """The carried-over tail of earlier chunks plus the new one, in one `bytes`.

    Big buffers are only ever built with one `b"".join` (never `a + b`): each `+` of megabyte strings
    allocates fresh memory, and the page faults made that 30x slower than the copy itself (measured).
    A chunk in which no record can end (a video asset can take hundreds of MiB) is set aside in
    `_parts` rather than joined, so a long record costs one copy, not one per chunk.
    """

    def __init__(self, sink: Sink, decoders: Decoders, offload: Offload | None = None, base: int = 0) -> None:
        """`base`: the document offset of the first byte fed; `offload`: see `Offload`."""
        self._sink = sink
        self._dec = decoders
        self._offload = offload
        self._buf = b""
        self._base = base  # absolute offset of _buf[0]
        self._start = 0  # index in _buf where the next (possibly pending) record starts
        self._scanned = 0  # index in _buf up to which boundaries have been looked for
        self._parts: list[bytes] = []  # chunks set aside, in order, after _buf
        self._parked = 0  # their total size
        self._blank = 0  # whitespace bytes in a row at the end of what was fed

    def _count_blanks(self, data: bytes) -> None:
        """Refuse a run of more than `MAX_BLANK_RUN` whitespace bytes: it would be buffered (inside a record,
        or before the next one) and rescanned, for nothing a summary can use."""
        tail = data[-RESCAN:]  # a chunk almost always has a record byte near its end: look there first
        kept = len(tail.rstrip(_WS))
        if kept == 0 and len(data) > len(tail):
            kept = len(data.rstrip(_WS))  # the whole chunk, only when its last 4 KiB are blank
            tail = data
        trailing = len(tail) - kept
        self._blank = self._blank + trailing if kept == 0 else trailing
        if self._blank > MAX_BLANK_RUN:
            raise ExportFormatError(
                self._base + len(self._buf) + self._parked,
                f"expected the export to go on, not over {MAX_BLANK_RUN >> 20} MiB of blank space",
            )

    def _park(self, data: bytes) -> bool:
        """Set `data` aside if it holds no record end (`_ends_in`); True when it was set aside."""
        if self._ends_in(data):
            return False
        tail = (self._parts[-1] if self._parts else self._buf)[-RESCAN:]
        if tail and self._ends_in(b"".join((tail, data[:RESCAN]))):  # a record end across the seam
            return False
        self._parts.append(data)
        self._parked += len(data)
        if len(self._buf) - self._start + self._parked > MAX_RECORD_BYTES:
            raise ExportFormatError(
                self._base + self._start, f"expected a record to end within {MAX_RECORD_BYTES >> 20} MiB"
            )
        return True

    def _ends_in(self, window: bytes) -> bool:
        raise NotImplementedError

    def _append(self, data: bytes) -> None:
        pieces = [*self._parts, data]
        self._parts, self._parked = [], 0
        if self._start:
            self._base += self._start
            self._scanned = max(0, self._scanned - self._start)
            self._buf = b"".join((memoryview(self._buf)[self._start :], *pieces))
            self._start = 0
        elif self._buf or len(pieces) > 1:
            self._buf = b"".join((self._buf, *pieces))
        else:
            self._buf = data


class ArrayScanner(_Buffered):
    """A JSON array of assets, fed in chunks; decoded assets go to `sink` in batches."""

    def __init__(self, sink: Sink, decoders: Decoders, offload: Offload | None = None, base: int = 0) -> None:
        super().__init__(sink, decoders, offload, base)
        self._opened = False
        self._closed = False
        self._boundary: re.Pattern[bytes] | None = None
        self._compact: bytes = b""
        self._bracket = False  # the `[` has been read (and dropped with the whitespace before it)

    def _drop(self, count: int) -> None:
        """Forget the first `count` bytes of the buffer (looked at, and of no further use)."""
        self._base += count
        self._buf = self._buf[count:]

    def feed(self, data: bytes) -> None:
        if self._closed:
            self._check_trailing(data)
            return
        self._count_blanks(data)
        if self._boundary is not None and len(self._buf) - self._start > RESCAN and self._park(data):
            return
        self._append(data)
        if not self._opened and not self._open():
            return
        if self._boundary is not None:
            self._split()

    def _open(self) -> bool:
        """Find `[` and learn the first key of element 0; False while more bytes are needed. Whitespace
        already looked at is dropped, so a long run of it is neither kept nor scanned twice."""
        buf = self._buf
        i = _skip_blank(buf, 0)
        if not self._bracket:
            if i == len(buf):
                self._drop(i)
                return False
            if buf[i : i + 1] != b"[":
                raise ExportFormatError(self._base + i, "expected '[' to open the array of assets")
            self._bracket = True
            i += 1
        j = _skip_blank(buf, i)
        if j == len(buf):
            self._drop(j)
            return False
        if buf[j : j + 1] == b"]":
            self._opened = self._closed = True
            self._check_trailing(buf[j + 1 :])
            self._buf, self._start = b"", 0
            return False
        match = _FIRST_KEY.match(buf, j)
        if match is None:
            if buf[j : j + 1] != b"{" and buf[j : j + 1] not in _WS:
                raise ExportFormatError(self._base + j, "expected '{' to open an asset object")
            if len(buf) - j > RESCAN:
                raise ExportFormatError(self._base + j, "expected an asset object with a string key")
            self._drop(j)
            return False
        key = re.escape(match.group(1))
        self._boundary = re.compile(rb"\}\s*,\s*(?=\{\s*\"" + key + rb"\"\s*:)")
        self._compact = b'},{"' + match.group(1) + b'":'
        self._opened = True
        self._start = j
        self._scanned = j
        return True

    def _ends_in(self, window: bytes) -> bool:
        assert self._boundary is not None
        return self._compact in window or self._boundary.search(window) is not None

    def _last_boundary(self) -> re.Match[bytes] | int | None:
        buf = self._buf
        origin = max(self._start, self._scanned - RESCAN)
        index = buf.rfind(self._compact, origin)
        if index >= 0:
            return index
        last = None
        assert self._boundary is not None
        for last in self._boundary.finditer(buf, origin):  # noqa: B007 - only the last match is wanted
            pass
        return last

    def _split(self) -> None:
        found = self._last_boundary()
        self._scanned = len(self._buf)
        if found is None:
            if len(self._buf) - self._start > MAX_RECORD_BYTES:
                raise ExportFormatError(
                    self._base + self._start,
                    f"expected an asset to end within {MAX_RECORD_BYTES >> 20} MiB (is this valid JSON?)",
                )
            return
        if isinstance(found, int):
            end, next_start = found + 1, found + 2
        else:
            end, next_start = found.start() + 1, found.end()
        if self._offload is not None and self._offload(
            memoryview(self._buf)[self._start : end], self._base + self._start, False
        ):
            self._start = next_start
            return
        try:
            assets = self._dec.many.decode(b"".join((b"[", memoryview(self._buf)[self._start : end], b"]")))
        except msgspec.DecodeError:  # includes ValidationError: sort it out piece by piece
            self._careful(end)
            return
        self._sink(assets)
        self._start = next_start

    def _careful(self, end: int) -> None:
        """Decode `_buf[_start:end]` piece by piece; leaves `_start` at a pending (incomplete) element."""
        assert self._boundary is not None
        buf = self._buf
        start = self._start
        for match in self._boundary.finditer(buf, start):
            if match.start() >= end:
                break
            piece_end = match.start() + 1
            if piece_end - start > MAX_RECORD_BYTES:
                raise ExportFormatError(
                    self._base + start, f"expected an asset to end within {MAX_RECORD_BYTES >> 20} MiB"
                )
            result = self._dec.piece(buf[start:piece_end], self._base + start)
            if result is _TRUNCATED:
                continue  # a false boundary inside an element: extend the piece to the next one
            assert isinstance(result, list)
            self._sink(result)
            start = match.end()
        self._start = start

    def finish(self) -> None:
        if self._closed:
            return
        if self._parts:
            self._append(b"")
        if not self._opened:
            if not self._buf.strip():
                return  # an empty document: no assets
            raise ExportFormatError(
                self._base + len(self._buf), "expected more data: the first asset is incomplete (truncated file?)"
            )
        tail = self._buf[self._start :].rstrip()
        end_offset = self._base + self._start + len(tail)
        if not tail.endswith(b"]"):
            raise ExportFormatError(end_offset, "expected ']' to close the array at the end (truncated file?)")
        content = tail[:-1].rstrip()
        if content:
            # What follows the last boundary: the last element (or several, if their first keys differ).
            try:
                result = self._dec.piece(content, self._base + self._start)
            except ExportFormatError as error:
                if error.offset < end_offset - _NEAR_END:
                    raise
                result = _TRUNCATED
            if result is _TRUNCATED:
                raise ExportFormatError(end_offset, "expected the rest of the last asset (truncated file?)")
            assert isinstance(result, list)
            self._sink(result)
        self._closed = True

    def _check_trailing(self, data: bytes) -> None:
        stripped = data.strip()
        if stripped:
            raise ExportFormatError(self._base + len(self._buf), "expected nothing after the closing ']'")


class LinesScanner(_Buffered):
    """NDJSON (one asset per line), or a stream of whitespace-separated objects, fed in chunks."""

    def __init__(self, sink: Sink, decoders: Decoders, offload: Offload | None = None, base: int = 0) -> None:
        super().__init__(sink, decoders, offload, base)
        self._pending = False  # _start is inside an object that spans lines (_scanned: lines examined)

    def _ends_in(self, window: bytes) -> bool:
        return b"\n" in window

    def feed(self, data: bytes) -> None:
        self._count_blanks(data)
        if len(self._buf) - self._start > RESCAN and self._park(data):
            return
        self._append(data)
        end = self._buf.rfind(b"\n") + 1
        if end <= self._start:
            if len(self._buf) - self._start > MAX_RECORD_BYTES:
                raise ExportFormatError(
                    self._base + self._start, f"expected a line shorter than {MAX_RECORD_BYTES >> 20} MiB"
                )
            return
        if not self._pending:
            if self._offload is not None and self._offload(
                memoryview(self._buf)[self._start : end], self._base + self._start, True
            ):
                self._start = end
                return
            try:
                assets = self._dec.one.decode_lines(memoryview(self._buf)[self._start : end])
            except msgspec.DecodeError:
                self._careful(end)
                return
            self._sink(assets)
            self._start = end
        else:
            self._careful(end)

    def _careful(self, end: int) -> None:
        """Lines of `_buf[_start:end]` one by one; an incomplete object waits for more lines."""
        buf = self._buf
        pos = self._scanned if self._pending else self._start
        while pos < end:
            if not self._pending:
                pos = _skip_blank(buf, pos, end)  # blank lines between records, in one step
                self._start = pos
                if pos >= end:
                    break
                attempt = True
                line_end = buf.find(b"\n", pos, end) + 1 or end
            else:
                # Retry a pending object only at a line that starts in column 0 (its closing brace when
                # pretty-printed); indented and blank lines are inside it, and are skipped in one step.
                if pos > 0 and buf[pos - 1 : pos] == b"\n" and buf[pos : pos + 1] not in (b" ", b"\t", b"\n", b"\r"):
                    line_start = pos
                else:
                    found = _NEXT_COLUMN_0.search(buf, max(0, pos - 1), end)
                    if found is None:
                        pos = end
                        break
                    line_start = found.end()
                line_end = buf.find(b"\n", line_start, end) + 1 or end
                attempt = True
            pos = line_end
            if not attempt:
                continue
            if pos - self._start > MAX_RECORD_BYTES:
                raise ExportFormatError(
                    self._base + self._start, f"expected a record to end within {MAX_RECORD_BYTES >> 20} MiB"
                )
            result = self._dec.piece(buf[self._start : pos], self._base + self._start)
            if result is _TRUNCATED:
                self._pending = True
                continue
            assert isinstance(result, list)
            self._sink(result)
            self._pending = False
            self._start = pos
        self._scanned = pos

    def finish(self) -> None:
        if self._parts:
            self._append(b"")
        end = self._base + len(self._buf)
        if not self._buf[self._start :].strip():
            return
        try:
            self._careful(len(self._buf))  # the last line may lack its newline
        except ExportFormatError as error:
            if error.offset < end - _NEAR_END:
                raise
            raise ExportFormatError(end, "expected the rest of the last record (truncated file?)") from None
        if self._buf[self._start :].strip():
            raise ExportFormatError(end, "expected the rest of the last record (truncated file?)")


class DocumentScanner:
    """One export document of unknown kind: sniffs `[` (array) or `{` (NDJSON) and delegates."""

    def __init__(self, sink: Sink, decoders: Decoders, offload: Offload | None = None) -> None:
        self._sink = sink
        self._dec = decoders
        self._offload = offload
        self._inner: ArrayScanner | LinesScanner | None = None
        self._head = b""
        self._skipped = 0  # leading whitespace already dropped

    def feed(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.feed(data)
            return
        self._head += data
        if len(self._head) < 3 and b"\xef\xbb\xbf".startswith(self._head):
            return
        if self._head.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark: blank it, keep offsets
            self._head = b"   " + self._head[3:]
        stripped = self._head.lstrip(_WS)
        if not stripped:
            self._skipped += len(self._head)
            self._head = b""
            return
        first = stripped[:1]
        if first == b"[":
            self._inner = ArrayScanner(self._sink, self._dec, self._offload, self._skipped)
        elif first == b"{":
            self._inner = LinesScanner(self._sink, self._dec, self._offload, self._skipped)
        else:
            offset = self._skipped + len(self._head) - len(stripped)
            raise ExportFormatError(offset, "expected '[' (a JSON array) or '{' (NDJSON) at the start")
        head, self._head = self._head, b""
        self._inner.feed(head)

    def finish(self) -> None:
        if self._inner is not None:
            self._inner.finish()
