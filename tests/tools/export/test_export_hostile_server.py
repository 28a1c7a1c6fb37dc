"""A hostile export against a real server process: refused at once, in bounded memory, while the same
server keeps answering other calls."""

from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from support.mcp_harness import text_of
from support.person import person_env

pytestmark = pytest.mark.anyio
GROWTH_MIB = 8  # what reading a bomb may add to the server's peak RSS: a chunk or two, not the input


def _server_peak_mib() -> float:
    """VmHWM of this process's `tasklens.server` child, in MiB."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in status and b"tasklens.server" in cmdline:
            kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
            return int(kib) / 1024
    raise AssertionError("no tasklens.server child process found")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the server's peak RSS from /proc")
async def test_whitespace_bombs_are_refused_at_once_while_get_task_answers(tmp_path: Path) -> None:
    (tmp_path / "ws.json.gz").write_bytes(gzip.compress(b"[" + b" " * (20 << 20) + b"]"))
    (tmp_path / "ws.ndjson.gz").write_bytes(gzip.compress(b"{" + b"\n" * (64 << 20)))
    env = {**person_env(), "TASKLENS_EXPORT_ROOTS": str(tmp_path)}
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "tasklens.server", "serve", "--sandbox"], env=env, cwd=str(tmp_path)
    )
    async with Client(parameters) as client:
        await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})  # warm
        before = _server_peak_mib()
        for name in ("ws.json.gz", "ws.ndjson.gz"):
            latencies: list[float] = []
            finished = anyio.Event()

            async def probe(finished: anyio.Event = finished, latencies: list[float] = latencies) -> None:
                while not finished.is_set():
                    started = time.perf_counter()
                    answer = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})
                    assert not answer.is_error
                    latencies.append(time.perf_counter() - started)
                    await anyio.sleep(0.02)

            async with anyio.create_task_group() as group:
                group.start_soon(probe)
                started = time.perf_counter()
                result = await client.call_tool("summarize_export", {"source": str(tmp_path / name)})
                elapsed = time.perf_counter() - started
                finished.set()
            assert result.is_error and "blank space" in text_of(result), text_of(result)
            assert elapsed < 2.0, (name, elapsed)
            assert latencies and max(latencies) < 0.5, (name, latencies)
        peak = _server_peak_mib()
    print(f"server peak RSS {before:.0f} MiB before the bombs, {peak:.0f} MiB after")
    assert peak - before <= GROWTH_MIB
