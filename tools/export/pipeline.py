"""Driving one export read: source → unpack → scan → accumulate, with progress, cancellation and caps.

The CPU work is synchronous and done one chunk (1 MiB) at a time on the event loop, with a checkpoint
between chunks: a chunk costs a few milliseconds, so other requests keep being served, cancellation
lands within one chunk, and no thread hand-off is paid per chunk. Handing each chunk to a worker
thread instead was measured (benchmarks/bench_summarize_export.py): no consistent difference either way on
a shared 2-core machine — msgspec and the accumulator hold the GIL, so a thread buys no parallelism —
so the simpler loop stays. Compressed input is fed in `COMPRESSED_FEED` pieces so that one step never
inflates into many megabytes of work.
Progress (source bytes read of the total) is reported at most every `PROGRESS_EVERY_S`.
"""

from __future__ import annotations

import gc
import logging
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

import anyio
import anyio.lowlevel
import msgspec

from .accumulate import Accumulator, Filters
from .download import DownloadPolicy, open_download
from .heap import keep_freed_buffers
from .helpers import Helper, HelperPool, SharedRead, SharingFailed
from .scan import Decoders, DocumentScanner, ExportFormatError, Unreadable
from .sources import open_local, refuse
from .unpack import Limits, Unpacker, UnpackError, human_size

CHUNK = 1 << 20
READS_AT_ONCE = 4  # summaries read at once per server; they share one core, so more would only hold memory
READS_WAITING = 12  # summaries that may wait for a turn; past that a call is refused with a sentence
MAX_LISTED_MEMBERS = 10_000  # a ZIP directory listed to learn the unpacked size (ZIP64's 0xFFFF is over)
_EOCD_SEARCH = 22 + 0xFFFF  # the end-of-central-directory record sits within the archive's last 64 KiB
# What decoding a hostile record can raise beyond a format error: Python's recursion limit (deep nesting),
# and msgspec's or Python's refusal of an out-of-range number (ValidationError is a ValueError).
UNREADABLE_VALUE = (RecursionError, OverflowError, ValueError, msgspec.MsgspecError)
COMPRESSED_FEED = 128 << 10  # compressed input is fed in smaller pieces: 128 KiB can inflate to ~1 MiB (8:1)
PROGRESS_EVERY_S = 0.5
logger = logging.getLogger(__name__)
Progress = Callable[[float, float | None, str | None], Awaitable[None]]


