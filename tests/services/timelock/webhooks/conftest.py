"""A running timelock with webhooks set up for a local receiver (private addresses and plain http
allowed, short time limit, three attempts), and helpers to found organisations and publish events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest

from kit import Envelope, drop_databases, new_event
from kit.testing import FakeClock, unique_suffix
from services.timelock.app import create_app
from services.timelock.config import Settings
from services.timelock.webhooks import Webhooks

from ..support import T0, Harness, Org, address, membership_event, running

SHG = (1, 2)
TLC_CORE = (11,)
TLC_CONTRIBUTOR = 12
OUTSIDER = 99


@dataclass
class Hooks:
    """The harness plus what webhook tests need."""

    harness: Harness

    @property
    def settings(self) -> Settings:
        return self.harness.settings

    @property
    def clock(self) -> FakeClock:
        return self.harness.clock

    @property
    def service(self) -> Webhooks:
        return self.harness.runtime.extra["webhooks"]

    async def apply_everywhere(self, envelope: Envelope) -> None:
        """Hand an event to every consumer of the app (the timelock's and the webhooks')."""
        subject = envelope.nats_subject(self.settings.events_subject_prefix)
        for runner in self.harness.runtime.consumers:
            await runner.apply(envelope, subject)

    async def found(self, org: Org) -> None:
        """The organisation with SHG members 1, 2, TLC core team 11, TLC contributor 12."""
        await self.apply_everywhere(
            membership_event(
                org,
                "organization",
                org.id,
                "created",
                {
                    "slug": org.slug,
                    "name": org.slug,
                    "purpose": "p",
                    "stakeholderGroupId": str(org.shg),
                    "topLevelCellId": str(org.tlc),
                    "policy": {},
                    "startsAt": T0.isoformat(),
                },
            )
        )
        joined = [(org.shg, n, "STAKEHOLDER") for n in SHG]
        joined += [(org.tlc, n, "CORE_TEAM") for n in TLC_CORE] + [(org.tlc, TLC_CONTRIBUTOR, "CONTRIBUTOR")]
        for body, n, role in joined:
            await self.apply_everywhere(
                membership_event(
                    org,
                    "membership",
                    body,
                    "joined",
                    {
                        "bodyId": str(body),
                        "bodyKind": "STAKEHOLDER_GROUP" if body == org.shg else "CELL",
                        "address": address(n),
                        "role": role,
                        "weight": "0" if role == "CONTRIBUTOR" else "1",
                        "proposalId": None,
                    },
                )
            )

    def event(self, org: Org, name: str = "proposal.created", **data: Any) -> Envelope:
        """An event of `org` as the proposals service would publish it, stamped with the test's clock."""
        aggregate, event = name.split(".")
        proposal_id = str(data.pop("proposalId", uuid.uuid4()))
        return new_event(
            source="/services/proposals",
            organization=org.slug,
            organization_id=str(org.id),
            aggregate=aggregate,
            aggregate_id=proposal_id,
            event=event,
            data={"proposalId": proposal_id, "sequence": 1, **data},
            time=self.clock.now(),
        )

    async def publish(self, envelope: Envelope, msg_id: str | None = None) -> None:
        """Into the real stream, as the relay does (the webhooks' durable consumer takes it from there)."""
        nc = await nats.connect(self.settings.nats_url)
        try:
            await nc.jetstream().publish(
                envelope.nats_subject(self.settings.events_subject_prefix),
                envelope.to_json(),
                headers={"Nats-Msg-Id": msg_id or envelope.id},
            )
        finally:
            await nc.close()

    def as_member(self, n: int | None) -> httpx.AsyncClient:
        return self.harness.as_member(n)

    async def register(
        self, org: Org, url: str, subjects: list[str] | None = None, *, by: int = 1
    ) -> httpx.Response:
        async with self.as_member(by) as client:
            return await client.post(
                f"/v1/organizations/{org.slug}/webhooks", json={"url": url, "subjects": subjects}
            )

    async def deliveries(self, webhook_id: str, *, by: int = 1, **params: Any) -> dict[str, Any]:
        async with self.as_member(by) as client:
            response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def advance(self, seconds: float) -> None:
        """Move time; the webhook scheduler looks again at once."""
        self.clock.advance(seconds)
        self.harness.runtime.extra["webhook_scheduler"].wake()


@pytest.fixture(scope="module")
async def shared_hooks(infra: Any) -> AsyncIterator[Hooks]:
    """One timelock for a module's tests (start-up is the slow part); each test founds its own
    organisation and keeps to its own endpoints."""
    suffix = unique_suffix()
    settings = Settings.model_validate(
        {
            "database_url": infra.database_url,
            "database_prefix": f"t{suffix}",
            "nats_url": infra.nats_url,
            "events_stream": f"GOV_{suffix.upper()}",
            "events_subject_prefix": f"gov{suffix}",
            "internal_auth_secret": f"internal-secret-for-tests-{suffix}-0123456789",
            "events_duplicate_window_seconds": 120,
            "events_stream_max_bytes": 64 * 1024**2,
            "webhook_allow_private_addresses": True,
            "webhook_require_https": False,
            "webhook_timeout_seconds": 1.0,
            "webhook_max_attempts": 3,
            "webhook_retry_base_seconds": 10.0,
            "webhook_max_concurrency": 4,
        }
    )
    clock = FakeClock(T0)
    try:
        async with running(create_app(settings, clock=clock), clock, settings) as harness:
            yield Hooks(harness)
    finally:
        with contextlib.suppress(Exception):
            await drop_databases(infra.database_url, [settings.database_name])
        with contextlib.suppress(Exception):
            nc = await nats.connect(infra.nats_url)
            try:
                await nc.jetstream().delete_stream(settings.events_stream)
            finally:
                await nc.close()


@pytest.fixture
def hooks(shared_hooks: Hooks) -> Iterator[Hooks]:
    """The module's timelock, with whatever a test changed in its webhooks put back afterwards."""
    service = shared_hooks.service
    dispatcher = shared_hooks.harness.runtime.extra["webhook_dispatcher"]
    saved = (service.resolver, service.allow_private_addresses, service.require_https, dispatcher.send)
    yield shared_hooks
    service.resolver, service.allow_private_addresses, service.require_https, dispatcher.send = saved


@pytest.fixture
def org() -> Org:
    return Org()
