"""A read reuses its freed buffers instead of faulting in fresh pages for each one (heap.py).

Counted in a fresh process, which reads a zipped NDJSON export once to warm up and then again: the
second read's minor page faults. With glibc's default thresholds that is ~150 per MiB of export here
(~480 for a JSON array in a ZIP); with the fixed ones ~10.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.export_fixtures import ExportGenerator, encode, wrap
from tasklens.tools.export.heap import keep_freed_buffers

EXPORT_MIB = 24
_READ_TWICE = """
import resource, sys, anyio
from tasklens.tools.export.pipeline import ExportReader, file_chunks, read_chunks

async def read() -> int:
    reader = ExportReader()
    with open(sys.argv[1], "rb", buffering=0) as file:
        await read_chunks(reader, file_chunks(file), None, None)
    return reader.accumulator.assets

anyio.run(read)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
anyio.run(read)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _second_read_faults(path: Path, *, tuned: bool) -> int:
    script = _READ_TWICE
    if not tuned:  # the same read with glibc's defaults: the tuning is made a no-op for this process
        script = "import tasklens.tools.export.pipeline as p\np.keep_freed_buffers = lambda: False\n" + script
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not keep_freed_buffers(), reason="the thresholds are glibc's")
def test_a_second_read_reuses_the_first_reads_buffers(tmp_path: Path) -> None:
    records = encode(list(ExportGenerator(5).assets(200)), "ndjson")
    path = tmp_path / "export.ndjson.zip"
    path.write_bytes(wrap(records * (EXPORT_MIB * 2**20 // len(records) + 1), "zip", "export.ndjson"))
    default = _second_read_faults(path, tuned=False)
    tuned = _second_read_faults(path, tuned=True)
    assert default > 75 * EXPORT_MIB, f"glibc's defaults faulted only {default} times: the test shows nothing"
    assert tuned < 25 * EXPORT_MIB, f"{tuned} page faults in a read of {EXPORT_MIB} MiB (defaults: {default})"
