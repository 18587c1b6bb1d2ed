"""Driving a real proposals service with hand-made membership and timelock events."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
from sqlalchemy import text

from kit import Envelope, Runtime, new_event
from kit.testing import FakeClock
from services.proposals.config import Settings
from services.proposals.service import ProposalsService

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def address(n: int) -> str:
    return f"0x{n:040x}"


# who is who in every organisation the harness founds
STAKEHOLDERS = [address(n) for n in (1, 2, 3)]
TLC_CORE = [address(n) for n in (11, 12, 13)]
TLC_CONTRIBUTOR = address(14)
CELL_CORE = [address(n) for n in (21, 22, 23)]
CELL_CONTRIBUTOR = address(24)
OUTSIDER = address(99)


@dataclass
class Org:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    slug: str = field(default_factory=lambda: f"org-{uuid.uuid4().hex[:10]}")
    shg: uuid.UUID = field(default_factory=uuid.uuid4)
    tlc: uuid.UUID = field(default_factory=uuid.uuid4)
    cell: uuid.UUID = field(default_factory=uuid.uuid4)
    sequences: dict[str, int] = field(default_factory=dict)

    def event(
        self, aggregate: str, aggregate_id: Any, name: str, data: dict[str, Any], source: str
    ) -> Envelope:
        envelope = new_event(
            source=source,
            organization=self.slug,
            organization_id=str(self.id),
            aggregate=aggregate,
            aggregate_id=str(aggregate_id),
            event=name,
            data=data,
        )
        key = f"{aggregate}:{aggregate_id}"
        self.sequences[key] = self.sequences.get(key, 0) + 1
        envelope.data["sequence"] = self.sequences[key]
        return envelope

    def membership(self, aggregate: str, aggregate_id: Any, name: str, data: dict[str, Any]) -> Envelope:
        return self.event(aggregate, aggregate_id, name, data, "/services/membership")

    def timelock(
        self, proposal_id: str, name: str, data: dict[str, Any], review_id: str | None = None
    ) -> Envelope:
        aggregate, event = name.split(".")
        rid = review_id or str(uuid.uuid5(uuid.NAMESPACE_URL, proposal_id))
        return self.event(
            aggregate, rid, event, {"proposalId": proposal_id, "reviewId": rid, **data}, "/services/timelock"
        )

    def created(self, policy: dict[str, Any] | None = None) -> Envelope:
        return self.membership(
            "organization",
            self.id,
            "created",
            {
                "slug": self.slug,
                "name": self.slug,
                "purpose": "p",
                "stakeholderGroupId": str(self.shg),
                "topLevelCellId": str(self.tlc),
                "policy": policy or {},
                "startsAt": T0.isoformat(),
            },
        )

    def body(self, body_id: uuid.UUID, kind: str, parent: uuid.UUID | None = None) -> Envelope:
        return self.membership(
            "body",
            body_id,
            "created",
            {
                "bodyId": str(body_id),
                "kind": kind,
                "name": "b",
                "purpose": "p",
                "parentId": str(parent) if parent else None,
                "isTopLevel": body_id == self.tlc,
                "proposalId": None,
            },
        )

    def joined(self, body_id: uuid.UUID, who: str, role: str, weight: Any = 1) -> Envelope:
        kind = "STAKEHOLDER_GROUP" if body_id == self.shg else "CELL"
        return self.membership(
            "membership",
            body_id,
            "joined",
            {
                "bodyId": str(body_id),
                "bodyKind": kind,
                "address": who,
                "role": role,
                "weight": str(weight),
                "proposalId": None,
            },
        )

    def left(self, body_id: uuid.UUID, who: str, role: str) -> Envelope:
        return self.membership(
            "membership",
            body_id,
            "left",
            {"bodyId": str(body_id), "bodyKind": "CELL", "address": who, "role": role, "withdrawn": "0"},
        )

    def founding_events(self, policy: dict[str, Any] | None = None) -> list[Envelope]:
        out = [
            self.created(policy),
            self.body(self.shg, "STAKEHOLDER_GROUP"),
            self.body(self.tlc, "CELL"),
            self.body(self.cell, "CELL", parent=self.tlc),
        ]
        out += [self.joined(self.shg, a, "STAKEHOLDER") for a in STAKEHOLDERS]
        out += [self.joined(self.tlc, a, "CORE_TEAM") for a in TLC_CORE]
        out.append(self.joined(self.tlc, TLC_CONTRIBUTOR, "CONTRIBUTOR", 0))
        out += [self.joined(self.cell, a, "CORE_TEAM") for a in CELL_CORE]
        out.append(self.joined(self.cell, CELL_CONTRIBUTOR, "CONTRIBUTOR", 0))
        return out


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
    def service(self) -> ProposalsService:
        return self.app.state.proposals

    async def deliver(self, envelope: Envelope) -> bool:
        """Hand one event to the app's real consumer code (inbox + handler in one transaction)."""
        runner = next(
            r
            for r in self.runtime.consumers
            if (r.durable == "proposals-timelock") == (envelope.aggregate in ("review", "operation"))
        )
        return await runner.apply(envelope, envelope.nats_subject(self.settings.events_subject_prefix))

    async def publish(self, *envelopes: Envelope) -> None:
        """Publish to the real stream, in order, as another service's relay would."""
        nc = await nats.connect(self.settings.nats_url)
        try:
            js = nc.jetstream()
            for envelope in envelopes:
                await js.publish(
                    envelope.nats_subject(self.settings.events_subject_prefix),
                    envelope.to_json(),
                    headers={"Nats-Msg-Id": envelope.id},
                    stream=self.settings.events_stream,
                )
        finally:
            await nc.close()

    async def found(self, policy: dict[str, Any] | None = None) -> Org:
        """An organisation with SHG, TLC and one sub-cell, delivered straight to the consumer; the clock
        then moves on so the projection is not "just changed" (no waiting on refusals)."""
        org = Org()
        for envelope in org.founding_events(policy):
            await self.deliver(envelope)
        self.clock.advance(60)
        return org

    def as_actor(self, actor: str | None) -> httpx.AsyncClient:
        return self.client.as_actor(actor)

    async def propose(
        self,
        actor: str,
        body: uuid.UUID,
        kind: str = "OPERATIONAL",
        actions: list | None = None,
        **extra: Any,
    ) -> httpx.Response:
        payload = {"bodyId": str(body), "kind": kind, "title": "A proposal", "description": "Why", **extra}
        if actions is not None:
            payload["actions"] = actions
        async with self.as_actor(actor) as c:
            return await c.post("/v1/proposals", json=payload)

    async def proposed(self, actor: str, body: uuid.UUID, kind: str = "OPERATIONAL", **kwargs: Any) -> dict:
        response = await self.propose(actor, body, kind, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    async def vote(
        self, actor: str, proposal_id: str, choice: str, reason: str | None = None
    ) -> httpx.Response:
        async with self.as_actor(actor) as c:
            return await c.post(
                f"/v1/proposals/{proposal_id}/votes", json={"choice": choice, "reason": reason}
            )

    async def votes(self, proposal_id: str, voters: list[str], choice: str = "FOR") -> dict:
        body: dict = {}
        for voter in voters:
            response = await self.vote(voter, proposal_id, choice)
            assert response.status_code == 200, response.text
            body = response.json()
        return body["proposal"]

    async def get(self, path: str, actor: str | None = None, **params: Any) -> httpx.Response:
        async with self.as_actor(actor) as c:
            return await c.get(path, params=params)

    async def proposal(self, proposal_id: str) -> dict:
        response = await self.get(f"/v1/proposals/{proposal_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def outbox(self, proposal_id: str | None = None, type_suffix: str = "") -> list[dict[str, Any]]:
        """Events written to the outbox (in order), optionally of one proposal and of a type ending so."""
        async with self.runtime.db.session() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT envelope FROM kit_outbox "
                        "WHERE (CAST(:id AS text) IS NULL OR aggregate_id = :id) ORDER BY position"
                    ),
                    {"id": proposal_id},
                )
            ).scalars()
            docs = [r if isinstance(r, dict) else json.loads(r) for r in rows]
        return [d for d in docs if d["type"].removesuffix(".v1").endswith(type_suffix)]

    def advance_to(self, when: datetime | str) -> None:
        """Move the shared clock forward to `when` (never back: other tests' proposals live on it too)."""
        target = datetime.fromisoformat(when) if isinstance(when, str) else when
        self.clock.set(max(self.clock.now(), target))

    async def settle(self) -> None:
        """Fire every due deadline and wait until none is left due."""
        scheduler = self.runtime.scheduler
        assert scheduler is not None
        async with asyncio.timeout(20):
            while True:
                while await scheduler.fire_due():
                    pass
                async with self.runtime.db.session() as session:
                    due = (
                        await session.execute(
                            text(
                                "SELECT count(*) FROM kit_deadlines WHERE fired_at IS NULL "
                                "AND cancelled_at IS NULL AND due_at <= :now"
                            ),
                            {"now": self.clock.now()},
                        )
                    ).scalar_one()
                if due == 0:
                    return
                await asyncio.sleep(0.02)
