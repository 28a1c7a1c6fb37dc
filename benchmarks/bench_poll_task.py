"""Benchmark: waiting for 1,000 Deepomatic tasks that finish at random times.

One run, one sandbox on real loopback HTTP with a wall clock (tasks really finish while we wait), four
ways of learning that the tasks are done, each on its own fresh set of tasks:

  (a) the official SDK, `deepomatic-api` 1.0.0 (pip install -e ".[bench]"), pointed at the sandbox with
      DEEPOMATIC_API_URL: `Task.batch_wait` over all ids, and `Task.wait` per task on a thread pool;
  (b) an agent-style loop: `get_task` for every unfinished task every 2 s, through an MCP client
      (`tasklens serve` over stdio);
  (c) `poll_task` through the same MCP client, as an agent would use it: the ids in chunks of 100, one
      call per chunk at a time, called again with the ids still unfinished until none is left.

For each it prints the upstream requests (from the sandbox's request log), the detection latency (task
finish -> the moment the caller learned it; p50/p95) and, for (b) and (c), the tokens of the tool results
the agent had to read (o200k_base), with ratios against batch_wait and the agent loop measured in the
same run. `batch_wait` only returns when every task is done, so its caller learns everything at once; the
moment the SDK itself first saw each task finish is printed beside it. The server runs with a very high
client-side rate limit so that the limiter does not decide the agent loop's figures. Not a pass/fail
test: the figures depend on the machine (and on whoever else shares its CPU).

    python benchmarks/bench_poll_task.py                           # 1,000 tasks finishing within 20-40 s
    python benchmarks/bench_poll_task.py --tasks 100 --finish 2 4  # a quick run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
from bench_get_task import server_env
from mcp import Client, StdioServerParameters

from support.mcp_harness import tokens
from tasklens.server.sandbox import SANDBOX_KEYS, Sandbox, serve_on_loopback
from tasklens.server.sandbox.requestlog import RequestLog

ERROR_RATE = 0.1
CHUNK = 100  # poll_task takes at most 100 ids per call
AGENT_PERIOD_S = 2.0
AGENT_CONCURRENCY = 32


@dataclass
class Run:
    name: str
    requests: int
    latencies: list[float]
    wall_s: float
    tokens: int | None = None
    calls: int | None = None
    notes: list[str] = field(default_factory=list)

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Scenario:
    """A fresh set of tasks, the moment each finishes, and the moment the caller learned it."""

    sandbox: Sandbox
    ids: list[str]
    finish: dict[str, float]
    learned: dict[str, float] = field(default_factory=dict)
    started: float = 0.0

    @classmethod
    def create(cls, sandbox: Sandbox, n: int, window: tuple[float, float], seed: int) -> Scenario:
        ids = sandbox.add_deepomatic_tasks(n, finish_between=window, error_rate=ERROR_RATE, seed=seed)
        finish = {task_id: sandbox.deepomatic_finish_time(task_id) or 0.0 for task_id in ids}
        sandbox.requests.clear()
        return cls(sandbox, ids, finish, started=sandbox.clock.now())

    def learn(self, task_id: str) -> None:
        self.learned.setdefault(task_id, self.sandbox.clock.now())

    def result(self, name: str, **extra: Any) -> Run:
        missing = set(self.ids) - set(self.learned)
        if missing:
            raise RuntimeError(f"{name}: {len(missing)} tasks were never reported done")
        latencies = [self.learned[i] - self.finish[i] for i in self.ids]
        if min(latencies) < 0:
            raise RuntimeError(f"{name}: a task was reported done before it finished")
        requests = len(self.sandbox.requests.for_provider("deepomatic"))
        return Run(name, requests, latencies, self.sandbox.clock.now() - self.started, **extra)


# ---- (a) the official SDK ---------------------------------------------------------------------------


def sdk_client(origin: str) -> Any:
    from deepomatic.api.client import Client as DeepomaticClient  # the bench extra

    return DeepomaticClient(api_key=SANDBOX_KEYS["deepomatic"], host=f"{origin}/deepomatic")


async def sdk_batch_wait(sandbox: Sandbox, origin: str, n: int, window: tuple[float, float]) -> Run:
    scenario = Scenario.create(sandbox, n, window, seed=101)
    client = sdk_client(origin)
    resource = client.Task
    seen: dict[str, float] = {}
    refresh = resource._refresh_tasks_status

    def observed_refresh(pending: Any, success: Any, error: Any, positions: Any) -> Any:
        outcome = refresh(pending, success, error, positions)
        for _, task in success + error:
            seen.setdefault(str(task.pk), sandbox.clock.now())
        return outcome

    resource._refresh_tasks_status = observed_refresh  # to also print when the SDK itself saw each one
    tasks = [resource.retrieve(task_id) for task_id in scenario.ids]
    pending, _, _ = await anyio.to_thread.run_sync(lambda: resource.batch_wait(tasks=tasks, timeout=window[1] + 60))
    if pending:
        raise RuntimeError(f"batch_wait timed out with {len(pending)} pending")
    for task_id in scenario.ids:
        scenario.learn(task_id)  # batch_wait returns once, with everything
    run = scenario.result("deepomatic-api Task.batch_wait")
    inner = sorted(seen[i] - scenario.finish[i] for i in scenario.ids)
    run.notes.append(
        f"batch_wait returns only when all are done; the SDK itself saw them after p50 "
        f"{statistics.median(inner):.2f} s, p95 {inner[int(round(0.95 * (len(inner) - 1)))]:.2f} s"
    )
    return run


async def sdk_wait_per_task(sandbox: Sandbox, origin: str, n: int, window: tuple[float, float], threads: int) -> Run:
    from deepomatic.api.exceptions import TaskError

    scenario = Scenario.create(sandbox, n, window, seed=102)
    local = threading.local()

    def wait(task_id: str) -> None:
        if not hasattr(local, "client"):
            local.client = sdk_client(origin)
        try:
            local.client.Task.retrieve(task_id).wait(timeout=window[1] + 60)
        except TaskError:
            pass  # an `error` task: the caller learned it finished (badly)
        scenario.learn(task_id)

    def run_all() -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(wait, scenario.ids))

    await anyio.to_thread.run_sync(run_all)
    run = scenario.result(f"deepomatic-api Task.wait, {threads} threads")
    run.notes.append(f"one Task.wait per task on {threads} threads, tasks taken in id order")
    return run


# ---- (b) and (c) through an MCP client ----------------------------------------------------------------


async def agent_loop(client: Client, sandbox: Sandbox, n: int, window: tuple[float, float]) -> Run:
    scenario = Scenario.create(sandbox, n, window, seed=103)
    pending = list(scenario.ids)
    spent = calls = 0
    slots = anyio.Semaphore(AGENT_CONCURRENCY)

    async def check(task_id: str) -> None:
        nonlocal spent, calls
        async with slots:
            result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": task_id})
        calls += 1
        spent += tokens(result.structured_content)
        if not result.is_error and result.structured_content.get("terminal"):
            scenario.learn(task_id)

    while pending:
        tick = time.monotonic()
        async with anyio.create_task_group() as group:
            for task_id in pending:
                group.start_soon(check, task_id)
        pending = [task_id for task_id in pending if task_id not in scenario.learned]
        await anyio.sleep(max(0.0, AGENT_PERIOD_S - (time.monotonic() - tick)))
    return scenario.result(f"agent loop: get_task every {AGENT_PERIOD_S:.0f} s", tokens=spent, calls=calls)


async def poll_task_agent(client: Client, sandbox: Sandbox, n: int, window: tuple[float, float], wait_s: float) -> Run:
    scenario = Scenario.create(sandbox, n, window, seed=104)
    spent = calls = 0

    async def watch(chunk: list[str]) -> None:
        nonlocal spent, calls
        pending = chunk
        while pending:
            result = await client.call_tool(
                "poll_task", {"provider": "deepomatic", "task_ids": pending, "wait_s": wait_s}
            )
            calls += 1
            if result.is_error:
                raise RuntimeError(str(result.content))
            data = result.structured_content
            spent += tokens(data)
            for group in data["tasks"]:
                for task_id in group["ids"]:
                    if group.get("terminal"):
                        scenario.learn(task_id)
            pending = [task_id for group in data["tasks"] if not group.get("terminal") for task_id in group["ids"]]
            if pending:
                await anyio.sleep(data.get("next_poll_s", 1))

    async with anyio.create_task_group() as group:
        for start in range(0, n, CHUNK):
            group.start_soon(watch, scenario.ids[start : start + CHUNK])
    run = scenario.result(f"poll_task, wait_s={wait_s:g}, chunks of {CHUNK}", tokens=spent, calls=calls)
    run.notes.append(f"{-(-n // CHUNK)} concurrent chunks, each called again with its unfinished ids")
    return run


# ---- one run ------------------------------------------------------------------------------------------


async def run(
    n: int = 1000,
    window: tuple[float, float] = (20.0, 40.0),
    threads: int = 100,
    wait_s: float = 30.0,
    sdk: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> list[Run]:
    sandbox = Sandbox()  # wall clock: tasks finish in real time
    sandbox.requests = RequestLog(maxlen=1_000_000)
    runs: list[Run] = []
    async with serve_on_loopback(sandbox) as origin:
        if sdk:
            for scenario in (
                lambda: sdk_batch_wait(sandbox, origin, n, window),
                lambda: sdk_wait_per_task(sandbox, origin, n, window, threads),
            ):
                runs.append(await _logged(scenario, log))
        env = server_env(origin, sandbox)
        stdio = StdioServerParameters(command=sys.executable, args=["-m", "tasklens.server", "serve"], env=env)
        async with Client(stdio) as client:
            runs.append(await _logged(lambda: agent_loop(client, sandbox, n, window), log))
            runs.append(await _logged(lambda: poll_task_agent(client, sandbox, n, window, wait_s), log))
    return runs


async def _logged(scenario: Callable[[], Awaitable[Run]], log: Callable[[str], None]) -> Run:
    result = await scenario()
    log(f"  done: {result.name} ({result.wall_s:.1f} s)")
    return result


def report(runs: list[Run]) -> str:
    by_name = {r.name: r for r in runs}
    batch = next((r for r in runs if r.name.startswith("deepomatic-api Task.batch_wait")), None)
    agent = next(r for r in runs if r.name.startswith("agent loop"))
    lines = [f"{'how the caller waits':42} {'requests':>9} {'p50 s':>7} {'p95 s':>7} {'calls':>7} {'tokens':>10}"]
    for r in runs:
        lines.append(
            f"{r.name:42} {r.requests:>9} {r.p(0.5):>7.2f} {r.p(0.95):>7.2f} "
            f"{r.calls if r.calls is not None else '':>7} {r.tokens if r.tokens is not None else '':>10}"
        )
    poll = next(r for r in runs if r.name.startswith("poll_task"))
    lines.append("")
    lines.append(
        f"poll_task vs agent loop: {agent.requests / max(1, poll.requests):.1f}x fewer requests, "
        f"{(agent.tokens or 0) / max(1, poll.tokens or 0):.1f}x fewer tokens, "
        f"p95 {poll.p(0.95):.2f} s vs {agent.p(0.95):.2f} s"
    )
    if batch is not None:
        lines.append(
            f"poll_task vs batch_wait: requests x{poll.requests / max(1, batch.requests):.2f}, "
            f"p95 {poll.p(0.95):.2f} s vs {batch.p(0.95):.2f} s (caller learned)"
        )
    for r in by_name.values():
        for note in r.notes:
            lines.append(f"- {r.name}: {note}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument(
        "--finish",
        type=float,
        nargs=2,
        default=(20.0, 40.0),
        metavar=("FROM_S", "TO_S"),
        help="tasks finish uniformly within this window after creation (default 20 40)",
    )
    parser.add_argument("--threads", type=int, default=100, help="thread pool of the per-task Task.wait run")
    parser.add_argument("--wait-s", type=float, default=30.0, help="poll_task's wait_s (default 30)")
    args = parser.parse_args()
    os.environ.setdefault("TASKLENS_LOG_LEVEL", "WARNING")
    runs = anyio.run(
        lambda: run(
            args.tasks, tuple(args.finish), args.threads, args.wait_s, log=lambda line: sys.stderr.write(line + "\n")
        )
    )
    sys.stdout.write(report(runs) + "\n")


if __name__ == "__main__":
    main()
