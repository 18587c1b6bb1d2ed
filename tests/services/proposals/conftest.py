"""Fixtures: one running proposals service (real Postgres and NATS, fake clock) shared by the tests of
this package, each test working in organisations of its own; and a factory for a private one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest

from kit import drop_databases
from kit.testing import FakeClock, running_app, unique_suffix
from services.proposals.app import create_app
from services.proposals.config import Settings

from .support import T0, Harness


def _settings(infra: Any, suffix: str, **overrides: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": infra.database_url,
            "database_prefix": f"t{suffix}",
            "nats_url": infra.nats_url,
            "events_stream": f"GOV_{suffix.upper()}",
            "events_subject_prefix": f"gov{suffix}",
            "internal_auth_secret": f"internal-secret-for-tests-{suffix}-0123456789",
            "events_duplicate_window_seconds": 120,
            "projection_wait_seconds": 1.0,
            **overrides,
        }
    )


async def _cleanup(infra: Any, settings: Settings) -> None:
    with contextlib.suppress(Exception):
        await drop_databases(infra.database_url, [settings.database_name])
    with contextlib.suppress(Exception):
        nc = await nats.connect(infra.nats_url)
        try:
            await nc.jetstream().delete_stream(settings.events_stream)
        finally:
            await nc.close()


@pytest.fixture(scope="package")
async def shared(infra: Any) -> AsyncIterator[Harness]:
    settings = _settings(infra, unique_suffix())
    clock = FakeClock(T0)
    app = create_app(settings, clock=clock)
    try:
        async with running_app(app) as client:
            yield Harness(app=app, client=client, clock=clock, settings=settings)
    finally:
        await _cleanup(infra, settings)


@pytest.fixture
def h(shared: Harness) -> Harness:
    return shared


@pytest.fixture
async def private_settings(infra: Any) -> AsyncIterator[Callable[..., Settings]]:
    """Settings for a service of the test's own (for restarts); dropped afterwards."""
    made: list[Settings] = []

    def make(**overrides: Any) -> Settings:
        made.append(_settings(infra, unique_suffix(), **overrides))
        return made[-1]

    yield make
    for settings in made:
        await _cleanup(infra, settings)
