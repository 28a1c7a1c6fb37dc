"""Shared fixtures: the anyio backend and a fake clock for the HTTP policy."""

from __future__ import annotations

import pytest

from support.clocks import FakeTime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
