"""Fault soak (benchmarks/soak.py) at a 20% fault rate, and a retry storm at 80% that drives the
policy to its attempt limits. `TASKLENS_SOAK_CALLS=5000 python -m pytest -n 0 -s tests/test_fault_soak.py` (or
`python benchmarks/soak.py --calls 5000`) runs the long version; the figures print with `-s`."""

from __future__ import annotations

import os

import pytest
from mcp import Client
from soak import RETRY, run_soak

from support.catalog_calls import unthrottled_server
from tasklens.server.sandbox import Fault, ManualClock, Sandbox
from tasklens.server.sandbox.catalog import ANGO_PROJECT, ANGO_REVIEW_TODO_TASK

pytestmark = pytest.mark.anyio


async def test_soak_at_20_percent_faults() -> None:
    report = await run_soak(int(os.environ.get("TASKLENS_SOAK_CALLS", "300")), rate=0.2, seed=1)
    print("\n" + "\n".join(report.lines()))
    assert not report.violations, report.violations[:10]
    # not vacuous: faults of every kind were injected, and most calls were answered correctly anyway
    assert set(report.faults) == {"429", "500", "502", "503", "504", "reset", "slow", "malformed", "truncated", "html"}
    assert 0.12 < sum(report.faults.values()) / report.requests < 0.28
    assert report.correct > 0.85 * report.calls


async def test_retry_storm_stays_within_the_policy() -> None:
    """At 80% faults many calls exhaust their attempts: each must still end as one clean error, in time,
    having made no more attempts than the policy allows (checked per call from the sandbox's log)."""
    report = await run_soak(100, rate=0.8, seed=2)
    print("\n" + "\n".join(report.lines()))
    assert not report.violations, report.violations[:10]
    assert report.errors > 20 and report.correct > 5
    assert report.degraded < report.correct
    assert max(report.policy_latencies) <= RETRY.deadline_s + 1


async def test_a_glitch_reading_an_ango_project_degrades_one_answer_not_the_next_minute() -> None:
    """An Ango task's state needs its project's stage list. A malformed answer to that read yields one
    explicit `unknown`, and the next call reads the project again rather than remembering it as unreadable."""
    sandbox = Sandbox(clock=ManualClock(), ango_requests_per_minute=None)
    arguments = {"provider": "ango", "task_id": ANGO_REVIEW_TODO_TASK}
    async with Client(unthrottled_server(sandbox), mode="auto") as client:
        sandbox.faults.add(Fault("malformed", times=1, provider="ango", path_contains=f"/project/{ANGO_PROJECT}"))
        first = await client.call_tool("get_task", arguments)
        second = await client.call_tool("get_task", arguments)
    assert not first.is_error and first.structured_content["state"] == "unknown"
    assert "could not be resolved" in first.structured_content["detail"]
    assert not second.is_error and second.structured_content["state"] == "waiting_on_human"
    assert [r.path.endswith(ANGO_PROJECT) for r in sandbox.requests].count(True) == 2
