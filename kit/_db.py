from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

log = logging.getLogger("kit.db")

# Session.info keys: the outbox and the deadlines mark a transaction so that it wakes their loops on commit.
NOTIFY_CHANNELS = "kit_notify_channels"


class Database:
    """One service's database: an async engine and transactional sessions.

    `session()` opens a transaction that commits when the block ends normally and rolls back on error.
    Code inside never commits. When the transaction recorded events or deadlines, one empty NOTIFY per
    channel is sent just before commit (one per transaction, not per row: NOTIFY takes a global lock).
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        # No pool_pre_ping: with asyncpg it costs three round trips (BEGIN, `;`, ROLLBACK) on every
        # checkout; `_discard_closed` checks a connection with one instead.
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
        )
        event.listen(self.engine.sync_engine.pool, "checkout", _discard_closed)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session
            for channel in sorted(session.info.pop(NOTIFY_CHANNELS, ())):
                await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})

    async def ping(self, within: float = 2.0) -> None:
        async with asyncio.timeout(within), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _discard_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Hand out only a live connection: one round trip (`SELECT 1`, the simple protocol, outside any
    transaction) where SQLAlchemy's pre-ping takes three. Raising makes the pool reconnect this record
    and hand out the new connection instead."""
    connection = record.driver_connection
    if connection is None:
        return
    if connection.is_closed():
        raise DisconnectionError("the server closed this connection")
    try:
        # checkout runs inside SQLAlchemy's greenlet bridge, so this may await the driver
        await_only(connection.execute("SELECT 1"))
    except Exception as exc:
        raise DisconnectionError("the server closed this connection") from exc


async def fetch_rows(session: AsyncSession, sql: str, *args: Any) -> list[Any]:
    """Run `sql` ($1-style parameters) straight through asyncpg on the session's connection (inside
    its transaction once one has begun): for hot reads, where SQLAlchemy's statement building, ORM
    loading and result processing cost several times the query (bench/README.md, "Findings (read
    path)"). The connection's JSON codecs are SQLAlchemy's, so JSON columns arrive decoded."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return await raw.driver_connection.fetch(sql, *args)  # type: ignore[no-any-return, union-attr]


def notify_on_commit(session: AsyncSession, channel: str) -> None:
    """Ask `Database.session()` to NOTIFY `channel` once when this transaction commits."""
    session.info.setdefault(NOTIFY_CHANNELS, set()).add(channel)


async def ensure_database(server_dsn: str, name: str) -> None:
    """Create database `name` on the server if it does not exist (safe when several processes race)."""
    conn = await asyncpg.connect(server_dsn, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
                log.info("created database", extra={"database": name})
    finally:
        await conn.close()


async def drop_databases(server_dsn: str, names: Iterable[str]) -> None:
    conn = await asyncpg.connect(server_dsn, timeout=10)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class Notifier:
    """LISTEN on a dedicated connection and turn notifications into asyncio events.

    A pooled connection loses its listeners when released and a LISTEN connection dies silently when the
    server restarts (asyncpg #283, #421): this keeps its own connection, watches for termination and
    reconnects. Every (re)connect sets all events, since notifications may have been missed meanwhile;
    the loops it wakes also poll, so a lost notification only delays them.
    """

    def __init__(self, dsn: str, channels: Iterable[str]) -> None:
        self.dsn = dsn
        self.events = {channel: asyncio.Event() for channel in channels}
        self.connected = False

    def event(self, channel: str) -> asyncio.Event:
        return self.events[channel]

    def _on_notify(self, _conn: object, _pid: int, channel: str, _payload: str) -> None:
        if channel in self.events:
            self.events[channel].set()

    async def run(self) -> None:
        while True:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self.events:
                    await conn.add_listener(channel, self._on_notify)
                self.connected = True
                for event in self.events.values():
                    event.set()
                while not lost.is_set() and not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=5)
                    if not lost.is_set():
                        # a cheap probe: a dead socket is not always reported by the termination listener
                        await conn.execute("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listener connection lost", extra={"error": repr(exc)})
            finally:
                self.connected = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(1)
