"""Replicas behind one load balancer, as processes: one Redis, one sandbox, N `tasklens serve --http`.

This is the deployment of `deploy/compose.yaml` without containers. Eight callers send a mix of
get_task and poll_task calls round-robin across the replicas (each caller is its own load balancer:
the next call goes to the next replica, and a call that finds its replica gone is retried on the next
one). Afterwards the sandbox's request log says what reached the provider APIs, and each replica's JSON
log says what it sent and why.

    python benchmarks/replicas.py --check      # the team bars: 3 replicas, Ango at 100/min, 60 s of load,
                                               # a replica killed at 1/3 and Redis stopped at 2/3
    python benchmarks/replicas.py --bench      # calls/s and p50/p99 for 1 vs 3 replicas, as a ratio

`--check` exits 1 when a bar is missed: more Ango requests in some 60 s window than the rate, a wrong
answer, a 429 reaching a caller, a hung call, or a replica over its fallback share while Redis is down.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/support, as a script too

from support.mcp_harness import wait_for_http  # noqa: E402
from support.ports import free_port  # noqa: E402
from support.redis_server import RedisServer, redis_binary  # noqa: E402
from tasklens.server.sandbox import SANDBOX_KEYS, catalog  # noqa: E402

WINDOW_S = 60.0
CALL_TIMEOUT_S = 45.0  # a call waits at most its 30 s deadline for a rate slot; more than this is a hang
PACED = "tasklens is holding"  # the start of tasklens's own refusal when no rate slot frees in time


@dataclass
class Replica:
    index: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # a line some library wrote past the JSON formatter
        return lines


@dataclass
class Topology:
    """Redis (when `shared`), a sandbox and `replicas` servers, started in `workdir`, stopped on exit."""

    workdir: Path
    replicas: int = 3
    shared: bool = True
    rates: dict[str, int] | None = None  # None: `--sandbox` with the default rates; else explicit provider variables
    redis: RedisServer | None = None
    sandbox: subprocess.Popen[bytes] | None = None
    origin: str = ""
    servers: list[Replica] = field(default_factory=list)

    async def __aenter__(self) -> Topology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.shared:
                self.redis = RedisServer(redis_binary(), self.workdir)
                self.redis.start()
            port = free_port()
            self.origin = f"http://127.0.0.1:{port}"
            self.sandbox = subprocess.Popen(
                [sys.executable, "-m", "tasklens.server", "sandbox", "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await wait_for_http(f"{self.origin}/_sandbox/catalog", self.sandbox)
            for index in range(self.replicas):
                self.servers.append(self._start(index))
            for server in self.servers:
                await wait_for_http(f"http://127.0.0.1:{server.port}/healthz", server.process)
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _start(self, index: int) -> Replica:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKLENS_", "ANGO_", "DEEPOMATIC_"))}
        env.update(
            {"TASKLENS_LOG_FORMAT": "json", "TASKLENS_LOG_LEVEL": "INFO", "TASKLENS_REPLICAS": str(self.replicas)}
        )
        args = [sys.executable, "-m", "tasklens.server", "serve", "--http", "--port", str(port)]
        if self.rates is None:
            args.append("--sandbox")
            env["TASKLENS_SANDBOX_URL"] = self.origin
        else:
            for provider in ("ango", "deepomatic"):
                prefix = provider.upper()
                env[f"{prefix}_API_URL"] = f"{self.origin}/{provider}"
                env[f"{prefix}_API_KEY"] = SANDBOX_KEYS[provider]
            for provider, rate in self.rates.items():
                env[f"{provider.upper()}_REQUESTS_PER_MINUTE"] = str(rate)
        if self.redis is not None:
            env["TASKLENS_REDIS_URL"] = self.redis.url
        log = self.workdir / f"replica-{index}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        return Replica(index, port, process, log)

    def kill(self, index: int) -> None:
        self.servers[index].process.kill()
        self.servers[index].process.wait(timeout=10)

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    async def requests(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            return list((await http.get(f"{self.origin}/_sandbox/requests")).json())

    def close(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
        if self.sandbox is not None and self.sandbox.poll() is None:
            self.sandbox.terminate()
            self.sandbox.wait(timeout=10)
        if self.redis is not None:
            self.redis.stop()


# ---- the load ------------------------------------------------------------------------------------

ANGO_TASKS = (catalog.ANGO_LABEL_TODO_TASK, catalog.ANGO_REVIEW_TODO_TASK, catalog.ANGO_HOLD_TASK)
MIXED_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    *(("get_task", {"provider": "ango", "task_id": task}) for task in ANGO_TASKS),
    ("get_task", {"provider": "deepomatic", "task_id": catalog.DEEPOMATIC_DOC_TASK}),
    ("poll_task", {"provider": "ango", "task_ids": list(ANGO_TASKS[:2]), "wait_s": 2, "until": "actionable"}),
    ("poll_task", {"provider": "deepomatic", "task_ids": [catalog.DEEPOMATIC_DOC_TASK], "wait_s": 2}),
)
DEEPOMATIC_CALLS = (("get_task", {"provider": "deepomatic", "task_id": catalog.DEEPOMATIC_DOC_TASK}),)


def answer(result: Any) -> Any:
    """What must not change between replicas: each task's state and stage, or a poll's counts."""
    content = result.structured_content or {}
    if "counts" in content:
        return (content.get("counts"), content.get("all_terminal"))
    return (content.get("state"), content.get("stage"), content.get("status"))


@dataclass
class Load:
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def calls_per_s(self) -> float:
        return len(self.latencies) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def drive(
    topology: Topology,
    seconds: float,
    *,
    callers: int = 8,
    calls: tuple[tuple[str, dict[str, Any]], ...] = MIXED_CALLS,
    expected: dict[int, Any] | None = None,
    events: tuple[tuple[float, Any], ...] = (),
    pause_s: float = 0.0,
    persistent: bool = False,
) -> Load:
    """`callers` callers round-robin across the live replicas for `seconds`, each pausing `pause_s` between
    calls; `events` are (at s, action)."""
    load = Load()
    down: set[int] = set()
    started = time.monotonic()
    end = started + seconds

    async def caller(number: int) -> None:
        urls = [server.url for server in topology.servers]
        async with AsyncExitStack() as stack:
            # Kept clients, one per replica, where no replica goes away: the caller then measures the
            # servers rather than its own connection setup.
            kept = [await stack.enter_async_context(Client(url)) for url in urls] if persistent else None
            await calls_from(number, urls, kept)

    async def calls_from(number: int, urls: list[str], kept: list[Client] | None) -> None:
        turn = number
        while time.monotonic() < end:
            which = (number + turn) % len(calls)
            name, arguments = calls[which]
            turn += 1
            for attempt in range(len(urls)):
                index = (number + turn + attempt) % len(urls)
                if index in down:
                    continue
                began = time.monotonic()
                try:
                    with anyio.fail_after(CALL_TIMEOUT_S):
                        if kept is not None:
                            result = await kept[index].call_tool(name, arguments)
                        else:
                            # A client per call, as a caller behind a load balancer has: one that fails
                            # stays inside this `async with` instead of cancelling the task that opened it.
                            async with Client(urls[index]) as client:
                                result = await client.call_tool(name, arguments)
                except TimeoutError:
                    load.outcomes["hung"] += 1
                    break
                except Exception:  # the replica is gone: a load balancer would send the call elsewhere
                    down.add(index)
                    load.outcomes["retried on another replica"] += 1
                    continue
                load.latencies.append(time.monotonic() - began)
                if result.is_error:
                    text = " ".join(getattr(part, "text", "") for part in result.content)
                    kind = "paced by tasklens" if PACED in text else "429" if "429" in text else "error"
                    load.outcomes[kind] += 1
                    if kind == "error":
                        load.wrong.append(f"{name} {arguments}: {text[:200]}")
                elif expected is not None and answer(result) != expected[which]:
                    load.outcomes["wrong"] += 1
                    load.wrong.append(f"{name} {arguments}: {answer(result)} != {expected[which]}")
                else:
                    load.outcomes["right"] += 1
                break
            else:
                load.outcomes["no replica left"] += 1
                await anyio.sleep(0.5)
            await anyio.sleep(pause_s)

    async def timeline() -> None:
        for at, action in events:
            await anyio.sleep(max(0.0, started + at - time.monotonic()))
            action()

    async with anyio.create_task_group() as group:
        group.start_soon(timeline)
        for number in range(callers):
            group.start_soon(caller, number)
    load.elapsed_s = time.monotonic() - started
    return load


async def expected_answers(topology: Topology, calls: tuple[tuple[str, dict[str, Any]], ...]) -> dict[int, Any]:
    """Each call's answer through one replica before the load starts: the answer every replica must give."""
    async with Client(topology.servers[0].url) as client:
        found = {}
        for index, (name, arguments) in enumerate(calls):
            result = await client.call_tool(name, arguments)
            if result.is_error:
                raise RuntimeError(f"{name} failed before the load: {result.content}")
            found[index] = answer(result)
            if not any(found[index]):
                raise RuntimeError(f"{name} answered without a state to compare: {result.structured_content}")
        return found


