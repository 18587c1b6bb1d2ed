"""Webhooks through the contract's operations: the gateway over a real timelock (real Postgres and NATS),
delivering to a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from kit import TokenKeyRing
from kit.testing import FakeClock, eventually
from services.timelock.app import create_app as create_timelock
from services.timelock.config import Settings as TimelockSettings
from tests.gateway.conftest import Gateway
from tests.services.timelock.support import T0, Org, address, running
from tests.services.timelock.webhooks.conftest import OUTSIDER, Hooks
from tests.services.timelock.webhooks.receiver import Receiver, serving, verify


@dataclass
class Setup:
    gateway: Gateway
    hooks: Hooks
    keys: TokenKeyRing

    def token(self, n: int) -> str:
        return self.keys.issue(address(n), 3600)[0]


@pytest.fixture
async def setup(settings_for: Any) -> AsyncIterator[Setup]:
    timelock_settings = settings_for(
        TimelockSettings, webhook_allow_private_addresses=True, webhook_require_https=False
    )
    gateway_settings = settings_for(GatewaySettings)
    clock = FakeClock(T0)
    async with running(create_timelock(timelock_settings, clock=clock), clock, timelock_settings) as harness:
        app = create_gateway(gateway_settings, transports={"timelock": httpx.ASGITransport(app=harness.app)})
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.messaging.wait_ready(), 10)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gw"
            ) as http:
                yield Setup(
                    Gateway(http, app), Hooks(harness), TokenKeyRing.parse(gateway_settings.auth_token_keys)
                )


async def test_a_stakeholder_registers_follows_and_deletes_a_webhook(setup: Setup) -> None:
    org = Org()
    await setup.hooks.found(org)
    token = setup.token(1)
    async with serving(Receiver()) as receiver:
        registered = (
            await setup.gateway.op(
                "RegisterWebhook",
                {"organization": org.slug, "url": receiver.url, "subjects": ["proposal.>"]},
                token=token,
            )
        )["data"]["registerWebhook"]
        assert registered["userErrors"] == []
        assert registered["webhook"]["createdBy"]["address"] == address(1)
        event = setup.hooks.event(org, "proposal.enacted")
        await setup.hooks.publish(event)
        await eventually(lambda: receiver.received, within=15)
        assert (
            verify(registered["secret"], receiver.received[0].headers, receiver.received[0].body)["id"]
            == event.id
        )

        async def delivered() -> Any:
            doc = await setup.gateway.op("Webhooks", {"organization": org.slug}, token=token)
            hooks = doc["data"]["webhooks"]
            return hooks if hooks and hooks[0]["deliveredCount"] == 1 else None

        (webhook,) = await eventually(delivered, within=10)

    assert "secret" not in webhook
    (delivery,) = webhook["deliveries"]["nodes"]
    assert (delivery["eventId"], delivery["status"], delivery["subject"]) == (
        event.id,
        "DELIVERED",
        "proposal.enacted",
    )
    assert [(a["number"], a["statusCode"]) for a in delivery["attempts"]] == [(1, 204)]
    deleted = (await setup.gateway.op("DeleteWebhook", {"id": webhook["id"]}, token=token))["data"][
        "deleteWebhook"
    ]
    assert deleted == {"deletedId": webhook["id"], "userErrors": []}
    assert (await setup.gateway.op("Webhooks", {"organization": org.slug}, token=token))["data"][
        "webhooks"
    ] == []


async def test_someone_outside_the_organisation_gets_forbidden(setup: Setup) -> None:
    org = Org()
    await setup.hooks.found(org)
    token = setup.token(OUTSIDER)

    registered = await setup.gateway.op(
        "RegisterWebhook", {"organization": org.slug, "url": "http://127.0.0.1:9/x"}, token=token
    )
    listed = await setup.gateway.op("Webhooks", {"organization": org.slug}, token=token)

    assert registered["data"]["registerWebhook"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert registered["data"]["registerWebhook"]["secret"] is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_anonymous_caller_is_asked_to_sign_in(setup: Setup) -> None:
    registered = await setup.gateway.op(
        "RegisterWebhook", {"organization": "some-org", "url": "https://x.org/"}
    )
    deleted = await setup.gateway.op("DeleteWebhook", {"id": "00000000-0000-0000-0000-000000000000"})

    assert registered["data"]["registerWebhook"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    assert deleted["data"]["deleteWebhook"]["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_refused_url_names_the_field(setup: Setup) -> None:
    org = Org()
    await setup.hooks.found(org)

    registered = await setup.gateway.op(
        "RegisterWebhook", {"organization": org.slug, "url": "gopher://x.org/"}, token=setup.token(1)
    )

    error = registered["data"]["registerWebhook"]["userErrors"][0]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "url")
