"""One platform for the security suite: the four real processes on the run's Postgres and NATS under their
own names (databases, stream, secrets), started once for the package. Sign-in challenges live 3 s here,
so the expired-nonce test is short, and a refused proposal waits 0.2 s (not 2 s) for membership's events."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import nats
import pytest

from kit import drop_databases
from kit.testing import unique_suffix
from stack.infra import free_port
from tests.e2e.harness import start_platform
from tests.faults.figures import terminal_summary
from tests.security.support import SERVICES, Fingerprint, Gql, Tally, Target

NONCE_TTL_SECONDS = 3


@pytest.fixture(scope="package")
async def target(infra, tmp_path_factory) -> AsyncIterator[Target]:
    suffix = unique_suffix()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": infra.database_url,
            "DATABASE_PREFIX": f"s{suffix}",
            "NATS_URL": infra.nats_url,
            "EVENTS_STREAM": f"GOV_S{suffix.upper()}",
            "EVENTS_SUBJECT_PREFIX": f"govs{suffix}",
            "INTERNAL_AUTH_SECRET": f"internal-secret-security-{suffix}-0123456789abcdef",
            "AUTH_TOKEN_KEYS": f"k1:member-secret-security-{suffix}-0123456789abcdef",
            "LOG_LEVEL": "INFO",
            "EVENTS_STREAM_MAX_BYTES": str(64 * 1024 * 1024),
            "MEMBERSHIP_NONCE_TTL_SECONDS": str(NONCE_TTL_SECONDS),
            # a refused proposal is re-checked against membership's latest events for this long before the
            # refusal is answered (2 s by default); the matrix refuses dozens on purpose
            "PROPOSALS_PROJECTION_WAIT_SECONDS": "0.2",
        }
    )
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    log_dir = tmp_path_factory.mktemp("security-logs")
    platform = start_platform(env, log_dir, ports)
    try:
        yield Target(platform, platform.env, infra.database_url, log_dir)
    finally:
        platform.stop()
        with contextlib.suppress(Exception):
            await _cleanup(infra, env)


async def _cleanup(infra, env: dict[str, str]) -> None:
    await drop_databases(infra.database_url, [f"{env['DATABASE_PREFIX']}_{s}" for s in SERVICES])
    nc = await nats.connect(infra.nats_url)
    try:
        await nc.jetstream().delete_stream(env["EVENTS_STREAM"])
    finally:
        await nc.close()


@pytest.fixture
async def gql(target: Target) -> AsyncIterator[Gql]:
    client = Gql(target)
    yield client
    await client.close()


@pytest.fixture(scope="package")
async def fingerprint(target: Target) -> AsyncIterator[Fingerprint]:
    fp = await Fingerprint(target).open()
    yield fp
    await fp.close()


@pytest.fixture(scope="package")
def tally() -> Tally:
    return Tally()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminal_summary(terminalreporter)