async def summary_across(topology: Topology) -> bool:
    """Whether a summarize_export result kept through the first replica reads back through the last."""
    async with Client(topology.servers[0].url) as first:
        made = await first.call_tool("summarize_export", {"source": f"ango:{catalog.ANGO_PROJECT}", "top_k": 3})
    uri = (made.structured_content or {}).get("resource")
    if made.is_error or not uri:
        return False
    async with Client(topology.servers[-1].url) as last:
        contents = (await last.read_resource(uri)).contents
    return bool(contents) and json.loads(getattr(contents[0], "text", "{}")).get("resource") == uri


def most_in_window(times: list[float], window_s: float = WINDOW_S) -> int:
    """The most `times` that fall in any `window_s` seconds (two pointers over the sorted times)."""
    ordered = sorted(times)
    most = first = 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def upstream_sends(replica: Replica, provider: str, since_wall: float = 0.0) -> list[float]:
    """Wall times of `replica`'s logged requests to `provider` (the HTTP policy's line per exchange)."""
    sends = []
    for line in replica.log_lines():
        if str(line.get("message", "")).startswith(f"upstream {provider} "):
            at = datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00")).timestamp()
            if at >= since_wall:
                sends.append(at)
    return sends


# ---- the two runs ------------------------------------------------------------------------------------


