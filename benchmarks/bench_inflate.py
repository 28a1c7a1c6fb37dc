"""Benchmark: inflating an export's ZIP member (raw deflate) and its gzip form with zlib and with isal.

One run generates export-like JSON in memory (tests/support/export_fixtures.py with the data mix of
bench_summarize_export.py), compresses it as a ZIP member is (raw deflate at zlib's default level 6)
and as `gzip -6` does, and inflates it with each library in the streaming pattern of
tools/export/unpack.py: compressed pieces of `COMPRESSED_FEED` bytes, each call capped at `OUT_CHUNK`
bytes of output and resumed from `unconsumed_tail`, a new gzip member started from `unused_data`.

  * ZIP member     raw inflate (wbits=-15) plus the CRC-32 of the output, as a ZIP member is checked;
  * gzip           inflate with wbits=31, each library's gzip mode (it checks the CRC-32 and length);
  * CRC-32         each library's crc32 over the inflated bytes alone;
  * Unpacker       tasklens' own Unpacker on the whole .zip / .gz with callbacks that drop the data:
                   the unpacking layer's ceiling, inflating with each library (zlib is what it falls
                   back to where isal is not installed). It reads gzip headers and trailers itself and
                   inflates the deflate data raw, as for a ZIP member.

zlib and isal alternate within each round and the fastest of `--repeat` rounds counts, because other
processes share the CPU. MiB/s is of the inflated output; "isal/zlib" is the speed ratio in the same run.

    python benchmarks/bench_inflate.py                    # 64 MiB, best of 7
    python benchmarks/bench_inflate.py --mib 8 --repeat 2 # smoke-sized
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import isal
from isal import isal_zlib

HERE = Path(__file__).resolve().parent
FEED = 128 << 10  # tools/export/pipeline.py's COMPRESSED_FEED: compressed input goes to the unpacker in these
LIBRARIES: dict[str, ModuleType] = {"zlib": zlib, "isal": isal_zlib}


# ---- data -----------------------------------------------------------------------------------------------
def export_json(mib: int, seed: int = 11) -> bytes:
    """About `mib` MiB of a current-format export as one JSON array (assets reused with fresh ids)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.export_fixtures import ExportGenerator

    generator = ExportGenerator(seed, classes=12, labelers=20, reviewers=5, max_tools=15, polygon_points=(4, 30))
    pool = []
    for asset in generator.assets(min(2000, max(40, (mib << 20) // 14_000))):
        asset["externalId"] = "@@ID@@"
        pool.append(json.dumps(asset, separators=(",", ":")).encode())
    parts, written, index = [], 0, 0
    while written < mib << 20:
        record = pool[index % len(pool)].replace(b"@@ID@@", b"asset_%09d.jpg" % index)
        parts.append(record)
        written += len(record) + 1
        index += 1
    return b"[" + b",".join(parts) + b"]"


def zip_member(data: bytes) -> bytes:
    """The member's data as zipfile writes it: raw deflate, level 6."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def zip_archive(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", data)
    return buffer.getvalue()


# ---- the streaming pattern of unpack.py -------------------------------------------------------------------
def inflate(library: ModuleType, blob: bytes, wbits: int, crc: bool, out_chunk: int) -> tuple[int, int]:
    """Inflate `blob` fed in `FEED` pieces with output capped per call: (bytes out, CRC-32 or -1)."""
    decompressor = library.decompressobj(wbits)
    total = check = 0
    for start in range(0, len(blob), FEED):
        raw = blob[start : start + FEED]
        full = True
        while raw or full:
            out = decompressor.decompress(raw, out_chunk)
            full = len(out) >= out_chunk
            total += len(out)
            if crc:
                check = library.crc32(out, check)
            if decompressor.eof:
                raw = decompressor.unused_data
                if raw:
                    decompressor = library.decompressobj(wbits)
                full = False
                continue
            raw = decompressor.unconsumed_tail
    return total, check if crc else -1


def crc_only(library: ModuleType, data: bytes, out_chunk: int) -> tuple[int, int]:
    check = 0
    view = memoryview(data)
    for start in range(0, len(data), out_chunk):
        check = library.crc32(view[start : start + out_chunk], check)
    return len(data), check


def unpacker(blob: bytes, library: ModuleType) -> tuple[int, int]:
    """tasklens' Unpacker on a whole container, fed as pipeline.py feeds compressed input, inflating
    with `library`."""
    from tasklens.tools.export import unpack

    native = unpack.deflate
    unpack.deflate = library
    try:
        reader = unpack.Unpacker(lambda name: None, lambda data: None, lambda: None, unpack.Limits())
        for start in range(0, len(blob), FEED):
            reader.feed(blob[start : start + FEED])
        reader.finish()
    finally:
        unpack.deflate = native
    return reader.out_bytes, -1


# ---- measurement -----------------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    mib: float
    seconds: dict[str, float] = field(default_factory=dict)

    def mib_s(self, library: str) -> float:
        return self.mib / self.seconds[library]

    @property
    def ratio(self) -> float:
        return self.mib_s("isal") / self.mib_s("zlib")


def best(row: Row, library: str, job: Callable[[], tuple[int, int]], expected: tuple[int, int]) -> None:
    started = time.perf_counter()
    got = job()
    seconds = time.perf_counter() - started
    if got[0] != expected[0] or (got[1] != -1 and got[1] != expected[1]):
        raise RuntimeError(f"{row.name} with {library} gave {got}, expected {expected}")
    row.seconds[library] = min(seconds, row.seconds.get(library, float("inf")))


def run(mib: int, repeat: int) -> list[Row]:
    from tasklens.tools.export.unpack import OUT_CHUNK
    from tasklens.tools.export.unpack import deflate as imported

    data = export_json(mib)
    size = len(data) / 2**20
    expected = (len(data), zlib.crc32(data))
    member, gz, archive = zip_member(data), gzip.compress(data, compresslevel=6), zip_archive(data)
    native = "isal" if imported is isal_zlib else "zlib"
    jobs: list[tuple[str, dict[str, Callable[[], tuple[int, int]]]]] = [
        (
            f"ZIP member, {len(data) / len(member):.1f}:1",
            {name: (lambda lib=lib: inflate(lib, member, -15, True, OUT_CHUNK)) for name, lib in LIBRARIES.items()},
        ),
        (
            f"gzip, {len(data) / len(gz):.1f}:1",
            {name: (lambda lib=lib: inflate(lib, gz, 31, False, OUT_CHUNK)) for name, lib in LIBRARIES.items()},
        ),
        ("CRC-32 only", {name: (lambda lib=lib: crc_only(lib, data, OUT_CHUNK)) for name, lib in LIBRARIES.items()}),
        (
            f"Unpacker on .zip (imports {native})",
            {"zlib": lambda: unpacker(archive, zlib), "isal": lambda: unpacker(archive, isal_zlib)},
        ),
        (
            f"Unpacker on .gz (imports {native})",
            {"zlib": lambda: unpacker(gz, zlib), "isal": lambda: unpacker(gz, isal_zlib)},
        ),
    ]
    rows = [Row(name, size) for name, _ in jobs]
    for _ in range(repeat):
        for row, (_, by_library) in zip(rows, jobs, strict=True):
            for library, job in by_library.items():
                best(row, library, job, expected)
    return rows


def report(rows: list[Row]) -> str:
    lines = [f"{'what':36} {'MiB':>6} {'zlib MiB/s':>11} {'isal MiB/s':>11} {'isal/zlib':>10}", "-" * 78]
    for row in rows:
        lines.append(
            f"{row.name:36} {row.mib:6.0f} {row.mib_s('zlib'):11.0f} {row.mib_s('isal'):11.0f} {row.ratio:9.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64, help="size of the uncompressed export in MiB")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the fastest of each counts")
    args = parser.parse_args(argv)
    rows = run(args.mib, args.repeat)
    print(
        f"python {sys.version.split()[0]}, zlib {zlib.ZLIB_RUNTIME_VERSION}, isal {isal.__version__}, "
        f"{os.cpu_count()} CPUs; load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
