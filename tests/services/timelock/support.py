"""Helpers for driving a real timelock with hand-made membership and proposal events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from kit import Envelope, Runtime, new_event
from kit.testing import FakeClock, fetch_events, running_app
from services.timelock.app import create_app
from services.timelock.config import Settings
from services.timelock.service import Timelock

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = 24 * 3600
WEEK = 7 * DAY


def address(n: int) -> str:
    return f"0x{n:040x}"


@dataclass
class Org:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    slug: str = field(default_factory=lambda: f"org-{uuid.uuid4().hex[:8]}")
    shg: uuid.UUID = field(default_factory=uuid.uuid4)
    tlc: uuid.UUID = field(default_factory=uuid.uuid4)
    sequences: dict[str, int] = field(default_factory=dict)

    def next_sequence(self, key: str) -> int:
        self.sequences[key] = self.sequences.get(key, 0) + 1
        return self.sequences[key]


def membership_event(
    org: Org, aggregate: str, aggregate_id: uuid.UUID, event: str, data: dict[str, Any]
) -> Envelope:
    envelope = new_event(
        source="/services/membership",
        organization=org.slug,
        organization_id=str(org.id),
        aggregate=aggregate,
        aggregate_id=str(aggregate_id),
        event=event,
        data=data,
    )
    envelope.data["sequence"] = org.next_sequence(f"{aggregate}:{aggregate_id}")
    return envelope


def proposal_event(org: Org, proposal_id: uuid.UUID, event: str, data: dict[str, Any]) -> Envelope:
    envelope = new_event(
        source="/services/proposals",
        organization=org.slug,
        organization_id=str(org.id),
        aggregate="proposal",
        aggregate_id=str(proposal_id),
        event=event,
        data={"proposalId": str(proposal_id), "kind": "OPERATIONAL", "bodyId": str(org.tlc), **data},
    )
    envelope.data["sequence"] = org.next_sequence(f"proposal:{proposal_id}")
    return envelope


def voting_closed(
    org: Org,
    proposal_id: uuid.UUID,
    *,
    next_step: str = "REVIEW",
    window: int = WEEK,
    percent: str = "33",
    extension: int = 2 * DAY,
    delay: int = 0,
    grace: int = WEEK,
) -> Envelope:
    review = {
        "reviewingBodyId": str(org.shg) if next_step == "REVIEW" else None,
        "windowSeconds": window if next_step == "REVIEW" else 0,
        "vetoThresholdPercent": percent,
        "concernExtensionSeconds": extension,
        "delaySeconds": delay,
        "gracePeriodSeconds": grace,
    }
    return proposal_event(
        org,
        proposal_id,
        "voting_closed",
        {
            "status": "IN_REVIEW" if next_step == "REVIEW" else "VOTING",
            "decidingBodyId": str(org.tlc),
            "outcome": "PASSED",
            "tally": {"for": "5", "against": "0", "abstain": "0", "eligible": "5", "quorumReached": True},
            "next": next_step,
            "review": review,
        },
    )


@dataclass
class Harness:
    app: Any
    client: Any
    clock: FakeClock
    settings: Settings

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    @property
    def timelock(self) -> Timelock:
        return self.runtime.extra["timelock"]

    async def deliver(self, envelope: Envelope) -> bool:
        """Hand one event to the app's real consumer (inbox + handler in one transaction)."""
        runner = self.runtime.consumers[0]
        subject = envelope.nats_subject(self.settings.events_subject_prefix)
        return await runner.apply(envelope, subject)

    async def found_org(self, org: Org, weights: list[int | str]) -> list[str]:
        """The organization, its SHG and TLC, and SHG members 1..n with these weights."""
        await self.deliver(
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
        members = []
        for n, weight in enumerate(weights, start=1):
            await self.join(org, n, weight)
            members.append(address(n))
        return members

    async def join(self, org: Org, n: int, weight: int | str = 1, body: uuid.UUID | None = None) -> None:
        body_id = body or org.shg
        await self.deliver(
            membership_event(
                org,
                "membership",
                body_id,
                "joined",
                {
                    "bodyId": str(body_id),
                    "bodyKind": "STAKEHOLDER_GROUP",
                    "address": address(n).upper().replace("0X", "0x"),
                    "role": "STAKEHOLDER",
                    "weight": str(weight),
                    "proposalId": None,
                },
            )
        )

    async def leave(self, org: Org, n: int) -> None:
        await self.deliver(
            membership_event(
                org,
                "membership",
                org.shg,
                "left",
                {
                    "bodyId": str(org.shg),
                    "bodyKind": "STAKEHOLDER_GROUP",
                    "address": address(n),
                    "role": "STAKEHOLDER",
                    "withdrawn": "0",
                    "proposalId": None,
                },
            )
        )

    async def open_review(self, org: Org, **kwargs: Any) -> uuid.UUID:
        proposal_id = uuid.uuid4()
        await self.deliver(voting_closed(org, proposal_id, **kwargs))
        return proposal_id

    def as_member(self, n: int | None) -> httpx.AsyncClient:
        return self.client.as_actor(address(n) if n is not None else None)

    async def review(self, proposal_id: uuid.UUID) -> dict[str, Any]:
        async with self.as_member(None) as c:
            response = await c.get(f"/v1/reviews/by-proposal/{proposal_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def object(self, n: int, proposal_id: uuid.UUID, reason: str | None = None) -> httpx.Response:
        async with self.as_member(n) as c:
            return await c.post(f"/v1/reviews/by-proposal/{proposal_id}/objections", json={"reason": reason})

    async def withdraw(self, n: int, proposal_id: uuid.UUID) -> httpx.Response:
        async with self.as_member(n) as c:
            return await c.delete(f"/v1/reviews/by-proposal/{proposal_id}/objections")

    async def concern(self, n: int, proposal_id: uuid.UUID, reason: str) -> httpx.Response:
        async with self.as_member(n) as c:
            return await c.post(f"/v1/reviews/by-proposal/{proposal_id}/concerns", json={"reason": reason})

    async def advance(self, seconds: float) -> None:
        """Move time and wait until every deadline now due has fired and committed."""
        self.clock.advance(seconds)
        await settle(self.runtime)

    async def events(self, type_suffix: str | None = None) -> list[dict[str, Any]]:
        """Events the timelock wrote to its outbox, in order (optionally only `review.approved` etc.)."""
        return await outbox_events(self.runtime, type_suffix)


async def due_unfired(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        return (
            await session.execute(
                text(
                    "SELECT count(*) FROM kit_deadlines WHERE fired_at IS NULL AND cancelled_at IS NULL "
                    "AND due_at <= :now"
                ),
                {"now": runtime.clock.now()},
            )
        ).scalar_one()


async def settle(runtime: Runtime) -> None:
    """Fire what is due here and wait for any other scheduler (the app's own loop) to commit its share."""
    assert runtime.scheduler is not None
    async with asyncio.timeout(20):
        while True:
            while await runtime.scheduler.fire_due():
                pass
            if await due_unfired(runtime) == 0:
                return
            await asyncio.sleep(0.02)


async def outbox_events(runtime: Runtime, type_suffix: str | None = None) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (
            (await session.execute(text("SELECT envelope FROM kit_outbox ORDER BY position"))).scalars().all()
        )
    events = [dict(row) for row in rows]
    if type_suffix is not None:
        events = [e for e in events if e["type"] == f"governance.{type_suffix}.v1"]
    return events


async def published(harness: Harness, tail: str, *, within: float = 20.0) -> list[Envelope]:
    """The events on the test's stream whose subject ends with `tail`, once there is at least one."""
    settings = harness.settings
    subjects = f"{settings.events_subject_prefix}.*.{tail}"
    async with asyncio.timeout(within):
        while True:
            found = await fetch_events(settings.nats_url, settings.events_stream, subjects, wait_seconds=0.2)
            if found:
                return found
            await asyncio.sleep(0.1)


async def stop_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel loops until they are really gone.

    Works around a shutdown hang in the kit: nats-py can turn a cancellation that lands while `fetch`
    times out into a timeout, which the consumer loop treats as "no messages" and carries on, so the
    lifespan's single `cancel()` + `await` never returns. Cancelling again until the task ends is safe.
    """
    for task in tasks:
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.2)


@contextlib.asynccontextmanager
async def running(app: Any, clock: FakeClock, settings: Settings) -> AsyncIterator[Harness]:
    async with running_app(app) as client:
        harness = Harness(app=app, client=client, clock=clock, settings=settings)
        try:
            yield harness
        finally:
            await stop_tasks(harness.runtime.tasks)


@contextlib.asynccontextmanager
async def service(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    """The service on these settings; entered again, it is a restart on the same database and stream."""
    async with running(create_app(settings, clock=clock), clock, settings) as harness:
        yield harness