class Running:
    """How many summaries this server reads at once, and how many may wait for a turn. Each read holds a
    chunk, a decoder's batch and its figures in memory, and all of them share the event loop's core, so
    a few at a time finish as soon as many would, in a fraction of the memory."""

    def __init__(self, at_once: int, waiting: int) -> None:
        self.at_once = at_once
        self.waiting = waiting
        self.active = 0  # reading or waiting
        self._turns = anyio.CapacityLimiter(at_once)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A turn to read: at once while fewer than `at_once` read, after a wait while fewer than
        `at_once + waiting` hold or wait for one; refused with a sentence past that."""
        if self.active >= self.at_once + self.waiting:
            raise refuse(
                f"{self.active} summaries are already being read or waiting on this server, its limit; call "
                "again when one has finished (export-summary://latest holds the newest result).",
                "unavailable",
            )
        self.active += 1
        try:
            async with self._turns:
                yield
        finally:
            self.active -= 1


@dataclass(frozen=True)
class ExportSettings:
    """What summarize_export may read and how much: roots for paths, the download policy, the caps, and
    the helper processes that share large local reads (None: every read in one process)."""

    roots: tuple[str, ...] = ()
    sandbox: bool = False
    helpers: HelperPool | None = None
    download: DownloadPolicy = field(default_factory=DownloadPolicy)
    limits: Limits = field(default_factory=Limits)
    running: Running = field(default_factory=lambda: Running(READS_AT_ONCE, READS_WAITING))

    def close(self) -> None:
        """Stop the helper processes (the server is stopping)."""
        if self.helpers is not None:
            self.helpers.close()


class ExportReader:
    """The synchronous core: feed raw source bytes, then `finish`; the figures are in `accumulator`."""

    def __init__(self, filters: Filters | None = None, limits: Limits | None = None) -> None:
        self.filters = filters or Filters()
        self.limits = limits or Limits()
        self.reset()

    def reset(self) -> None:
        """Forget everything read so far (a shared read that is redone alone starts from here)."""
        self.accumulator = Accumulator(self.filters)
        self.unreadable = Unreadable()
        self._decoders = Decoders(self.unreadable)
        self._document: DocumentScanner | None = None
        self._member: str | None = None
        self._unpacker = Unpacker(self._start, self._data, self._end, self.limits)
        self._shared: SharedRead | None = None

    def share_with(self, helper: Helper) -> SharedRead:
        """Offer regions to `helper` from now on (before the first `feed`); `finish` the shared read at the end."""
        self._shared = SharedRead(helper, self.accumulator, self.unreadable)
        return self._shared

    @property
    def bytes_in(self) -> int:
        return self._unpacker.raw_bytes

    @property
    def compressed(self) -> bool:
        return self._unpacker.compressed

    def _start(self, name: str | None) -> None:
        self._member = name
        if self._shared is None:
            self._document = DocumentScanner(self.accumulator.add_all, self._decoders)
        else:
            self._document = DocumentScanner(self._shared.sink, self._decoders, self._shared.offload)

    def _data(self, data: bytes) -> None:
        assert self._document is not None
        self._document.feed(data)

    def _end(self) -> None:
        assert self._document is not None
        self._document.finish()
        self._document = None

    def feed(self, raw: bytes) -> None:
        # Decoding a chunk allocates ~100k short-lived, acyclic objects; letting the cyclic GC run
        # dozens of collections over them (and over the whole server heap) cost ~30% of the time
        # (measured). It is paused for this synchronous call only — nothing else runs meanwhile — and
        # the objects are freed by reference counting as soon as they are counted.
        paused = gc.isenabled()
        gc.disable()
        try:
            self._unpacker.feed(raw)
        except ExportFormatError as error:
            raise self._explain(error) from None
        except UnpackError as error:
            raise refuse(str(error), "bad_response") from None
        except UNREADABLE_VALUE as error:
            raise self._unreadable_value(error) from None
        finally:
            if paused:
                gc.enable()

    def finish(self) -> None:
        try:
            self._unpacker.finish()
        except ExportFormatError as error:
            raise self._explain(error) from None
        except UnpackError as error:
            raise refuse(str(error), "bad_response") from None
        except UNREADABLE_VALUE as error:
            raise self._unreadable_value(error) from None

    def _unreadable_value(self, error: Exception) -> Exception:
        """A record holding what no decoder takes: nesting deeper than Python recurses, or a number out
        of every numeric range (4,300 digits, 1e99999). A shared read hands it to a single pass."""
        if self._shared is not None:
            return SharingFailed(f"{type(error).__name__} while sharing the read")
        what = "a value nested too deeply" if isinstance(error, RecursionError) else "a number out of range"
        return refuse(
            f"The export holds {what} near byte {self.bytes_in} of its source, which no Ango export has. Nothing "
            "was summarized; re-export the project from Ango Hub, or pass ango:<project_id>.",
            "bad_response",
        )

    def _explain(self, error: ExportFormatError) -> Exception:
        if self._shared is not None:  # perhaps a region cut at a false boundary: only a single pass can tell
            return SharingFailed(f"format error at byte {error.offset} while sharing the read")
        where = f" of ZIP member {self._member!r}" if self._member else ""
        if "blank space" in error.expected:  # valid JSON, but a run of whitespace no export holds
            return refuse(
                f"The export has over 1 MiB of blank space in a row at byte {error.offset}{where}, which no Ango "
                "export has. Nothing was summarized; pass a file exported from Ango Hub, or ango:<project_id>.",
                "bad_response",
            )
        if "asset object" in error.expected:  # well-formed JSON whose records are not objects
            return refuse(
                f"The export's record at byte {error.offset}{where} is not an object ({error.expected}): this is "
                "not an Ango export. Nothing was summarized; pass a file exported from Ango Hub, or ango:<project_id>.",
                "bad_response",
            )
        return refuse(
            f"The export is not valid JSON at byte {error.offset}{where}: {error.expected}. Nothing was "
            "summarized; re-export or re-download the file.",
            "bad_response",
        )


async def read_chunks(
    reader: ExportReader, chunks: AsyncIterator[bytes], total: int | None, progress: Progress | None
) -> None:
    """Feed every chunk, yielding to the event loop between chunks, reporting progress as it goes."""
    keep_freed_buffers()
    last = time.monotonic()
    reported = 0
    async for chunk in chunks:
        step = COMPRESSED_FEED if reader.compressed else max(1, len(chunk))
        for start in range(0, len(chunk), step):
            reader.feed(chunk[start : start + step])  # the whole chunk, uncopied, when it fits one step
            await anyio.lowlevel.checkpoint()
        now = time.monotonic()
        if progress is not None and now - last >= PROGRESS_EVERY_S and reader.bytes_in > reported:
            reported = reader.bytes_in
            last = now
            await progress(reported, total, _message(reader, total))
    reader.finish()
    if progress is not None and reader.bytes_in > reported:
        await progress(reader.bytes_in, total, _message(reader, total))


def _message(reader: ExportReader, total: int | None) -> str:
    read = human_size(reader.bytes_in)
    of = f" of {human_size(total)}" if total else ""
    return f"read {read}{of}, {reader.accumulator.assets} assets so far"


async def file_chunks(file: object, size: int | None = None) -> AsyncIterator[bytes]:
    """A local file's bytes in chunks (reads from the page cache take well under a millisecond)."""
    read = file.read  # type: ignore[attr-defined]
    size = size or CHUNK
    while True:
        data = read(size)
        if not data:
            return
        yield data


