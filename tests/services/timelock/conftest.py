"""Fixtures: a running timelock (real Postgres and NATS, fake clock) and an organization to review in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kit.testing import FakeClock
from services.timelock.app import create_app
from services.timelock.config import Settings

from .support import T0, Harness, Org, running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def timelock(settings_for: Any, clock: FakeClock) -> AsyncIterator[Harness]:
    # A small stream: JetStream reserves max_bytes per stream, and the default (10 GiB) exhausts a
    # shared test server's storage when many tests run at once ("insufficient storage resources").
    settings = settings_for(Settings, events_stream_max_bytes=64 * 1024**2)
    async with running(create_app(settings, clock=clock), clock, settings) as harness:
        yield harness


@pytest.fixture
def org() -> Org:
    return Org()