DEFAULT_RATES = {"ango": 100, "deepomatic": 600}  # the providers the load calls, at their documented rates


async def check(
    workdir: Path,
    seconds: float,
    rates: dict[str, int] | None = None,
    *,
    kill_at: float | None = None,
    redis_stop_at: float | None = None,
    callers: int = 8,
    pause_s: float = 0.0,
) -> list[str]:
    """The team bars; returns the missed ones (empty: all met) after printing the figures.

    Replica 2 is killed at `kill_at` (default a quarter of the run) and Redis stopped at `redis_stop_at`
    (default 5/12: before callers park in the waits of a full Ango window, so calls meet the outage).
    `rates` lowers the providers' rates (explicit provider variables instead of `--sandbox`), so that a
    short run still fills a window."""
    failures: list[str] = []
    limits = {**DEFAULT_RATES, **(rates or {})}
    async with Topology(workdir, replicas=3, shared=True, rates=rates) as topology:
        shared_summary = await summary_across(topology)
        print(f"summary made through replica 1, read through replica 3: {shared_summary}")
        if not shared_summary:
            failures.append("a summary made through replica 1 was not readable through replica 3")
        expected = await expected_answers(topology, MIXED_CALLS)
        stopped_at: list[float] = []

        def stop_redis() -> None:
            stopped_at.append(time.time())
            topology.stop_redis()

        events = sorted(
            [
                (seconds / 4 if kill_at is None else kill_at, lambda: topology.kill(1)),
                (5 * seconds / 12 if redis_stop_at is None else redis_stop_at, stop_redis),
            ],
            key=lambda event: event[0],
        )
        load = await drive(topology, seconds, callers=callers, expected=expected, events=tuple(events), pause_s=pause_s)
        async with httpx.AsyncClient() as http:
            for replica in (topology.servers[0], topology.servers[2]):
                ready = await http.get(f"http://127.0.0.1:{replica.port}/readyz")
                reason = ready.json().get("reason", "")
                print(f"replica {replica.index + 1} readiness with Redis stopped: {ready.status_code} {reason}")
                if ready.status_code != 503:
                    failures.append(f"replica {replica.index + 1} said it was ready while Redis was stopped")
        log = await topology.requests()
        print(f"calls: {sum(load.outcomes.values())} in {load.elapsed_s:.0f} s: {dict(load.outcomes)}")
        print(f"429s the sandbox answered: {sum(1 for entry in log if entry['status'] == 429)}")
        for kind in ("wrong", "429", "hung", "error"):
            if load.outcomes[kind]:
                failures.append(f"{load.outcomes[kind]} calls {kind}: {load.wrong[:3]}")
        for provider, limit in limits.items():
            # The API's requests; an export's download goes to storage in production, outside the API's limit.
            sent = [e["at"] for e in log if e["provider"] == provider and "/exports/" not in e["path"]]
            most = most_in_window(sent)
            print(f"{provider} requests: {len(sent)}; most in any {WINDOW_S:.0f} s window: {most} (rate {limit})")
            if most > limit:
                failures.append(f"{most} {provider} requests in one window, over {limit}")
            share = limit // 3
            for replica in (topology.servers[0], topology.servers[2]):
                after = upstream_sends(replica, provider, stopped_at[0]) if stopped_at else []
                print(f"  replica {replica.index + 1}: {len(after)} after Redis stopped (its share {share})")
                if most_in_window(after) > share:
                    failures.append(
                        f"replica {replica.index + 1} sent {most_in_window(after)} {provider} requests alone"
                    )
        for replica in (topology.servers[0], topology.servers[2]):
            said = [str(line["message"]) for line in replica.log_lines() if "Redis at" in str(line.get("message"))]
            print(f"replica {replica.index + 1} logged: {said[-1] if said else 'nothing about Redis'}")
            if not any("unreachable" in message for message in said):
                failures.append(f"replica {replica.index + 1} did not log that Redis was unreachable")
    return failures


