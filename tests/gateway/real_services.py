"""The real services in-process (real Postgres and NATS) behind an in-process gateway.

Started once per test session: migrations and start-up are the expensive part. Tests stay independent
by founding their own organisations (unique slugs) with their own accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import uvicorn
from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from kit import drop_databases
from kit.testing import eventually, unique_suffix
from services.membership.app import create_app as create_membership
from services.membership.config import Settings as MembershipSettings
from services.proposals.app import create_app as create_proposals
from services.proposals.config import Settings as ProposalsSettings
from services.timelock.app import create_app as create_timelock
from services.timelock.config import Settings as TimelockSettings


@dataclass
class Platform:
    gateway: FastAPI
    services: dict[str, FastAPI]
    url: str
    settings: GatewaySettings


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real socket (websockets need one), lifespan included; yields `host:port`."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), within=30)
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_platform(database_url: str, nats_url: str) -> AsyncIterator[Platform]:
    suffix = unique_suffix()
    shared: dict[str, Any] = {
        "database_url": database_url,
        "database_prefix": f"t{suffix}",
        "nats_url": nats_url,
        "events_stream": f"GOV_{suffix.upper()}",
        "events_subject_prefix": f"gov{suffix}",
        "internal_auth_secret": f"internal-secret-{suffix}-0123456789abcdef",
        "events_duplicate_window_seconds": 120,
    }
    keys = {"auth_token_keys": f"k1:member-secret-{suffix}-0123456789abcdef"}
    services = {
        "membership": create_membership(MembershipSettings.model_validate({**shared, **keys})),
        "proposals": create_proposals(ProposalsSettings.model_validate(shared)),
        "timelock": create_timelock(TimelockSettings.model_validate(shared)),
    }
    settings = GatewaySettings.model_validate({**shared, **keys})
    gateway = create_gateway(
        settings, transports={name: httpx.ASGITransport(app=app) for name, app in services.items()}
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            for app in services.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            for app in services.values():
                await asyncio.wait_for(app.state.runtime.messaging.wait_ready(), 30)
            host = await stack.enter_async_context(serving(gateway))
            await asyncio.wait_for(gateway.state.messaging.wait_ready(), 30)
            yield Platform(gateway, services, f"http://{host}", settings)
    finally:
        with contextlib.suppress(Exception):
            await drop_databases(database_url, [f"t{suffix}_{name}" for name in services])
        with contextlib.suppress(Exception):
            nc = await nats.connect(nats_url)
            try:
                await nc.jetstream().delete_stream(shared["events_stream"])
            finally:
                await nc.close()
