"""The membership service: organisations, bodies, members, funds, sign-in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.clients.base import Page, segment
from gateway.clients.metagovernance import CommissionRoutes
from gateway.clients.models import (
    Body,
    Challenge,
    Commitment,
    Member,
    Membership,
    Organization,
    SignedIn,
    Treasury,
)


class MembershipClient(CommissionRoutes):
    service = "membership"

    async def create_organization(self, payload: dict[str, Any]) -> Organization:
        return Organization.model_validate(await self.post("/v1/organizations", payload))

    async def organization(self, slug: str) -> Organization | None:
        doc = await self.get_optional(f"/v1/organizations/{segment(slug)}")
        return None if doc is None else Organization.model_validate(doc)

    async def organizations(self, ids: Sequence[str]) -> list[Organization]:
        doc = await self.get("/v1/organizations", params={"ids": ",".join(ids)})
        return [Organization.model_validate(item) for item in doc["items"]]

    async def treasury(self, slug: str) -> Treasury:
        return Treasury.model_validate(await self.get(f"/v1/organizations/{segment(slug)}/treasury"))

    async def bodies(self, ids: Sequence[str]) -> list[Body]:
        doc = await self.get("/v1/bodies", params={"ids": ",".join(ids)})
        return [Body.model_validate(item) for item in doc["items"]]

    async def body_members(self, body_id: str, *, first: int = 100, after: str | None = None) -> Page:
        params: dict[str, Any] = {"first": first}
        if after:
            params["after"] = after
        return Page.parse(await self.get(f"/v1/bodies/{segment(body_id)}/members", params=params))

    async def members(self, addresses: Sequence[str]) -> list[Member]:
        doc = await self.get("/v1/members", params={"addresses": ",".join(addresses)})
        return [Member.model_validate(item) for item in doc["items"]]

    async def memberships(self, address: str) -> list[Membership]:
        doc = await self.get(f"/v1/members/{segment(address)}/memberships")
        return [Membership.model_validate(item) for item in doc["items"]]

    async def commit_funds(self, slug: str, *, cycle: int, amount: str) -> Commitment:
        doc = await self.post(
            f"/v1/organizations/{segment(slug)}/commitments", {"cycle": cycle, "amount": amount}
        )
        return Commitment.model_validate(doc)

    async def leave_body(self, body_id: str) -> dict[str, Any]:
        return await self.post(f"/v1/bodies/{segment(body_id)}/leave")

    async def challenge(self, address: str) -> Challenge:
        return Challenge.model_validate(await self.post("/v1/auth/challenge", {"address": address}))

    async def sign_in(self, message: str, signature: str) -> SignedIn:
        doc = await self.post("/v1/auth/sign-in", {"message": message, "signature": signature})
        return SignedIn.model_validate(doc)
