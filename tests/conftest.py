"""Shared fixtures: the anyio backend, a fake clock for the HTTP policy, and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.clocks import FakeTime
from support.redis_server import RedisServer, running_redis


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis per test worker (skips without redis-server, fails so under .ci/run)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The worker's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url