async def read_local(reader: ExportReader, path: str, settings: ExportSettings, progress: Progress | None) -> None:
    local = open_local(path, settings.roots)
    with local.file:
        pool = settings.helpers
        if pool is not None and pool.shares(unpacked_size(local.file, local.size)):
            progress = _never_backwards(progress)
            try:
                if await _read_shared(reader, pool, local.file, local.size, progress):
                    return
            except SharingFailed as why:
                logger.info("export read again in one process: %s", why)
                reader.reset()
                local.file.seek(0)
        await read_chunks(reader, file_chunks(local.file), local.size, progress)


def unpacked_size(file: BinaryIO, size: int) -> int:
    """How many bytes a local export holds once unpacked (from a ZIP's directory or a gzip trailer;
    gzip's is modulo 4 GiB, so a huge one may look small and be read in one process): the work to do."""
    head = file.read(4)
    try:
        if head.startswith(b"PK\x03\x04"):
            if not _small_directory(file, size):
                return size  # a directory too large to read here: the compressed size stands in
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                return sum(member.file_size for member in archive.infolist())
        if head.startswith(b"\x1f\x8b") and size >= 4:
            file.seek(size - 4)
            return int.from_bytes(file.read(4), "little")
        return size
    except (zipfile.BadZipFile, OSError, ValueError):
        return size  # the read itself reports what is wrong with the file
    finally:
        file.seek(0)


def _small_directory(file: BinaryIO, size: int) -> bool:
    """Whether a ZIP's central directory is small enough to parse whole, read from its end record alone
    (an archive of half a million members would cost hundreds of MiB and seconds to list)."""
    tail = min(size, _EOCD_SEARCH)
    file.seek(size - tail)
    data = file.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        return False
    entries = int.from_bytes(data[at + 10 : at + 12], "little")
    directory = int.from_bytes(data[at + 12 : at + 16], "little")
    return entries <= MAX_LISTED_MEMBERS and directory <= MAX_LISTED_MEMBERS * 512


def _never_backwards(progress: Progress | None) -> Progress | None:
    """Progress that stays put while a read that is redone from the start catches up (MCP progress
    must increase with every notification)."""
    if progress is None:
        return None
    reported = -1.0

    async def forward(done: float, total: float | None, message: str | None) -> None:
        nonlocal reported
        if done > reported:
            reported = done
            await progress(done, total, message)

    return forward


async def _read_shared(
    reader: ExportReader, pool: HelperPool, file: BinaryIO, size: int, progress: Progress | None
) -> bool:
    """Read with a helper from `pool` taking regions while it has room (see helpers); False, with
    nothing read, when no helper is free."""
    with pool.lend() as helper:
        if helper is None:
            return False
        shared = reader.share_with(helper)
        await read_chunks(reader, file_chunks(file), size, progress)
        await shared.finish()
    return True


async def read_url(reader: ExportReader, url: str, settings: ExportSettings, progress: Progress | None) -> None:
    async with open_download(url, settings.download, settings.limits) as download:
        await read_chunks(reader, download.chunks, download.total, progress)


async def run_with_time_cap(work: Callable[[], Awaitable[None]], limits: Limits) -> None:
    """Run `work` under the read's time cap, as an export error rather than a bare timeout."""
    try:
        with anyio.fail_after(limits.max_seconds):
            await work()
    except TimeoutError:
        raise refuse(
            f"Reading the export took longer than {limits.max_seconds:.0f} s, tasklens' limit; nothing was "
            "summarized. Narrow it (filters on export, NDJSON) or raise the limit.",
            "timeout",
        ) from None
