"""Replicas share each provider key's rate budget, poll pace and export summaries through a real Redis,
and each falls back to a budget that is safe on its own when Redis goes away.

Windows here are a second or two long so real time stays short; the scripts do not care how long a
window is. Every "replica" is its own `SharedLink`, as separate processes would be.
"""

from __future__ import annotations

import time

import anyio
import pytest

from support.redis_server import running_redis
from tasklens.tools.export.store import SummaryStore
from tasklens.tools.export.summary import ExportSummary
from tasklens.tools.http.rate_limit import WouldExceedDeadline
from tasklens.tools.http.shared_window import SharedWindowLimiter, budget_key
from tasklens.tools.polling.pace import LocalPace, SharedPace
from tasklens.tools.shared.link import SharedLink

pytestmark = pytest.mark.anyio


def limiter(link: SharedLink, max_requests: int, window_s: float, *, key: str = "secret") -> SharedWindowLimiter:
    return SharedWindowLimiter(
        link, budget_key("ango", key), max_requests, window_s, guard_s=0.0, clock=time.monotonic, sleep=anyio.sleep
    )


def most_in_any_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    return max(sum(1 for other in times if start <= other < start + window_s) for start in times)


async def test_replicas_together_never_exceed_the_budget_in_any_window(redis_url: str) -> None:
    links = [SharedLink(redis_url, replicas=3) for _ in range(3)]
    budgets = [limiter(link, 5, 1.0) for link in links]
    sent: list[float] = []

    async def caller(budget: SharedWindowLimiter) -> None:
        for _ in range(4):
            await budget.acquire()
            sent.append(time.monotonic())

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for budget in budgets:
            group.start_soon(caller, budget)
    assert len(sent) == 12
    # 12 sends at 5 per second: the 6th and 11th wait for a window each; slack only for the event loop.
    assert time.monotonic() - started >= 2.0
    assert most_in_any_window(sent, 0.98) <= 5
    for link in links:
        await link.aclose()


async def test_a_full_window_refuses_a_caller_whose_deadline_is_too_near(redis_url: str) -> None:
    one, two = SharedLink(redis_url, replicas=2), SharedLink(redis_url, replicas=2)
    first, second = limiter(one, 2, 30.0), limiter(two, 2, 30.0)
    await first.acquire()
    await first.acquire()
    assert await second.free_in(1) == pytest.approx(30.0, abs=1.0)
    with pytest.raises(WouldExceedDeadline) as refused:
        await second.acquire(deadline=time.monotonic() + 5)
    assert refused.value.wait_s == pytest.approx(30.0, abs=1.0)
    # Another provider key has a budget of its own.
    await limiter(two, 2, 30.0, key="another key").acquire(deadline=time.monotonic() + 0.1)
    await one.aclose()
    await two.aclose()


async def test_a_retry_after_seen_by_one_replica_holds_every_replica(redis_url: str) -> None:
    one, two = SharedLink(redis_url, replicas=2), SharedLink(redis_url, replicas=2)
    first, second = limiter(one, 100, 60.0), limiter(two, 100, 60.0)
    await first.hold(0.6)
    assert await second.free_in(1) == pytest.approx(0.6, abs=0.1)
    started = time.monotonic()
    await second.acquire()
    assert time.monotonic() - started >= 0.5
    await one.aclose()
    await two.aclose()


async def test_without_redis_a_replica_keeps_to_its_share_then_hands_its_sends_back(tmp_path) -> None:  # noqa: ANN001
    with running_redis(tmp_path) as server:
        link = SharedLink(server.url, replicas=2, retry_s=0.2)
        budget = limiter(link, 10, 30.0)
        for _ in range(4):
            await budget.acquire()
        server.stop()
        # Its share is 10 // 2 = 5, of which 2 are taken: half of the 4 the shared window had counted.
        for _ in range(3):
            await budget.acquire(deadline=time.monotonic() + 0.1)
        assert budget.local and link.down
        with pytest.raises(WouldExceedDeadline):
            await budget.acquire(deadline=time.monotonic() + 1)
        assert await budget.free_in(1) == pytest.approx(30.0, abs=1.0)

        server.start()  # empty, as after a restart
        await anyio.sleep(0.25)  # the link's pause after a failure
        # The 5 sends the local window counts go back first; the shared window then has 5 of 10 left.
        for _ in range(5):
            await budget.acquire(deadline=time.monotonic() + 0.1)
        assert not budget.local and not link.down
        with pytest.raises(WouldExceedDeadline):
            await budget.acquire(deadline=time.monotonic() + 1)
        await link.aclose()


async def test_poll_pace_made_on_one_replica_is_read_on_another_until_it_expires(redis_url: str) -> None:
    one, two = SharedLink(redis_url, replicas=2), SharedLink(redis_url, replicas=2)
    writer = SharedPace(one, "ango:k", LocalPace(time.monotonic))
    reader = SharedPace(two, "ango:k", LocalPace(time.monotonic))
    await writer.remember({"a": (0.0, 0.25), "b": (0.0, 8.0), "c": None})
    assert await reader.recall(["a", "b", "c"]) == [0.25, 8.0, None]
    await anyio.sleep(0.6)  # twice a's interval has passed: its pace is worth nothing now
    assert await reader.recall(["a", "b"]) == [None, 8.0]
    await writer.remember({"b": None})
    assert await reader.recall(["b"]) == [None]
    await one.aclose()
    await two.aclose()


def summary(assets: int) -> ExportSummary:
    return ExportSummary.model_validate({"source": f"export-{assets}.json", "assets": assets, "generation": "current"})


async def test_a_summary_kept_through_one_replica_is_read_through_another(redis_url: str) -> None:
    one, two = SharedLink(redis_url, replicas=2), SharedLink(redis_url, replicas=2)
    first, second = SummaryStore(capacity=2, shared=one), SummaryStore(capacity=2, shared=two)
    published = [await first.add(summary(assets), f"label {assets}") for assets in (1, 2, 3)]
    assert all(p.resource and p.resource.startswith("export-summary://") for p in published)
    newest = await second.newest_first()
    assert [entry.assets for entry in newest] == [3, 2]  # capacity 2: the oldest left the index
    read = await second.get(newest[1].summary_id)
    assert read is not None and read.text == newest[1].text and read.label == "label 2"
    latest = await second.get("latest")
    assert latest is not None and latest.assets == 3
    assert f'"resource":"{latest.uri}"' in latest.text
    await one.aclose()
    await two.aclose()


async def test_summaries_made_while_redis_is_away_stay_readable_on_their_replica(tmp_path) -> None:  # noqa: ANN001
    with running_redis(tmp_path) as server:
        link = SharedLink(server.url, replicas=2, retry_s=0.2)
        store = SummaryStore(shared=link)
        kept = await store.add(summary(1), "before")
        server.stop()
        made = await store.add(summary(2), "during")
        assert link.down
        for published in (kept, made):
            assert published.resource is not None
            entry = await store.get(published.resource.removeprefix("export-summary://"))
            assert entry is not None
        assert [entry.assets for entry in await store.newest_first()] == [2, 1]
        await link.aclose()
