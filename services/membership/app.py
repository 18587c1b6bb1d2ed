"""The membership service: organisations, bodies, members and roles, funds, sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Clock, Outbox, Runtime, SystemClock, create_service_app, migrate

from .api import router
from .config import Settings
from .consumers import consumers
from .service import MembershipService

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "0.1.0"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    service = MembershipService(settings, clock, Outbox(settings.events_subject_prefix))

    async def status_details(session: AsyncSession, _runtime: Runtime) -> dict[str, Any]:
        return await service.status_details(session)

    app = create_service_app(
        settings,
        name="membership",
        version=VERSION,
        migrations=MIGRATIONS,
        routers=[router],
        consumers=lambda _runtime: consumers(service),
        status_details=status_details,
        clock=clock,
        description="Who belongs where and may do what: organisations, bodies, members, funds, sign-in.",
    )
    app.state.membership = service
    return app


async def migrate_database(settings: Settings | None = None) -> None:
    """Create and migrate this service's database, then return (`bicameral migrate`, the k8s Job)."""
    await migrate(settings or Settings(), MIGRATIONS)
