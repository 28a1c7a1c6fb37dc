"""Replicas share each provider key's rate budget, poll pace and export summaries through a real Redis,
and each falls back to a budget that is safe on its own when Redis goes away.

Windows here are a second or two long so real time stays short; the scripts do not care how long a
window is. Every "replica" is its own `SharedLink`, as separate processes would be.
"""

from __future__ import annotations

import signal
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


async def one_of_two_replicas_after_four_sends(url: str, window_s: float) -> tuple[SharedLink, SharedWindowLimiter]:
    """A replica of two whose budget of 10 per `window_s` has admitted 4 through Redis at `url`."""
    link = SharedLink(url, replicas=2, retry_s=0.2)
    budget = limiter(link, 10, window_s)
    for _ in range(4):
        await budget.acquire()
    return link, budget


async def test_without_redis_a_replica_waits_one_window_then_keeps_to_its_share(tmp_path) -> None:  # noqa: ANN001
    with running_redis(tmp_path) as server:
        link, budget = await one_of_two_replicas_after_four_sends(server.url, 1.0)
        server.stop()
        # What the shared window admitted may still count upstream: nothing is sent for one window.
        with pytest.raises(WouldExceedDeadline) as refused:
            await budget.acquire(deadline=time.monotonic() + 0.1)
        assert refused.value.wait_s == pytest.approx(1.0, abs=0.1) and "Redis" in refused.value.reason
        assert budget.local and link.down
        await anyio.sleep(1.05)
        for _ in range(5):  # then its share, 10 // 2
            await budget.acquire(deadline=time.monotonic() + 0.1)
        with pytest.raises(WouldExceedDeadline):
            await budget.acquire(deadline=time.monotonic() + 0.1)

        server.start()  # empty, as after a restart
        await anyio.sleep(0.25)  # the link's pause after a failure
        # The 5 sends of the local window go to the shared one first: 5 of 10 are left there.
        for _ in range(5):
            await budget.acquire(deadline=time.monotonic() + 0.1)
        assert not budget.local and not link.down
        with pytest.raises(WouldExceedDeadline):
            await budget.acquire(deadline=time.monotonic() + 0.1)
        await link.aclose()


async def test_after_a_short_outage_a_redis_that_kept_its_window_is_not_charged_twice(tmp_path) -> None:  # noqa: ANN001
    with running_redis(tmp_path) as server:
        link, budget = await one_of_two_replicas_after_four_sends(server.url, 30.0)
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)  # unreachable, but keeping its data: a network blip
        try:
            with pytest.raises(WouldExceedDeadline):
                await budget.acquire(deadline=time.monotonic() + 0.1)  # after the 1 s command timeout
            assert budget.local
        finally:
            server.process.send_signal(signal.SIGCONT)
        await anyio.sleep(0.25)
        # The local window's "full" stood for what Redis still holds, so nothing is added. Redis also ran the
        # reservation that timed out once it was resumed (counted, never sent: on the safe side): 5 of 10 left.
        for _ in range(5):
            await budget.acquire(deadline=time.monotonic() + 0.1)
        assert not budget.local
        with pytest.raises(WouldExceedDeadline):
            await budget.acquire(deadline=time.monotonic() + 0.1)
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
