"""Three replicas behind a round-robin caller share one Redis and one sandbox, as processes: together they
keep Ango's rate, answer alike, survive a killed replica, and keep to their own shares once Redis stops.

The run is `benchmarks/replicas.py --check` made short and light (it shares two cores with the rest of
the suite): Ango at 20 requests a minute and Deepomatic at 60 instead of 100 and 600, four callers
pausing 0.2 s between calls, and 6 s of load instead of 60, so the shared window is what holds three
replicas to one rate. Redis stops at 2 s: each replica then sends nothing (it waits out one window, its
own share being unknowable) and says why in its log and its readiness. `.ci/run` also runs the
full-length check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from replicas import check

from support.redis_server import redis_binary

pytestmark = pytest.mark.anyio


async def test_three_replicas_keep_one_rate_and_answer_alike_through_a_killed_replica_and_a_stopped_redis(
    tmp_path: Path,
) -> None:
    redis_binary()  # skips without Redis (fails where CI requires it)
    rates = {"ango": 20, "deepomatic": 60}
    failures = await check(tmp_path, 6.0, rates, kill_at=4.0, redis_stop_at=2.0, callers=4, pause_s=0.2)
    assert failures == []
