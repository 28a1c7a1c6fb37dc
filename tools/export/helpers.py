"""Helper processes that decode and count regions of a large local export on the machine's other core.

Why a process: decoding (msgspec) and counting (the accumulator) hold the GIL, so a thread buys nothing,
and one core reads an export at roughly 250 MiB/s. Why not hand decoded records back: pickling them
costs what it saves. So only bytes go over, and only counts come back, once per read.

The parts, all in this module:

* `Helper`: one child process, `python -m tasklens.tools.export.helpers <fd> <slot bytes> <slots>`,
  with `slots` shared-memory slots (a memfd, or an unlinked temporary file, passed as that fd), commands
  on its stdin and answers on its stdout (a pipe to this process, never the server's stdout). It serves
  one read at a time and is kept between reads:

      BEGIN  + pickled Filters           a read starts: a fresh Accumulator
      ARRAY | LINES slot offset segment  a region is in that slot; answered FREED at once (it is copied)
      FINISH                             answered RESULT + the pickled figures, or FAILED (and it exits)

* `SharedRead`: one read's side. The scanner offers each stretch of whole records it would decode in one
  call (a *region*, ~1 MiB); when a slot is free the region is copied there and the helper reads it,
  otherwise this process reads it itself. So the work balances by itself. Regions are numbered by
  *segment* in document order, so the merged figures (`Accumulator.merge`) are the one pass's exactly.
* `HelperPool`: at most `size` helpers per server, started on first use, lent to one read at a time and
  stopped when the server stops. A read that finds none free reads alone.

Any doubt ends the sharing with `SharingFailed`, and the caller reads the file again, alone, so the
result and every error message are a single pass's: a region the helper cannot read on its own (a cut
at a false boundary: a nested object that starts with the asset's first key), a format error while
sharing, a helper that died. A helper whose read did not end cleanly (a failure, a cancellation) is
killed; the pool starts another when one is next needed.
"""

from __future__ import annotations

import gc
import logging
import mmap
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import msgspec

from .accumulate import Accumulator, Filters
from .heap import keep_freed_buffers
from .records import Asset
from .scan import ArrayScanner, Decoders, ExportFormatError, LinesScanner, Unreadable

logger = logging.getLogger(__name__)

SHARE_FROM_BYTES = 32 << 20  # below this, sharing (a process start, ~0.1 s, on first use) saves too little
SLOTS = 3
SLOT_BYTES = 4 << 20  # a region larger than this (a huge record) is read by the main process
_COMMAND = struct.Struct("<BIQQI")  # kind, slot, document offset, segment, length
_ANSWER = struct.Struct("<BQ")  # kind, slot or payload length
_BEGIN, _ARRAY, _LINES, _FINISH = 1, 2, 3, 4
_FREED, _RESULT, _FAILED = 1, 2, 3


class SharingFailed(Exception):
    """The shared read cannot give a trustworthy result; read the file again in one process."""


