"""The proposals service: policy, proposals, votes, tallies, history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.clients.base import Page, segment
from gateway.clients.metagovernance import MetagovernanceRoutes
from gateway.clients.models import HistoryEntry, Policy, Proposal, Vote


class ProposalsClient(MetagovernanceRoutes):
    service = "proposals"

    async def policy(self, organization_id: str) -> Policy | None:
        doc = await self.get_optional(f"/v1/organizations/{segment(organization_id)}/policy")
        return None if doc is None else Policy.model_validate(doc)

    async def create_proposal(self, payload: dict[str, Any]) -> Proposal:
        return Proposal.model_validate(await self.post("/v1/proposals", payload))

    async def proposals(self, ids: Sequence[str]) -> list[Proposal]:
        doc = await self.get("/v1/proposals", params={"ids": ",".join(ids)})
        return [Proposal.model_validate(item) for item in doc["items"]]

    async def list_proposals(
        self,
        organization_id: str,
        *,
        statuses: Sequence[str] = (),
        kind: str | None = None,
        body_id: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Page:
        params: list[tuple[str, str | int]] = [("organizationId", organization_id), ("first", first)]
        params += [("status", s) for s in statuses]
        if kind:
            params.append(("kind", kind))
        if body_id:
            params.append(("bodyId", body_id))
        if after:
            params.append(("after", after))
        return Page.parse(await self.get("/v1/proposals", params=params))

    async def votes(self, proposal_id: str, *, first: int = 100, after: str | None = None) -> Page:
        params: dict[str, Any] = {"first": first}
        if after:
            params["after"] = after
        return Page.parse(await self.get(f"/v1/proposals/{segment(proposal_id)}/votes", params=params))

    async def history(self, proposal_id: str) -> list[HistoryEntry]:
        doc = await self.get(f"/v1/proposals/{segment(proposal_id)}/history")
        return [HistoryEntry.model_validate(item) for item in doc["items"]]

    async def cast_vote(self, proposal_id: str, *, choice: str, reason: str | None) -> tuple[Vote, Proposal]:
        doc = await self.post(
            f"/v1/proposals/{segment(proposal_id)}/votes", {"choice": choice, "reason": reason}
        )
        return Vote.model_validate(doc["vote"]), Proposal.model_validate(doc["proposal"])

    async def cancel(self, proposal_id: str) -> Proposal:
        return Proposal.model_validate(await self.post(f"/v1/proposals/{segment(proposal_id)}/cancel"))
