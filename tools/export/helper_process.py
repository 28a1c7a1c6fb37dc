"""A second process that decodes and counts part of a large local export, on the machine's other core.

Why a process: decoding (msgspec) and counting (the accumulator) hold the GIL, so a thread buys nothing
(measured, see pipeline), and one core reads an export at roughly 250 MiB/s. Why not a
`multiprocessing.Pool` handing back decoded records: pickling them costs what it saves
(ango-export-format.md §5.3, g6). So only bytes go over, and only counts come back, once:

* The main process still reads, inflates and splits the stream. Each stretch of whole records the
  scanner would decode in one call (a *region*, ~1 MiB) is `offer`ed here first. When one of the
  `SLOTS` shared-memory slots is free, the region is copied into it (a memcpy) and a 25-byte message
  tells the helper its slot, length and *segment* number; otherwise the main process reads the region
  itself. So the work balances by itself: a helper that gets no CPU simply stops taking regions.
* The helper decodes and counts its regions into its own `Accumulator`, numbering records by segment,
  and at the end sends that accumulator back (pickled: it is tasklens' own process on both ends); the
  main process merges it (`Accumulator.merge`), which gives the one pass's figures exactly.
* A region is cut at the scanner's last boundary, which in a rare export is a false one (a nested
  object with the asset's first key). A region the helper cannot read on its own, or any format error
  while the work is shared, raises `SharingFailed`: the caller reads the file again, alone, so the
  result and every error message are exactly those of a single pass. Local files only, since they can
  be read again; a download is never shared.

The helper is `python -m tasklens.tools.export.helper_process <fd> <slot size> <slots>`, with the shared
memory (a memfd, or an unlinked temporary file) passed as that fd, commands on its stdin and answers on its
stdout (a pipe to this process, never the server's stdout, which belongs to the protocol).
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import struct
import subprocess
import sys
import tempfile

import anyio
import msgspec

from .accumulate import Accumulator, Filters
from .scan import ArrayScanner, Decoders, ExportFormatError, LinesScanner, Unreadable

logger = logging.getLogger(__name__)

SLOTS = 3
SLOT_BYTES = 4 << 20  # a region larger than this (a huge record) is read by the main process
_COMMAND = struct.Struct("<BIQQI")  # kind, slot, document offset, segment, length
_ANSWER = struct.Struct("<BQ")  # kind, slot or payload length
_ARRAY, _LINES, _FINISH = 1, 2, 9
_FREED, _RESULT, _FAILED = 1, 2, 3


class SharingFailed(Exception):
    """The shared read cannot give a trustworthy result; read the file again in one process."""


def available() -> bool:
    """Whether this platform can run the helper (fd passing and mmap of a shared file)."""
    return os.name == "posix"


class HelperProcess:
    """The main process's side: start the helper, `offer` regions, then `finish` and merge."""

    def __init__(self, filters: Filters, *, slots: int = SLOTS, slot_bytes: int = SLOT_BYTES) -> None:
        self._slot_bytes = slot_bytes
        self._free = list(range(slots))
        self._answers = b""
        self.segment = 0  # the last segment number handed out (to either process)
        self.offered = 0  # regions the helper took
        shared = _shared_file(slots * slot_bytes)
        try:
            self._memory = mmap.mmap(shared, slots * slot_bytes)
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(shared), str(slot_bytes), str(slots)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=(shared,),
            )
        finally:
            os.close(shared)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._commands = self._process.stdin.fileno()
        self._replies = self._process.stdout.fileno()
        os.set_blocking(self._replies, False)
        wanted = pickle.dumps(filters)
        self._send(_COMMAND.pack(0, 0, 0, 0, len(wanted)) + wanted)

    def next_segment(self) -> int:
        self.segment += 1
        return self.segment

    def offer(self, region: memoryview, offset: int, lines: bool) -> bool:
        """Hand a region of whole records to the helper if a slot is free; False: read it yourself."""
        self._collect()
        size = len(region) + (0 if lines else 2)
        if not self._free:
            if self._process.poll() is not None:  # it will never free a slot: do not read on for nothing
                raise SharingFailed("the helper process exited early")
            return False
        if size > self._slot_bytes:
            return False
        slot = self._free.pop()
        start = slot * self._slot_bytes
        memory = self._memory
        if lines:
            memory[start : start + size] = region
        else:  # as the scanner's own fast path decodes it: "[" region "]"
            memory[start : start + 1] = b"["
            memory[start + 1 : start + size - 1] = region
            memory[start + size - 1 : start + size] = b"]"
            offset -= 1
        self._send(_COMMAND.pack(_LINES if lines else _ARRAY, slot, offset, self.next_segment(), size))
        self.offered += 1
        return True

    async def finish(self) -> tuple[Accumulator, Unreadable]:
        """Wait for the helper's last region and take its figures."""
        self._send(_COMMAND.pack(_FINISH, 0, 0, 0, 0))
        while True:
            result = self._collect()
            if result is not None:
                return result
            if self._process.poll() is not None and not self._readable():
                raise SharingFailed("the helper process exited early")
            await anyio.sleep(0.002)

    def close(self) -> None:
        """Stop the helper (at once if it is still working: a cancelled or failed read)."""
        process = self._process
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        self._memory.close()

    # ---- plumbing ---------------------------------------------------------------------------------
    def _send(self, message: bytes) -> None:
        try:
            os.write(self._commands, message)
        except OSError:  # the helper is gone (broken pipe)
            raise SharingFailed("the helper process is gone") from None

    def _readable(self) -> bool:
        try:
            data = os.read(self._replies, 1 << 20)
        except BlockingIOError:
            return False
        self._answers += data
        return bool(data)

    def _collect(self) -> tuple[Accumulator, Unreadable] | None:
        """Read what the helper said so far: freed slots, a failure, or (at the end) its figures."""
        while self._readable():
            pass
        while len(self._answers) >= _ANSWER.size:
            kind, value = _ANSWER.unpack_from(self._answers)
            if kind == _FREED:
                self._free.append(value)
                self._answers = self._answers[_ANSWER.size :]
            elif kind == _FAILED:
                raise SharingFailed("the helper could not read a region on its own")
            else:
                end = _ANSWER.size + value
                if len(self._answers) < end:
                    return None
                accumulator, count, first = pickle.loads(self._answers[_ANSWER.size : end])
                unreadable = Unreadable()
                unreadable.count, unreadable.first_offset = count, first
                return accumulator, unreadable
        return None


