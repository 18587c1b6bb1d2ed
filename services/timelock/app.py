"""The timelock service: optimistic review windows, concerns, objections, delays, durable deadlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Clock, Consumer, Runtime, create_service_app, migrate

from . import api, webhooks
from .config import Settings
from .consumers import build_consumers
from .scheduler import FireHandler, deadline_handlers
from .service import Timelock
from .webhooks import api as webhooks_api

VERSION = "0.1.0"
MIGRATIONS = Path(__file__).parent / "migrations"


def timelock_of(runtime: Runtime) -> Timelock:
    """The one `Timelock` of a running app, built from the runtime's clock and outbox on first use."""
    timelock = runtime.extra.get("timelock")
    if timelock is None:
        settings = runtime.settings
        assert isinstance(settings, Settings)
        timelock = Timelock(
            clock=runtime.clock,
            outbox=runtime.outbox,
            default_grace_period_seconds=settings.default_grace_period_seconds,
            review_wait_seconds=settings.review_wait_seconds,
        )
        runtime.extra["timelock"] = timelock
    return timelock


def _consumers(runtime: Runtime) -> list[Consumer]:
    return [*build_consumers(timelock_of(runtime)), webhooks.build_consumer(webhooks.webhooks_of(runtime))]


def _deadline_handlers(runtime: Runtime) -> dict[str, FireHandler]:
    return deadline_handlers(timelock_of(runtime))


async def _status_details(session: AsyncSession, runtime: Runtime) -> dict[str, Any]:
    details = await timelock_of(runtime).status_details(session)
    return {**details, **await webhooks.webhooks_of(runtime).status_details(session)}


async def _on_startup(runtime: Runtime) -> None:
    timelock_of(runtime)
    webhooks.start(runtime)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        name="timelock",
        version=VERSION,
        migrations=MIGRATIONS,
        routers=[api.router, webhooks_api.router],
        consumers=_consumers,
        deadline_handlers=_deadline_handlers,
        status_details=_status_details,
        clock=clock,
        on_startup=_on_startup,
        description="Optimistic review of TLC proposals by the Stakeholder Group, delays, durable deadlines.",
    )


async def migrate_database(settings: Settings | None = None) -> None:
    """Create and migrate this service's database, then return (`bicameral migrate`, the k8s Job)."""
    await migrate(settings or Settings(), MIGRATIONS)