async def bench(workdir: Path, seconds: float) -> None:
    """calls/s and p50/p99 of Deepomatic get_task for 1 vs 3 replicas, same callers, same machine.

    Deepomatic's rate is set out of reach so that every call goes upstream: the figures are the servers',
    not the limiter's. Every call must be answered rightly; the run stops at the first that is not."""
    rows = []
    for replicas in (1, 3):
        topology = Topology(workdir / f"r{replicas}", replicas=replicas, shared=True, rates={"deepomatic": 10**8})
        async with topology:
            expected = await expected_answers(topology, DEEPOMATIC_CALLS)  # warms every path once
            load = await drive(topology, seconds, calls=DEEPOMATIC_CALLS, expected=expected, persistent=True)
            if set(load.outcomes) != {"right"}:
                raise RuntimeError(f"{replicas} replicas: not every call was answered rightly: {dict(load.outcomes)}")
            rows.append((replicas, load))
    base = rows[0][1]
    print(f"{'replicas':>8} {'calls':>7} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8}   vs 1 replica")
    for replicas, load in rows:
        print(
            f"{replicas:>8} {len(load.latencies):>7} {load.calls_per_s:>8.1f} {load.percentile(0.5):>8.1f} "
            f"{load.percentile(0.99):>8.1f}   calls/s ×{load.calls_per_s / base.calls_per_s:.2f}, "
            f"p50 ×{load.percentile(0.5) / base.percentile(0.5):.2f}, "
            f"p99 ×{load.percentile(0.99) / base.percentile(0.99):.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the team bars (exit 1 when one is missed)")
    parser.add_argument("--bench", action="store_true", help="calls/s and p50/p99 for 1 vs 3 replicas")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load per run (default 60)")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs go (default a temporary folder)")
    args = parser.parse_args()
    if not (args.check or args.bench):
        parser.error("choose --check, --bench or both")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tasklens-replicas-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        failures: list[str] = []
        if args.check:
            failures = anyio.run(check, workdir, args.seconds)
        if args.bench:
            anyio.run(bench, workdir, args.seconds)
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
