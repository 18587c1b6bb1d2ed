"""The three services in-process on real Postgres and NATS, sharing one fake clock, driven through their
HTTP APIs as the gateway would: for tests of what the platform publishes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
from fastapi import FastAPI
from sqlalchemy import text

from kit import drop_databases
from kit.testing import FakeClock, ServiceClient, eventually, unique_suffix
from services.membership.app import create_app as create_membership
from services.membership.config import Settings as MembershipSettings
from services.proposals.app import create_app as create_proposals
from services.proposals.config import Settings as ProposalsSettings
from services.timelock.app import create_app as create_timelock
from services.timelock.config import Settings as TimelockSettings

FACTORIES: dict[str, tuple[Callable[..., FastAPI], type]] = {
    "membership": (create_membership, MembershipSettings),
    "proposals": (create_proposals, ProposalsSettings),
    "timelock": (create_timelock, TimelockSettings),
}


def address(n: int) -> str:
    return f"0x{n:040x}"


@dataclass
class Services:
    shared: dict[str, Any]
    clock: FakeClock
    apps: dict[str, FastAPI] = field(default_factory=dict)
    _stacks: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)

    @property
    def stream(self) -> str:
        return self.shared["events_stream"]

    @property
    def prefix(self) -> str:
        return self.shared["events_subject_prefix"]

    @property
    def nats_url(self) -> str:
        return self.shared["nats_url"]

    def settings(self, name: str) -> Any:
        return FACTORIES[name][1].model_validate(self.shared)

    async def start(self, name: str) -> None:
        """Start (or start again, on the same database and stream) one service."""
        factory, _ = FACTORIES[name]
        app = factory(self.settings(name), clock=self.clock)
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        await asyncio.wait_for(app.state.runtime.messaging.wait_ready(), 30)
        self.apps[name], self._stacks[name] = app, stack

    async def stop(self, name: str) -> None:
        await self._stacks.pop(name).aclose()
        self.apps.pop(name)

    def client(self, name: str, actor: str | None) -> httpx.AsyncClient:
        """HTTP to a service as the gateway calls it on behalf of `actor`."""
        return ServiceClient(self.apps[name], self.shared["internal_auth_secret"]).as_actor(actor)

    async def call(self, name: str, method: str, path: str, actor: str | None, body: Any = None) -> Any:
        async with self.client(name, actor) as client:
            response = await client.request(method, path, json=body)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def advance(self, seconds: float) -> None:
        """Move the shared clock; every deadline scheduler looks again at once."""
        self.clock.advance(seconds)
        for app in self.apps.values():
            runtime = app.state.runtime
            for scheduler in (runtime.scheduler, runtime.extra.get("webhook_scheduler")):
                if scheduler is not None:
                    scheduler.wake()

    async def settled(self) -> None:
        """Every running service has relayed what it wrote and applied what it consumes (twice in a
        row, so that nothing was in flight between one service's check and another's)."""

        async def quiet() -> bool:
            for app in self.apps.values():
                runtime = app.state.runtime
                async with runtime.db.session() as session:
                    left = await session.execute(
                        text("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL")
                    )
                    if left.scalar_one():
                        return False
                for runner in runtime.consumers:
                    if await runner.lag() != 0:
                        return False
            return True

        async def twice() -> bool:
            if not await quiet():
                return False
            await asyncio.sleep(0.1)
            return await quiet()

        await eventually(twice, within=30)

    async def proposal(self, proposal_id: str) -> dict[str, Any]:
        return await self.call("proposals", "GET", f"/v1/proposals/{proposal_id}", None)

    async def until_status(self, proposal_id: str, *statuses: str, within: float = 20) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            found = await self.proposal(proposal_id)
            return found if found["status"] in statuses else None

        return await eventually(check, within=within)


@contextlib.asynccontextmanager
async def running_services(database_url: str, nats_url: str, clock: FakeClock) -> AsyncIterator[Services]:
    suffix = unique_suffix()
    shared = {
        "database_url": database_url,
        "database_prefix": f"t{suffix}",
        "nats_url": nats_url,
        "events_stream": f"GOV_{suffix.upper()}",
        "events_subject_prefix": f"gov{suffix}",
        "internal_auth_secret": f"internal-secret-{suffix}-0123456789abcdef",
        "auth_token_keys": f"k1:member-secret-{suffix}-0123456789abcdef",
        "events_duplicate_window_seconds": 120,
        "events_stream_max_bytes": 64 * 1024**2,
        # the tests act at once after founding: let the proposals service wait for its projection
        "projection_wait_seconds": 10.0,
    }
    services = Services(shared, clock)
    try:
        for name in FACTORIES:
            await services.start(name)
        yield services
    finally:
        for name in list(services.apps):
            with contextlib.suppress(Exception):
                await services.stop(name)
        with contextlib.suppress(Exception):
            await drop_databases(database_url, [f"t{suffix}_{name}" for name in FACTORIES])
        with contextlib.suppress(Exception):
            nc = await nats.connect(nats_url)
            try:
                await nc.jetstream().delete_stream(shared["events_stream"])
            finally:
                await nc.close()
