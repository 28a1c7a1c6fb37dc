"""Fault soak: many tool calls through the MCP client against a loopback sandbox that faults 20% of requests.

Run the long version with `python benchmarks/soak.py --calls 5000` (or `TASKLENS_SOAK_CALLS=5000 python -m
pytest tests/test_fault_soak.py -s`); tests/test_fault_soak.py runs a short one on every test run.

Setup:
- **Sandbox.** Served on real loopback HTTP, so resets, truncated bodies and read timeouts are real socket
  events. Its clock is frozen, so a task reads the same every time.
- **Faults.** Each provider request is faulted with probability `rate`. The kinds are 429 with
  `Retry-After`, 500, 502, 503, 504, reset, slow past the read timeout, malformed, truncated and an HTML
  page.
- **Calls.** Every tool in tools/list, on every catalog task (tests/support/catalog_calls.py), in a seeded random
  order, one after the other.
- **Policy.** The production RetryPolicy, except a 0.2 s read timeout, so a slow fault costs 0.2 s and not
  10 s. Waits (backoff, `Retry-After`) are skipped by WarpTime, but still count against each call's
  deadline. tasklens' own rate limiter is off: it would throttle thousands of calls a minute, and it has
  its own tests.

Checks, per call:
- **Result.** Exactly the fault-free result of the same call, or a clean isError sentence. The one
  exception is a documented degraded answer: `unknown`, with the reason in `detail`, when a fault hit
  one of the call's reads. A call never crashes and never hangs.
- **Deadline.** It ends within the policy deadline on its own clock.
- **Retries.** They stay within policy, seen from both ends.
  - From the sandbox's request log: no logical request makes more than max_attempts attempts, and a 500
    is retried once at most.
  - From the policy's own retry log lines: nothing but a timeout, a broken connection, 429, 502, 503,
    504 or a first 500 is ever retried. The client's view is needed here. Under load a 200 can come
    after the read timeout has already fired, and the sandbox logs it as a plain 200.

Leaks: file descriptors (sockets included), threads and asyncio tasks are counted before the server
starts and after it stops. Open descriptors are also sampled during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/support, as a script too

from support.catalog_calls import catalog_calls, unthrottled_server  # noqa: E402
from support.clocks import WarpTime  # noqa: E402
from support.mcp_harness import text_of  # noqa: E402
from support.result_checks import check_result, poll_rows  # noqa: E402
from tasklens.server.sandbox import ManualClock, Sandbox, serve_on_loopback  # noqa: E402
from tasklens.tools.http.policy import RetryPolicy  # noqa: E402
from tasklens.tools.providers import Runtime  # noqa: E402

FAULT_KINDS = ("429", "500", "502", "503", "504", "reset", "slow", "malformed", "truncated", "html")
RETRY = RetryPolicy(read_timeout_s=0.2, connect_timeout_s=1.0)  # production values otherwise
SLOW_DELAY_S = 0.4  # a slow answer comes well after the read timeout has fired
RETRY_AFTER_S = 1
HANG_S = 20.0  # real seconds after which a call counts as hung
RETRYABLE_STATUSES = {0, 429, 500, 502, 503, 504}  # 0: no response reached the client (reset, slow)
READS_EACH_PATH_ONCE = {"get_task"}  # tools that make one logical request per upstream path
# "<provider> GET: HTTP 503, retry 2 in 0.37 s" or "<provider> GET: timeout, retry 1 in 0.20 s"
RETRY_LINE = re.compile(r": (?:HTTP (?P<status>\d+)|(?P<kind>timeout|network)), retry (?P<attempt>\d+) in ")


@dataclass
class Resources:
    fds: int
    threads: int
    tasks: int

    @classmethod
    def now(cls) -> Resources:
        return cls(len(os.listdir("/proc/self/fd")), threading.active_count(), len(asyncio.all_tasks()))


@dataclass
class SoakReport:
    calls: int
    rate: float
    requests: int = 0
    retries: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    correct: int = 0
    degraded: int = 0  # answered, explicitly `unknown` with the reason, after a fault on one of its reads
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # real seconds per call
    policy_latencies: list[float] = field(default_factory=list)  # the policy's clock, waits included
    # (sequential tools only: WarpTime adds up waits that overlap, so concurrent reads would overstate)
    violations: list[str] = field(default_factory=list)
    before: Resources | None = None
    after: Resources | None = None
    peak_fds: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        faulted = sum(self.faults.values())
        ordered = sorted(self.latencies)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else 0.0
        return [
            f"calls {self.calls}, upstream requests {self.requests} ({self.retries} of them retries), "
            f"faulted {faulted} ({faulted / max(1, self.requests):.1%}; configured {self.rate:.0%}) "
            f"in {self.seconds:.1f} s",
            "faults: " + ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())),
            f"results: {self.correct} correct, {self.degraded} explicitly unknown, {self.errors} clean isError "
            f"({', '.join(f'{k} {n}' for k, n in self.error_kinds.most_common())}), "
            f"{len(self.violations)} failures",
            f"latency per call: median {statistics.median(ordered or [0]) * 1000:.1f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {max(ordered or [0]) * 1000:.0f} ms real; max {max(self.policy_latencies or [0]):.1f} s "
            f"on the policy clock (deadline {RETRY.deadline_s:.0f} s)",
            f"resources before/after: fds {self.before and self.before.fds}/{self.after and self.after.fds} "
            f"(peak {self.peak_fds}), threads {self.before and self.before.threads}/"
            f"{self.after and self.after.threads}, asyncio tasks {self.before and self.before.tasks}/"
            f"{self.after and self.after.tasks}",
        ]


class InFlight:
    """Wraps the sandbox to count requests still being handled, so each call's log entries are complete
    (a slow request is logged when the sandbox notices the client hung up, a moment after the call)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1