def _shared_file(size: int) -> int:
    """An anonymous file of `size` bytes both processes can map: a memfd, else an unlinked temp file."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("tasklens-export", 0)
    else:
        fd, path = tempfile.mkstemp(prefix="tasklens-export-")
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd


# ---- the helper's side --------------------------------------------------------------------------------
def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def _answer(kind: int, value: int, payload: bytes = b"") -> None:
    message = memoryview(_ANSWER.pack(kind, value) + payload)
    while message:
        message = message[os.write(1, message) :]


def _read_region(data: bytes, offset: int, lines: bool, accumulator: Accumulator, decoders: Decoders) -> None:
    """Decode and count one region, as the scanner would; ExportFormatError if it is not whole records."""
    try:
        records = decoders.one.decode_lines(data) if lines else decoders.many.decode(data)
    except msgspec.DecodeError:  # (or a ValidationError): the careful path sorts it out, or raises
        scanner = (LinesScanner if lines else ArrayScanner)(accumulator.add_all, decoders, base=offset)
        scanner.feed(data)
        scanner.finish()
        return
    accumulator.add_all(records)


def serve(shared: int, slot_bytes: int, slots: int) -> None:
    """The helper's loop: read regions from the shared slots until told to finish, then answer."""
    import gc

    gc.disable()  # as in the main process's reads: the records are acyclic and freed by refcount
    memory = mmap.mmap(shared, slots * slot_bytes)
    try:
        *_, length = _COMMAND.unpack(_read_exactly(0, _COMMAND.size))
        accumulator = Accumulator(pickle.loads(_read_exactly(0, length)))
        unreadable = Unreadable()
        decoders = Decoders(unreadable)
        while True:
            kind, slot, offset, segment, length = _COMMAND.unpack(_read_exactly(0, _COMMAND.size))
            if kind == _FINISH:
                break
            start = slot * slot_bytes
            data = memory[start : start + length]
            _answer(_FREED, slot)
            accumulator.start_segment(segment)
            _read_region(data, offset, kind == _LINES, accumulator, decoders)
    except EOFError:  # the main process is gone or gave up: nothing to answer
        return
    except ExportFormatError:
        _answer(_FAILED, 0)
        return
    except Exception as error:  # noqa: BLE001 - a bug here must not lose the read: the main process redoes it
        logger.warning(
            "export helper process failed (%s); the export is read again in one process", type(error).__name__
        )
        _answer(_FAILED, 0)
        return
    accumulator._question_events.clear()  # a cache, not a figure
    payload = pickle.dumps((accumulator, unreadable.count, unreadable.first_offset), protocol=pickle.HIGHEST_PROTOCOL)
    _answer(_RESULT, len(payload), payload)


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