class Helper:
    """One helper process, this process's side: `begin` a read, `offer` regions, `finish`; `close`."""

    def __init__(self, slots: int = SLOTS, slot_bytes: int = SLOT_BYTES) -> None:
        """Start the process (OSError when it cannot be started)."""
        self._slots = slots
        self._slot_bytes = slot_bytes
        self._free: list[int] = []
        self._inbox = bytearray()
        self._reading = False  # between `begin` and a clean `finish`
        self._closed = False
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
        self._answers = self._process.stdout.fileno()
        os.set_blocking(self._answers, False)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exit_code(self) -> int | None:
        """None while the process runs."""
        return self._process.poll()

    @property
    def idle(self) -> bool:
        """Alive and between reads: it can be lent again."""
        return not self._reading and not self._closed and self.exit_code is None

    def begin(self, filters: Filters) -> None:
        """Start a read: the helper counts what passes `filters` from now on."""
        wanted = pickle.dumps(filters)
        self._free = list(range(self._slots))
        self._reading = True
        self._send(_COMMAND.pack(_BEGIN, 0, 0, 0, len(wanted)) + wanted)

    def offer(self, region: memoryview, offset: int, segment: int, lines: bool) -> bool:
        """Hand over a region of whole records if a slot is free; False: read it yourself."""
        self._take_answers()
        size = len(region) + (0 if lines else 2)
        if not self._free or size > self._slot_bytes:
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
        self._send(_COMMAND.pack(_LINES if lines else _ARRAY, slot, offset, segment, size))
        return True

    async def finish(self) -> tuple[Accumulator, Unreadable]:
        """Wait, without blocking the event loop, for the helper's last region, and take its figures."""
        self._send(_COMMAND.pack(_FINISH, 0, 0, 0, 0))
        while (payload := self._take_answers()) is None:
            await anyio.wait_readable(self._answers)
        accumulator, count, first = pickle.loads(payload)
        self._reading = False
        unreadable = Unreadable()
        unreadable.count, unreadable.first_offset = count, first
        return accumulator, unreadable

    def kill(self) -> None:
        """Stop the process at once, whatever it is doing. Safe from any task: the read that holds this
        helper then meets its end (`SharingFailed`) and `close`s it."""
        if self._process.poll() is None:
            self._process.kill()

    def close(self) -> None:
        """Kill the process if it runs, reap it, and release its pipes and memory (by its holder only)."""
        self.kill()
        self._process.wait()
        if not self._closed:
            self._closed = True
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
            self._memory.close()

    def _send(self, message: bytes) -> None:
        if self._closed:
            raise SharingFailed("the helper process was stopped")
        try:
            os.write(self._commands, message)  # a few bytes into a pipe the helper keeps reading: never blocks
        except OSError:  # the helper is gone (broken pipe)
            raise SharingFailed("the helper process is gone") from None

    def _take_answers(self) -> bytes | None:
        """Read what the helper said so far (freed slots, a failure) without waiting; the figures'
        payload once they have all arrived."""
        if self._closed:
            raise SharingFailed("the helper process was stopped")
        ended = False
        while True:
            try:
                data = os.read(self._answers, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                ended = True
                break
            self._inbox += data
        inbox = self._inbox
        while len(inbox) >= _ANSWER.size:
            kind, value = _ANSWER.unpack_from(inbox)
            if kind == _FREED:
                self._free.append(value)
                del inbox[: _ANSWER.size]
            elif kind == _FAILED:
                raise SharingFailed("the helper could not read a region on its own")
            else:
                end = _ANSWER.size + value
                if len(inbox) < end:
                    break
                payload = bytes(inbox[_ANSWER.size : end])
                del inbox[:end]
                return payload
        if ended:
            raise SharingFailed("the helper process exited early")
        return None


class SharedRead:
    """One read shared with a helper: the scanner's offload hook and sink, and the merge at the end.

    Records this process reads after a region the helper took start a new segment, so segments number
    the document's stretches in order whichever process read them."""

    def __init__(self, helper: Helper, accumulator: Accumulator, unreadable: Unreadable) -> None:
        helper.begin(accumulator.filters)
        self._helper = helper
        self._accumulator = accumulator
        self._unreadable = unreadable
        self._segment = 0  # the last segment number handed out
        self._taken = False  # the helper took the latest segment

    def offload(self, region: memoryview, offset: int, lines: bool) -> bool:
        """The scanner's `Offload`: True when the helper took the region."""
        if not self._helper.offer(region, offset, self._segment + 1, lines):
            return False
        self._segment += 1
        self._taken = True
        return True

    def sink(self, assets: list[Asset]) -> None:
        """The scanner's sink for the records read here."""
        if self._taken:
            self._segment += 1
            self._accumulator.start_segment(self._segment)
            self._taken = False
        self._accumulator.add_all(assets)

    async def finish(self) -> None:
        """Fold in the helper's figures once it has read its last region."""
        accumulator, unreadable = await self._helper.finish()
        self._accumulator.merge(accumulator)
        if unreadable.count:
            # The first in the document is the lowest offset (offsets count within a ZIP member, so with
            # several members this names the lowest one, not necessarily the first member's).
            mine = self._unreadable
            offsets = [o for o in (mine.first_offset, unreadable.first_offset) if o is not None]
            mine.count += unreadable.count
            mine.first_offset = min(offsets) if offsets else None


class HelperPool:
    """At most `size` helpers for the whole server, lent to one read at a time and kept between reads.

    Used from the event loop's thread only. Reads of local files of `share_from_bytes` or more
    (unpacked) are shared; `close` stops every helper, and no read is shared after it."""

    def __init__(
        self, size: int = 1, share_from_bytes: int = SHARE_FROM_BYTES, start: Callable[[], Helper] = Helper
    ) -> None:
        self.size = size
        self.share_from_bytes = share_from_bytes
        self._start = start
        self._idle: list[Helper] = []
        self._lent: list[Helper] = []
        self._closed = False

    def shares(self, unpacked_bytes: int) -> bool:
        """Whether a read of this much work is worth a helper (on a platform that can run one)."""
        return not self._closed and os.name == "posix" and unpacked_bytes >= self.share_from_bytes

    @contextmanager
    def lend(self) -> Iterator[Helper | None]:
        """A helper for one read, or None when all are lent (or none can start): read alone then."""
        helper = self._take()
        if helper is None:
            yield None
            return
        try:
            yield helper
        finally:
            self._lent.remove(helper)
            if helper.idle and not self._closed:
                self._idle.append(helper)
            else:  # its read did not end cleanly (failure, cancellation), or the server is stopping
                helper.close()

    def close(self) -> None:
        """Stop every helper: idle ones now; lent ones are killed, and closed as their reads end (each
        redoes its work alone, unless it is being cancelled)."""
        self._closed = True
        for helper in self._idle:
            helper.close()
        self._idle.clear()
        for helper in self._lent:
            helper.kill()

    def _take(self) -> Helper | None:
        if self._closed:
            return None
        while self._idle:
            helper = self._idle.pop()
            if helper.idle:
                self._lent.append(helper)
                return helper
            helper.close()  # it died between reads: reap it
        if len(self._lent) >= self.size:
            return None
        try:
            helper = self._start()
        except OSError as error:
            logger.warning("export helper process could not start (%s); reading in one process", error)
            return None
        self._lent.append(helper)
        return helper


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
    """The helper's loop: read after read, regions from the shared slots until told to finish, then the
    figures. Ends when its commands end (this process's parent is done with it, or gone)."""
    gc.disable()  # as in the main process's reads: the records are acyclic and freed by refcount
    keep_freed_buffers()
    memory = mmap.mmap(shared, slots * slot_bytes)
    accumulator = Accumulator()
    unreadable = Unreadable()
    decoders = Decoders(unreadable)
    try:
        while True:
            kind, slot, offset, segment, length = _COMMAND.unpack(_read_exactly(0, _COMMAND.size))
            if kind == _BEGIN:
                accumulator = Accumulator(pickle.loads(_read_exactly(0, length)))
                unreadable = Unreadable()
                decoders = Decoders(unreadable)
            elif kind == _FINISH:
                figures = (accumulator, unreadable.count, unreadable.first_offset)
                payload = pickle.dumps(figures, protocol=pickle.HIGHEST_PROTOCOL)
                _answer(_RESULT, len(payload), payload)
                accumulator = Accumulator()
                gc.collect()  # between reads: whatever cycles the read left
            else:
                start = slot * slot_bytes
                data = memory[start : start + length]
                _answer(_FREED, slot)
                accumulator.start_segment(segment)
                _read_region(data, offset, kind == _LINES, accumulator, decoders)
    except EOFError:  # the main process is done with this helper, or gone: nothing to answer
        return
    except ExportFormatError:
        _answer(_FAILED, 0)
    except Exception as error:  # noqa: BLE001 - a bug here must not lose the read: the main process redoes it
        logger.warning(
            "export helper process failed (%s); the export is read again in one process", type(error).__name__
        )
        _answer(_FAILED, 0)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the server, which stops its helpers
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
