"""A smoke-sized run of the benchmark, so it cannot silently rot. Its figures are printed, not judged."""

from __future__ import annotations

import pytest
from bench_get_task import report, run

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