async def _settle(done: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        await anyio.sleep(0.002)
    return True


async def _quiet_fds(timeout_s: float = 2.0) -> None:
    """Wait until the open descriptor count holds still for 50 ms."""
    deadline = time.monotonic() + timeout_s
    last = Resources.now().fds
    while time.monotonic() < deadline:
        await anyio.sleep(0.05)
        now = Resources.now().fds
        if now == last:
            return
        last = now


def _error_kind(text: str) -> str:
    for needle, kind in (
        ("rate limiting", "rate limited"),
        ("did not answer in time", "timeout"),
        ("failing on its side", "5xx"),
        ("could not read", "unreadable"),
        ("not valid JSON", "unreadable"),
        ("broke before", "connection"),
        ("Could not reach", "connection"),
    ):
        if needle in text:
            return kind
    return "other"


def _explicitly_unknown(content: Any) -> bool:
    """A result that says what it could not find out, and why: a documented degraded answer (a task
    state `unknown` with its reason, or a history whose note names the side read that failed)."""
    if not isinstance(content, dict):
        return False
    if content.get("state") == "unknown" and bool(content.get("detail")):
        return True
    return "could not be r" in str(content.get("note", ""))


CONCURRENT_READS = frozenset({"poll_task"})
TIMING_FIELDS = ("waited_s", "next_poll_s", "note")  # a poll's clock-dependent figures, not its answer


def _comparable(tool: str, content: Any) -> Any:
    """The part of a result that must equal the fault-free reference: for a poll (whose heartbeat, a
    concurrent sleeper, spins WarpTime's clock) everything but its timing figures."""
    if tool in CONCURRENT_READS and isinstance(content, dict):
        return {k: v for k, v in content.items() if k not in TIMING_FIELDS}
    return content


def _first_difference(content: Any, reference: Any) -> str:
    if isinstance(content, dict) and isinstance(reference, dict):
        for key in sorted(set(content) | set(reference)):
            if content.get(key) != reference.get(key):
                return f"{key}: {str(content.get(key))[:200]} != {str(reference.get(key))[:200]}"
    return "different"


def _rows_correct_or_failed(content: Any, reference: Any) -> bool:
    """A batch answer (poll_task) where every task reads as in the fault-free answer or says it could
    not be read: per-task failures are reported per task, by design, and the call succeeds with the rest."""
    if not isinstance(content, dict) or not isinstance(reference, dict) or "tasks" not in content:
        return False
    if not all(isinstance(group, dict) and "ids" in group for group in content["tasks"]):
        return False  # rows of a listing (find_tasks), not a poll's groups
    rows, expected_rows = poll_rows(content), poll_rows(reference)
    if set(rows) != set(expected_rows):
        return False
    pairs = [(rows[task_id], expected_rows[task_id]) for task_id in expected_rows]
    ok = [
        row == want
        or (set(row) == {"id", "error"} and row["error"])
        or (row.get("state") == "unknown" and bool(row.get("detail")))  # said it cannot tell, and why
        for row, want in pairs
    ]
    return all(ok) and any(row != want for row, want in pairs)


def _policy_violations(tool: str, sent: list[Any], retries: list[str]) -> list[str]:
    """Retries within policy: attempts per upstream path from the sandbox's log (one logical request per
    path for READS_EACH_PATH_ONCE tools), and what was retried from the policy's own log lines."""
    problems = []
    groups: dict[tuple[str, str], list[Any]] = {}
    for request in sent:
        groups.setdefault((request.path, request.query), []).append(request)
    for (path, _), records in groups.items():
        answers = sum(r.status not in RETRYABLE_STATUSES and r.fault not in ("truncated", "slow") for r in records)
        requests = 1 if tool in READS_EACH_PATH_ONCE else max(1, answers)
        if len(records) > RETRY.max_attempts * requests:
            outcomes = ", ".join(f"{r.status}{'/' + r.fault if r.fault else ''}" for r in records)
            problems.append(f"{path}: {len(records)} attempts ({outcomes})")
        if sum(r.status == 500 for r in records) > 2 * requests:
            problems.append(f"{path}: 500 retried more than once")
    for line in retries:
        match = RETRY_LINE.search(line)
        if match is None or (match["status"] and int(match["status"]) not in RETRYABLE_STATUSES):
            problems.append(f"retried what the policy must not retry: {line}")
        elif int(match["attempt"]) >= RETRY.max_attempts:
            problems.append(f"retried after the last attempt: {line}")
    return problems


class RetryLog(logging.Handler):
    """Collects the HTTP policy's "retry" lines (tasklens.http at INFO) for the call in progress."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if ", retry " in message:
            self.lines.append(message)


async def run_soak(calls: int, rate: float = 0.2, seed: int = 1, mode: str = "legacy") -> SoakReport:
    """Run the soak and return its figures; `violations` lists everything that broke a promise."""
    report = SoakReport(calls=calls, rate=rate)
    started = time.monotonic()
    sandbox = Sandbox(clock=ManualClock(), ango_requests_per_minute=None)
    inflight = InFlight(sandbox)
    async with serve_on_loopback(inflight) as origin:
        # Fault-free reference reads, in a server of their own that also warms up lazily created
        # threads (the event loop's resolver pool) before anything is counted.
        warp = WarpTime()
        runtime = Runtime(clock=warp.clock, sleep=warp.sleep, retry=RETRY)
        expected: dict[tuple[str, str], Any] = {}
        plan: list[tuple[str, dict[str, Any]]] = []
        async with Client(unthrottled_server(sandbox, runtime, origin), mode=mode) as client:
            for tool in (await client.list_tools()).tools:
                for arguments in catalog_calls(tool):
                    result = await client.call_tool(tool.name, arguments)
                    if result.is_error:
                        report.violations.append(f"reference read failed: {tool.name} {arguments}: {text_of(result)}")
                    expected[(tool.name, repr(arguments))] = result.structured_content
                    plan.append((tool.name, arguments))
        await _settle(lambda: inflight.count == 0)
        await _quiet_fds()  # the sandbox closes its side of the reference connections a moment later
        report.before = Resources.now()
        report.peak_fds = report.before.fds

        sandbox.faults.set_random(rate, FAULT_KINDS, seed=seed, delay_s=SLOW_DELAY_S, retry_after=RETRY_AFTER_S)
        order = random.Random(seed)
        retry_log = RetryLog()
        policy_logger = logging.getLogger("tasklens.http")
        policy_logger.addHandler(retry_log)
        level = policy_logger.level
        policy_logger.setLevel(logging.INFO)
        async with Client(unthrottled_server(sandbox, runtime, origin), mode=mode) as client:
            for index in range(calls):
                tool, arguments = order.choice(plan)
                retry_log.lines.clear()
                logged = len(sandbox.requests)
                began, began_policy = time.monotonic(), warp.clock()
                with anyio.move_on_after(HANG_S) as scope:
                    result = await client.call_tool(tool, arguments)
                report.latencies.append(time.monotonic() - began)
                if tool not in CONCURRENT_READS:
                    report.policy_latencies.append(warp.clock() - began_policy)
                if scope.cancelled_caught:
                    report.violations.append(f"call {index} hung: {tool} {arguments}")
                    continue
                if not await _settle(lambda: inflight.count == 0):
                    report.violations.append(f"call {index}: upstream requests still open after the call")
                sent = sandbox.requests[logged:]
                report.requests += len(sent)
                report.faults.update(r.fault for r in sent if r.fault)
                try:
                    check_result(tool, arguments, result)
                except AssertionError as problem:
                    report.violations.append(f"call {index} {tool} {arguments}: {problem}")
                if result.is_error:
                    report.errors += 1
                    report.error_kinds[_error_kind(text_of(result))] += 1
                elif _comparable(tool, result.structured_content) == _comparable(
                    tool, expected[(tool, repr(arguments))]
                ):
                    report.correct += 1
                elif _explicitly_unknown(result.structured_content) and any(r.fault for r in sent):
                    report.degraded += 1  # e.g. an Ango task whose project definition read was faulted
                elif _rows_correct_or_failed(result.structured_content, expected[(tool, repr(arguments))]) and any(
                    r.fault for r in sent
                ):
                    report.degraded += 1  # a poll whose faulted reads are per-task errors, the rest right
                else:
                    diff = _first_difference(result.structured_content, expected[(tool, repr(arguments))])
                    report.violations.append(f"call {index} {tool} {arguments}: a wrong answer, not an error: {diff}")
                # WarpTime adds up waits that overlap in real time, so for a tool that reads tasks side
                # by side (poll_task) the policy clock overstates; its real latency is checked instead.
                elapsed = report.latencies[-1] if tool in CONCURRENT_READS else warp.clock() - began_policy
                if elapsed > RETRY.deadline_s + 1.0:
                    report.violations.append(f"call {index}: {elapsed:.1f} s, past its deadline")
                report.violations += [
                    f"call {index} {tool}: {p}" for p in _policy_violations(tool, sent, retry_log.lines)
                ]
                report.retries += len(retry_log.lines)
                if index % 50 == 0:
                    report.peak_fds = max(report.peak_fds, Resources.now().fds)
        policy_logger.removeHandler(retry_log)
        policy_logger.setLevel(level)
        sandbox.faults.clear()
        await _settle(lambda: inflight.count == 0)
        before = report.before
        await _settle(lambda: Resources.now().fds <= before.fds and Resources.now().tasks <= before.tasks)
        report.after = Resources.now()
    report.seconds = time.monotonic() - started
    if report.after.fds > before.fds:
        report.violations.append(f"file descriptors leaked: {before.fds} before, {report.after.fds} after")
    if report.after.threads > before.threads:
        report.violations.append(f"threads leaked: {before.threads} before, {report.after.threads} after")
    if report.after.tasks > before.tasks:
        report.violations.append(f"asyncio tasks leaked: {before.tasks} before, {report.after.tasks} after")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", default="legacy", choices=["legacy", "auto"])
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    report = anyio.run(run_soak, args.calls, args.rate, args.seed, args.mode)
    for line in report.lines():
        print(line)
    for violation in report.violations[:20]:
        print("FAILURE:", violation)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
