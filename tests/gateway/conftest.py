"""The gateway in-process: over fake services (MockTransport) for fast contract tests, or over the real
services (`platform`), always on real NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI
from graphql import OperationDefinitionNode, parse, print_ast

from gateway.app import create_app
from gateway.config import Settings
from kit import TokenKeyRing
from tests.gateway.fakes import FakeServices

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "operations.graphql"
OPERATIONS = CONTRACT.read_text()
# each operation on its own, as a front-end sends it (the whole contract outgrows the token limit)
SINGLE_OPERATIONS = {
    d.name.value: print_ast(d)
    for d in parse(OPERATIONS).definitions
    if isinstance(d, OperationDefinitionNode) and d.name is not None
}


@dataclass
class Gateway:
    http: httpx.AsyncClient
    app: FastAPI

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        operation: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            payload["operationName"] = operation
        return await self.http.post("/graphql", json=payload, headers=headers)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        return response.json()

    async def op(
        self, name: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Run one operation of the contract, exactly as a front-end sends it."""
        response = await self.post(SINGLE_OPERATIONS[name], variables, token=token, operation=name)
        assert response.status_code == 200, response.text
        return response.json()

    async def sign_in(self, account: Any) -> str:
        challenge = await self.op("SignInChallenge", {"address": account.address})
        message = challenge["data"]["signInChallenge"]
        signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
        result = await self.op("SignIn", {"message": message, "signature": signature})
        payload = result["data"]["signIn"]
        assert payload["userErrors"] == [], payload
        return payload["token"]


@pytest.fixture
def gateway_settings(settings_for: Callable[..., Any]) -> Settings:
    return settings_for(Settings, events_watchdog_seconds=0.5, events_idle_heartbeat_seconds=1.0)


@pytest.fixture
def fake(gateway_settings: Settings) -> FakeServices:
    return FakeServices(
        secret=gateway_settings.internal_auth_secret,
        key_ring=TokenKeyRing.parse(gateway_settings.auth_token_keys),
    )


@pytest.fixture
async def gateway(gateway_settings: Settings, fake: FakeServices) -> AsyncIterator[Gateway]:
    app = create_app(gateway_settings, transports=fake.transports())
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.messaging.wait_ready(), 10)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            yield Gateway(http, app)


@pytest.fixture
def account() -> Any:
    return Account.create()


def token_for(fake: FakeServices, address: str) -> str:
    token, _ = fake.key_ring.issue(address, 3600)
    return token


@pytest.fixture(scope="session")
async def platform(infra: Any) -> AsyncIterator[Any]:
    """The real services and a gateway over them, once per session (start-up is the slow part)."""
    # imported here so that the fast tests above do not depend on the services importing cleanly
    from tests.gateway.real_services import running_platform

    async with running_platform(infra.database_url, infra.nats_url) as running:
        yield running


@pytest.fixture
async def live_gateway(platform: Any) -> AsyncIterator[Gateway]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        yield Gateway(http, platform.gateway)
