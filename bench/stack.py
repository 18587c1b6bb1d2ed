"""The system under test: private embedded Postgres and NATS, the four real processes (started as the e2e
tests start them), the floor server, and the copies of the service schemas the floors write to."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from stack.infra import EmbeddedNats, EmbeddedPostgres, free_port
from stack.processes import wait_ready
from tests.e2e.harness import Platform, isolated_env, start_platform

SERVICES = ("membership", "proposals", "timelock")
FLOOR_PREFIX = "benchfloor"


def rss_mb(pid: int | None) -> float | None:
    """Resident set size of a process in MB (Linux /proc), None if it is gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None, *, reaped_children: bool = False) -> float:
    """User + system CPU time a process has used so far (Linux /proc), 0 if it is gone; with
    `reaped_children`, also that of its children that have exited (Postgres's closed backends)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # after the command name: utime, stime, cutime, cstime are fields 14-17 of man 5 proc
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


@dataclass
class Bench:
    """Everything one bench run started; `stop()` ends it all and removes the data directory."""

    root: Path
    postgres: EmbeddedPostgres
    nats: EmbeddedNats
    platform: Platform
    env: dict[str, str]
    floor_port: int
    floor: subprocess.Popen[bytes] | None = None
    keep_data: bool = False

    @property
    def graphql_url(self) -> str:
        return self.platform.graphql_url

    @property
    def gateway_url(self) -> str:
        return self.platform.gateway_url

    @property
    def floor_url(self) -> str:
        return f"http://127.0.0.1:{self.floor_port}"

    @property
    def server_dsn(self) -> str:
        return self.postgres.url

    @property
    def prefix(self) -> str:
        return self.env["DATABASE_PREFIX"]

    @property
    def stream(self) -> str:
        return self.env["EVENTS_STREAM"]

    @property
    def subject_prefix(self) -> str:
        return self.env["EVENTS_SUBJECT_PREFIX"]

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def dsn(self, service: str) -> str:
        """The DSN of a service's own database."""
        return self._db(f"{self.prefix}_{service}")

    def floor_dsn(self, service: str) -> str:
        """The DSN of the floor's copy of a service's schema."""
        return self._db(f"{FLOOR_PREFIX}_{service}")

    def _db(self, name: str) -> str:
        base, _, _ = self.server_dsn.rpartition("/")
        return f"{base}/{name}"

    def pids(self) -> dict[str, int | None]:
        pids = {name: child.pid for name, child in self.platform.children.items()}
        pids["floor"] = self.floor.pid if self.floor else None
        return pids

    def rss(self) -> dict[str, float | None]:
        return {name: rss_mb(pid) for name, pid in self.pids().items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process, Postgres (all its backends) and NATS, and by this
        process (the load generator)."""
        out = {name: cpu_seconds(pid) for name, pid in self.pids().items()}
        pg = self.postgres.proc.pid if self.postgres.proc else None
        if pg:
            out["postgres"] = cpu_seconds(pg, reaped_children=True) + sum(
                cpu_seconds(c) for c in children(pg)
            )
        out["nats"] = cpu_seconds(self.nats.proc.pid if self.nats.proc else None)
        out["loadgen"] = cpu_seconds(os.getpid())
        return out

    def logs(self) -> Path:
        return self.root / "logs"

    def start_floor(self) -> None:
        log = open(self.logs() / "floor.log", "ab")  # noqa: SIM115 - handed to the child
        self.floor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.floor",
                "--port",
                str(self.floor_port),
                "--proposals-dsn",
                self.dsn("proposals"),
                "--write-dsn",
                self.floor_dsn("proposals"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ),
        )
        wait_ready(self.floor_url, timeout=30)

    def stop(self) -> None:
        if self.floor and self.floor.poll() is None:
            self.floor.terminate()
            try:
                self.floor.wait(10)
            except subprocess.TimeoutExpired:
                self.floor.kill()
                self.floor.wait()
        self.platform.stop()
        self.nats.stop()
        self.postgres.stop()
        if not self.keep_data:
            shutil.rmtree(self.root, ignore_errors=True)


async def migrate_floor_copies(server_dsn: str) -> None:
    """Create the floor's databases with the services' own migrations: the same tables and indexes."""
    from services.proposals.app import migrate_database as migrate_proposals
    from services.proposals.config import Settings as ProposalsSettings
    from services.timelock.app import migrate_database as migrate_timelock
    from services.timelock.config import Settings as TimelockSettings

    common = {"database_url": server_dsn, "database_prefix": FLOOR_PREFIX}
    await migrate_proposals(ProposalsSettings.model_validate(common))
    await migrate_timelock(TimelockSettings.model_validate(common))


def start(say: Callable[[str], None], *, keep_data: bool = False) -> Bench:
    """Start the private servers, the platform and the floor; stop everything if any part fails."""
    import asyncio

    root = Path(tempfile.mkdtemp(prefix="bicameral-bench-"))
    (root / "logs").mkdir()
    postgres = EmbeddedPostgres(root / "postgres")
    nats = EmbeddedNats(root / "nats")
    started: list[object] = []
    try:
        t0 = time.monotonic()
        postgres.start()
        started.append(postgres)
        nats.start()
        started.append(nats)
        say(f"postgres {postgres.url} and nats {nats.url} up in {time.monotonic() - t0:.1f}s")
        env = isolated_env(postgres.url, nats.url)
        # the defaults of a real deployment: the stream keeps what a long run publishes
        env["EVENTS_STREAM_MAX_BYTES"] = str(2 * 1024 * 1024 * 1024)
        env["LOG_LEVEL"] = "WARNING"
        ports = {name: free_port() for name in (*SERVICES, "gateway")}
        t0 = time.monotonic()
        platform = start_platform(env, root / "logs", ports)
        started.append(platform)
        say(
            f"platform up in {time.monotonic() - t0:.1f}s ({', '.join(f'{k}:{v}' for k, v in ports.items())})"
        )
        asyncio.run(migrate_floor_copies(postgres.url))
        bench = Bench(root, postgres, nats, platform, platform.env, free_port(), keep_data=keep_data)
        bench.start_floor()
        return bench
    except BaseException:
        for thing in reversed(started):
            with contextlib.suppress(Exception):
                thing.stop()  # type: ignore[attr-defined]
        if not keep_data:
            shutil.rmtree(root, ignore_errors=True)
        raise


async def connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, timeout=10)
