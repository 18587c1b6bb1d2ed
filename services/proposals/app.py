"""The proposals service: decision modules (policy), proposals, votes, tallies, history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Clock, Outbox, Runtime, SystemClock, create_service_app, migrate

from .api import router
from .config import Settings
from .consumers import consumers
from .metagovernance.api import router as metagovernance_router
from .metagovernance.service import EXPERIMENT_ENDS, POLL_CLOSES
from .service import VOTING_DEADLINE, VOTING_OPENS_DEADLINE, ProposalsService

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "0.1.0"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    service = ProposalsService(settings, clock, Outbox(settings.events_subject_prefix))

    async def status_details(session: AsyncSession, _runtime: Runtime) -> dict[str, Any]:
        return await service.status_details(session)

    app = create_service_app(
        settings,
        name="proposals",
        version=VERSION,
        migrations=MIGRATIONS,
        routers=[router, metagovernance_router],
        consumers=lambda _runtime: consumers(service),
        deadline_handlers=lambda _runtime: {
            VOTING_DEADLINE: service.close_voting,
            VOTING_OPENS_DEADLINE: service.open_voting,
            EXPERIMENT_ENDS: service.meta.end_experiment,
            POLL_CLOSES: service.meta.close_poll,
        },
        status_details=status_details,
        clock=clock,
        description="Decision modules, proposals, votes, tallies and history.",
    )
    app.state.proposals = service
    return app


async def migrate_database(settings: Settings | None = None) -> None:
    """Create and migrate this service's database, then return (`bicameral migrate`, the k8s Job)."""
    await migrate(settings or Settings(), MIGRATIONS)
