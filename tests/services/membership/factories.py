"""Plain async factories and the running-service handle for membership tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account import Account
from sqlalchemy import text

from kit import ConsumerRunner, Envelope, new_event
from kit.testing import FakeClock, ServiceClient, unique_suffix
from services.membership.config import Settings
from services.membership.service import MembershipService


@dataclass
class Env:
    app: Any
    client: ServiceClient
    clock: FakeClock
    settings: Settings

    @property
    def service(self) -> MembershipService:
        return self.app.state.membership

    @property
    def db(self):
        return self.app.state.runtime.db

    @property
    def runner(self) -> ConsumerRunner:
        return self.app.state.runtime.consumers[0]

    def as_actor(self, actor: str | None) -> httpx.AsyncClient:
        return self.client.as_actor(actor)

    async def events(self, slug: str, tail: str | None = None) -> list[dict[str, Any]]:
        """CloudEvents this organisation's changes wrote to the outbox, in order."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    text("SELECT envelope FROM kit_outbox WHERE subject LIKE :s ORDER BY position"),
                    {"s": f"{self.settings.events_subject_prefix}.{slug}.{tail or '%'}"},
                )
            ).scalars()
            return [r if isinstance(r, dict) else json.loads(r) for r in rows]

    async def enact(
        self, org: dict[str, Any], actions: Sequence[dict[str, Any]], proposal_id: uuid.UUID | None = None
    ) -> tuple[Envelope, dict[str, Any]]:
        """Deliver a `proposal.enactment_requested` through the consumer's path (inbox + handler) and
        answer the event and the outcome membership published for it."""
        envelope = enactment_request(org, actions, proposal_id or uuid.uuid4())
        assert await self.deliver(envelope)
        return envelope, await self.outcome(org["slug"], envelope.data["proposalId"])

    async def deliver(self, envelope: Envelope) -> bool:
        return await self.runner.apply(envelope, envelope.nats_subject(self.settings.events_subject_prefix))

    async def outcome(self, slug: str, proposal_id: str) -> dict[str, Any]:
        outcomes = [
            e
            for e in await self.events(slug, "organization.actions_%")
            if e["data"]["proposalId"] == proposal_id
        ]
        assert outcomes, "no outcome published"
        return outcomes[-1]


def enactment_request(
    org: dict[str, Any], actions: Sequence[dict[str, Any]], proposal_id: uuid.UUID
) -> Envelope:
    return new_event(
        source="/services/proposals",
        organization=org["slug"],
        organization_id=org["id"],
        aggregate="proposal",
        aggregate_id=str(proposal_id),
        event="enactment_requested",
        data={"proposalId": str(proposal_id), "status": "QUEUED", "actions": list(actions)},
    )


def new_address() -> str:
    return Account.create().address


def new_slug(prefix: str = "org") -> str:
    return f"{prefix}-{unique_suffix()}"


async def create_org(
    env: Env,
    *,
    stakeholders: Sequence[str] | None = None,
    core_team: Sequence[str] | None = None,
    policy: dict[str, Any] | None = None,
    founder: str | None = None,
    slug: str | None = None,
) -> dict[str, Any]:
    stakeholders = list(stakeholders) if stakeholders is not None else [new_address()]
    core_team = list(core_team) if core_team is not None else [new_address()]
    body: dict[str, Any] = {
        "slug": slug or new_slug(),
        "name": "Reimagining Power",
        "purpose": "Reimagine power between capital and those doing the work",
        "stakeholders": [{"address": a, "displayName": f"S{i}"} for i, a in enumerate(stakeholders)],
        "topLevelCell": {
            "name": "Top Level Cell",
            "purpose": "Strategy and coordination",
            "coreTeam": [{"address": a} for a in core_team],
        },
    }
    if policy is not None:
        body["policy"] = policy
    async with env.as_actor(founder or new_address()) as c:
        r = await c.post("/v1/organizations", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def commit(env: Env, actor: str, slug: str, cycle: int, amount: Any) -> httpx.Response:
    async with env.as_actor(actor) as c:
        return await c.post(f"/v1/organizations/{slug}/commitments", json={"cycle": cycle, "amount": amount})


async def leave(env: Env, actor: str, body_id: str) -> httpx.Response:
    async with env.as_actor(actor) as c:
        return await c.post(f"/v1/bodies/{body_id}/leave")


async def members(env: Env, body_id: str) -> dict[str, dict[str, Any]]:
    """Current members of a body by address (first 100)."""
    async with env.as_actor(None) as c:
        page = (await c.get(f"/v1/bodies/{body_id}/members", params={"first": 100})).json()
    return {m["address"]: m for m in page["items"]}


async def get_body(env: Env, body_id: str) -> dict[str, Any]:
    async with env.as_actor(None) as c:
        r = await c.get(f"/v1/bodies/{body_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def treasury(env: Env, slug: str) -> dict[str, Any]:
    async with env.as_actor(None) as c:
        return (await c.get(f"/v1/organizations/{slug}/treasury")).json()


async def policy_update(env: Env, org: dict[str, Any], **settings: Any) -> Envelope:
    """Deliver a `policy.updated` as proposals publishes it after a POLICY proposal."""
    policy = dict(org["policy"]) | settings
    envelope = new_event(
        source="/services/proposals",
        organization=org["slug"],
        organization_id=org["id"],
        aggregate="policy",
        aggregate_id=org["id"],
        event="updated",
        data={"policy": policy, "changedModules": [], "proposalId": None},
        time=env.clock.now(),
        subject_kind="organizations",
    )
    assert await env.deliver(envelope)
    return envelope
