"""One running membership service for this package's tests (real Postgres and NATS), migrated once.

Tests stay independent by naming their own organisations (unique slugs) and accounts; the shared
FakeClock is reset to the real time before each test, so a test that moves it only moves itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest

from kit import drop_databases
from kit.testing import FakeClock, running_app, unique_suffix
from services.membership.app import create_app
from services.membership.config import Settings
from tests.services.membership.factories import Env


@pytest.fixture(scope="session")
async def membership_env(infra) -> AsyncIterator[Env]:
    suffix = unique_suffix()
    settings = Settings.model_validate(
        {
            "database_url": infra.database_url,
            "database_prefix": f"t{suffix}",
            "nats_url": infra.nats_url,
            "events_stream": f"GOV_{suffix.upper()}",
            "events_subject_prefix": f"gov{suffix}",
            "internal_auth_secret": f"internal-secret-for-tests-{suffix}-0123456789",
            "auth_token_keys": f"k1:member-secret-for-tests-{suffix}-0123456789",
            "events_duplicate_window_seconds": 120,
            "siwe_domain": "bicameral.test",
            "siwe_uri": "https://bicameral.test",
            "siwe_chain_id": 10,
            "nonce_ttl_seconds": 300,
        }
    )
    clock = FakeClock(datetime.now(UTC))
    app = create_app(settings, clock=clock)
    try:
        async with running_app(app) as client:
            await app.state.runtime.messaging.wait_ready()
            yield Env(app, client, clock, settings)
    finally:
        with contextlib.suppress(Exception):
            await drop_databases(infra.database_url, [settings.database_name])
        with contextlib.suppress(Exception):
            nc = await nats.connect(infra.nats_url)
            try:
                await nc.jetstream().delete_stream(settings.events_stream)
            finally:
                await nc.close()


@pytest.fixture
def env(membership_env: Env) -> Env:
    membership_env.clock.set(datetime.now(UTC))
    return membership_env
