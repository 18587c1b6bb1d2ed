"""Alembic, run from code: the kit's own tables first, then the service's.

Each service's `migrations/env.py` is two lines: import its metadata and call `run_env(metadata)`.
`migrate(settings, script_location)` creates the database if needed and upgrades both, under an
advisory lock so several replicas starting at once migrate one at a time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from ._db import ensure_database
from ._settings import ServiceSettings

KIT_MIGRATIONS = Path(__file__).parent / "migrations"
KIT_VERSION_TABLE = "kit_alembic_version"
SERVICE_VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK = 72_430_001


def _config(script_location: Path, version_table: str, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def run_env(target_metadata: MetaData | None) -> None:
    """Body of every `env.py`: migrate the connection handed over by `migrate`, or (for the alembic CLI,
    e.g. `revision --autogenerate`) a database named by `sqlalchemy.url` or `$MIGRATIONS_DATABASE_URL`."""
    from alembic import context

    config = context.config
    version_table = config.attributes.get("version_table", SERVICE_VERSION_TABLE)

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            compare_type=True,
            include_name=lambda name, type_, _parent: not (type_ == "table" and name.startswith("kit_")),
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ["MIGRATIONS_DATABASE_URL"]

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run_async())


def _upgrade(connection: Connection, script_location: Path, version_table: str) -> None:
    command.upgrade(_config(script_location, version_table, connection), "head")


def _heads(script_location: Path) -> set[str]:
    return set(ScriptDirectory.from_config(_config(script_location, SERVICE_VERSION_TABLE)).get_heads())


def _current(connection: Connection, version_table: str) -> set[str]:
    ctx = MigrationContext.configure(connection, opts={"version_table": version_table})
    return set(ctx.get_current_heads())


async def migrate(settings: ServiceSettings, script_location: Path) -> None:
    await ensure_database(settings.server_dsn, settings.database_name)
    engine = create_async_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.commit()  # the session-level lock outlives this transaction
            try:
                await conn.run_sync(_upgrade, KIT_MIGRATIONS, KIT_VERSION_TABLE)
                await conn.run_sync(_upgrade, script_location, SERVICE_VERSION_TABLE)
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                await conn.commit()
    finally:
        await engine.dispose()


class MigrationCheck:
    """Tells /readyz whether the database's schema suits this code.

    Behind the code's heads (or empty) is not ready. A revision this code does not know is taken as
    *ahead*: during a rolling upgrade the migrations Job moves the schema forward before the old pods
    are replaced, and migrations are written to be compatible with the previous release.
    """

    def __init__(self, script_location: Path) -> None:
        self.expected: dict[str, tuple[set[str], set[str]]] = {}
        for table, location in (
            (KIT_VERSION_TABLE, KIT_MIGRATIONS),
            (SERVICE_VERSION_TABLE, script_location),
        ):
            scripts = ScriptDirectory.from_config(_config(location, table))
            known = {rev.revision for rev in scripts.walk_revisions()}
            self.expected[table] = (set(scripts.get_heads()), known)

    async def is_current(self, conn: Any) -> bool:
        for table, (heads, known) in self.expected.items():
            current = await conn.run_sync(_current, table)
            if not current:
                return False
            if current != heads and current <= known:
                return False
        return True
