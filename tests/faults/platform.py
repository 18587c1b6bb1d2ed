"""The private platform the fault suite breaks: its own Postgres and NATS (so a test can stop and restart
them on the same port and data directory) and the four real processes on top of them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kit.testing import unique_suffix
from stack.infra import EmbeddedNats, EmbeddedPostgres, free_port
from tests.e2e.harness import Platform, start_platform

SERVICES = ("membership", "proposals", "timelock")


@dataclass
class FaultStack:
    """The servers and processes the fault tests break, and the names they run under."""

    postgres: EmbeddedPostgres
    nats: EmbeddedNats
    platform: Platform
    env: dict[str, str]
    log_dir: Path

    @property
    def nats_url(self) -> str:
        return self.nats.url

    @property
    def prefix(self) -> str:
        return self.env["DATABASE_PREFIX"]

    @property
    def stream(self) -> str:
        return self.env["EVENTS_STREAM"]

    @property
    def subject_prefix(self) -> str:
        return self.env["EVENTS_SUBJECT_PREFIX"]

    def dsn(self, service: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres.port}/{self.prefix}_{service}"


def fault_env(suffix: str, pg: EmbeddedPostgres, nt: EmbeddedNats) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": pg.url,
            "DATABASE_PREFIX": f"f{suffix}",
            "NATS_URL": nt.url,
            "EVENTS_STREAM": f"GOV_F{suffix.upper()}",
            "EVENTS_SUBJECT_PREFIX": f"govf{suffix}",
            "INTERNAL_AUTH_SECRET": f"internal-secret-faults-{suffix}-0123456789abcdef",
            "AUTH_TOKEN_KEYS": f"k1:member-secret-faults-{suffix}-0123456789abcdef",
            "LOG_LEVEL": "INFO",
            "EVENTS_STREAM_MAX_BYTES": str(64 * 1024 * 1024),
            # a hung service costs a client 2 s rather than the default 5 s: the hung-service test stays short
            "GATEWAY_SERVICE_TIMEOUT_SECONDS": "2",
            "GATEWAY_READ_RETRIES": "1",
        }
    )
    return env


@contextmanager
def fault_stack() -> Iterator[FaultStack]:
    base = Path(tempfile.mkdtemp(prefix="bicameral-faults-"))
    pg = EmbeddedPostgres(base / "postgres" / "data", port=free_port())
    nt = EmbeddedNats(base / "nats" / "data", port=free_port())
    pg.start()
    try:
        nt.start()
        env = fault_env(unique_suffix(), pg, nt)
        ports = {name: free_port() for name in (*SERVICES, "gateway")}
        log_dir = base / "logs"
        log_dir.mkdir()
        platform = start_platform(env, log_dir, ports)
        try:
            yield FaultStack(pg, nt, platform, platform.env, log_dir)
        finally:
            platform.stop()
    finally:
        nt.stop()
        pg.stop()
        # the servers' data is tens of megabytes a run; the processes' logs stay for a post-mortem
        for data in (base / "postgres", base / "nats"):
            shutil.rmtree(data, ignore_errors=True)
