"""A smoke-sized run of the benchmark, so it cannot silently rot. Its figures are printed, not judged."""

from __future__ import annotations

import importlib.util

import pytest
from bench_get_task import report, run
from bench_poll_task import report as poll_report
from bench_poll_task import run as poll_run

pytestmark = pytest.mark.anyio


async def test_get_task_benchmark_smoke() -> None:
    cells = await run(calls=12)
    assert {cell.name for cell in cells} == {
        "bare provider HTTP",
        "get_task via MCP stdio",
        "get_task via MCP streamable HTTP",
    }
    assert all(len(cell.latencies) == 12 for cell in cells)
    print(report(cells))


async def test_poll_task_benchmark_smoke() -> None:
    """30 tasks finishing within 1-2 s; the SDK baselines run when the bench extra is installed."""
    sdk = importlib.util.find_spec("deepomatic") is not None
    runs = await poll_run(n=30, window=(1.0, 2.0), threads=10, wait_s=10, sdk=sdk)
    assert len(runs) == (4 if sdk else 2)
    assert all(len(r.latencies) == 30 and min(r.latencies) >= 0 and r.requests > 0 for r in runs)
    assert all(r.tokens for r in runs if not r.name.startswith("deepomatic-api"))
    print(poll_report(runs))
