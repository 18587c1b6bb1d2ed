"""Fixtures shared by the whole suite: real Postgres and real NATS, isolated per test.

The servers are the ones named by DATABASE_URL / NATS_URL, else embedded ones started once per run
(the same as `make up` uses). Every test gets its own databases (`t<random>_<service>`) and its own
JetStream stream and subject prefix, all removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest

from kit import ServiceSettings, drop_databases
from kit.testing import unique_suffix
from stack.infra import EmbeddedNats, EmbeddedPostgres

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Infra:
    database_url: str
    nats_url: str
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    tmp = Path(tempfile.mkdtemp(prefix="bicameral-test-"))
    pg = nt = None
    database_url = os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("NATS_URL")
    if not database_url:
        pg = EmbeddedPostgres(tmp / "postgres")
        database_url = pg.start()
    if not nats_url:
        nt = EmbeddedNats(tmp / "nats")
        nats_url = nt.start()
    try:
        yield Infra(database_url, nats_url, pg, nt)
    finally:
        if nt:
            nt.stop()
        if pg:
            pg.stop()


@dataclass
class Isolation:
    """One test's private names: database prefix, stream, subject prefix, internal secret."""

    infra: Infra
    suffix: str = field(default_factory=unique_suffix)
    created: list[ServiceSettings] = field(default_factory=list)

    @property
    def database_prefix(self) -> str:
        return f"t{self.suffix}"

    @property
    def stream(self) -> str:
        return f"GOV_{self.suffix.upper()}"

    @property
    def subject_prefix(self) -> str:
        return f"gov{self.suffix}"

    def env(self) -> dict[str, str]:
        """The environment a subprocess of this test needs (for e2e tests that start real processes)."""
        return {
            "DATABASE_URL": self.infra.database_url,
            "DATABASE_PREFIX": self.database_prefix,
            "NATS_URL": self.infra.nats_url,
            "EVENTS_STREAM": self.stream,
            "EVENTS_SUBJECT_PREFIX": self.subject_prefix,
            "INTERNAL_AUTH_SECRET": f"internal-secret-for-tests-{self.suffix}-0123456789",
            "AUTH_TOKEN_KEYS": f"k1:member-secret-for-tests-{self.suffix}-0123456789",
            "EVENTS_STREAM_MAX_BYTES": str(64 * 1024 * 1024),
        }

    def settings(self, cls: type[S], **overrides: Any) -> S:
        """Settings of `cls` pointed at this test's databases and stream (env vars are not read)."""
        values: dict[str, Any] = {
            "database_url": self.infra.database_url,
            "database_prefix": self.database_prefix,
            "nats_url": self.infra.nats_url,
            "events_stream": self.stream,
            "events_subject_prefix": self.subject_prefix,
            "internal_auth_secret": f"internal-secret-for-tests-{self.suffix}-0123456789",
            "events_duplicate_window_seconds": 120,
            # the default reserves 10 GiB per stream; many test streams would exhaust the server
            "events_stream_max_bytes": 64 * 1024 * 1024,
        }
        if "auth_token_keys" in cls.model_fields:
            values["auth_token_keys"] = f"k1:member-secret-for-tests-{self.suffix}-0123456789"
        values.update(overrides)
        settings = cls.model_validate(values)
        self.created.append(settings)
        return settings


@pytest.fixture
async def isolation(infra: Infra) -> AsyncIterator[Isolation]:
    iso = Isolation(infra)
    yield iso
    names = sorted({s.database_name for s in iso.created})
    with contextlib.suppress(Exception):
        await drop_databases(infra.database_url, names)
    with contextlib.suppress(Exception):
        nc = await nats.connect(infra.nats_url)
        try:
            await nc.jetstream().delete_stream(iso.stream)
        finally:
            await nc.close()


@pytest.fixture
def settings_for(isolation: Isolation) -> Callable[..., Any]:
    """`settings_for(MembershipSettings, port=0)` → settings isolated for this test."""
    return isolation.settings
