"""Benchmark: what does tasklens add on top of the bare provider HTTP call?

One run measures, against the same sandbox on loopback:
  * baseline: the bare provider call (`GET /v0.7/tasks/{id}/` with httpx, keep-alive);
  * get_task through the official MCP client over stdio (`tasklens serve` as a subprocess);
  * get_task through the official MCP client over streamable HTTP (`tasklens serve --http` as a subprocess);
at concurrency 1 and 16, printing p50/p95 latency and calls/s, and the server's overhead as a
difference and a ratio against the baseline measured in the same run. Not a pass/fail test: the figures
depend on the machine. The servers run with a very high client-side rate limit so that the limiter
(which exists to protect the real provider) does not dominate what is measured.

    python benchmarks/bench_get_task.py                # 400 calls per cell
    python benchmarks/bench_get_task.py --calls 20     # a smoke-sized run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/support, as a script too

from support.mcp_harness import wait_for_http  # noqa: E402
from support.ports import free_port  # noqa: E402
from tasklens.server.sandbox import SANDBOX_KEYS, Sandbox, serve_on_loopback  # noqa: E402

TASK_ID = "269999729"
CONCURRENCY = (1, 16)


@dataclass
class Cell:
    name: str
    concurrency: int
    latencies: list[float]
    wall_s: float

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000

    @property
    def calls_per_s(self) -> float:
        return len(self.latencies) / self.wall_s


async def measure(name: str, call: Callable[[], Awaitable[None]], calls: int, concurrency: int) -> Cell:
    for _ in range(min(10, calls)):  # warm connections and caches
        await call()
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return Cell(name, concurrency, latencies, time.perf_counter() - started)


def server_env(origin: str, sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_API_URL"))}
    env.update(
        {
            "DEEPOMATIC_API_URL": sandbox.base_url("deepomatic", origin=origin),
            "DEEPOMATIC_API_KEY": SANDBOX_KEYS["deepomatic"],
            "DEEPOMATIC_REQUESTS_PER_MINUTE": "100000000",
            "TASKLENS_LOG_LEVEL": "WARNING",
        }
    )
    return env


async def run(calls: int) -> list[Cell]:
    sandbox = Sandbox()
    cells: list[Cell] = []
    async with serve_on_loopback(sandbox) as origin:
        env = server_env(origin, sandbox)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(
            base_url=sandbox.base_url("deepomatic", origin=origin),
            headers={"X-API-KEY": SANDBOX_KEYS["deepomatic"]},
            limits=limits,
        ) as bare:

            async def baseline() -> None:
                (await bare.get(f"/v0.7/tasks/{TASK_ID}/")).raise_for_status()

            for concurrency in CONCURRENCY:
                cells.append(await measure("bare provider HTTP", baseline, calls, concurrency))

        stdio = StdioServerParameters(command=sys.executable, args=["-m", "tasklens.server", "serve"], env=env)
        async with Client(stdio) as client:
            for concurrency in CONCURRENCY:
                cells.append(await measure("get_task via MCP stdio", _tool_call(client), calls, concurrency))

        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tasklens.server", "serve", "--http", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            await wait_for_http(url, process)
            async with Client(url) as client:
                for concurrency in CONCURRENCY:
                    cells.append(
                        await measure("get_task via MCP streamable HTTP", _tool_call(client), calls, concurrency)
                    )
        finally:
            process.terminate()
            process.wait(timeout=10)
    return cells


def _tool_call(client: Client) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": TASK_ID})
        if result.is_error:
            raise RuntimeError(str(result.content))

    return call


def report(cells: list[Cell]) -> str:
    baseline = {cell.concurrency: cell for cell in cells if cell.name == "bare provider HTTP"}
    lines = [
        f"{'path':34} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'calls/s':>9}   overhead vs bare (p50: +ms, ×)",
    ]
    for cell in cells:
        base = baseline[cell.concurrency]
        overhead = ""
        if cell is not base:
            overhead = (
                f"+{cell.p50_ms - base.p50_ms:.2f} ms, ×{cell.p50_ms / base.p50_ms:.2f}; "
                f"calls/s ×{cell.calls_per_s / base.calls_per_s:.2f}"
            )
        lines.append(
            f"{cell.name:34} {cell.concurrency:>4} {cell.p50_ms:>8.2f} {cell.p95_ms:>8.2f} "
            f"{cell.calls_per_s:>9.0f}   {overhead}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400, help="calls per cell (default 400)")
    args = parser.parse_args()
    cells = anyio.run(run, args.calls)
    sys.stdout.write(report(cells) + "\n")


if __name__ == "__main__":
    main()
