"""Queries: the read side, everything through the request's loaders."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.schema.dashboard import PlatformStatus, ServiceStatus
from gateway.schema.enums import HealthStatus, ProposalKind, ProposalStatus
from gateway.schema.metagovernance import MetagovernanceQuery
from gateway.schema.pagination import Connection
from gateway.schema.types import Body, Member, Organization, Proposal, proposal_connection
from gateway.schema.validation import is_address, is_slug, is_uuid
from gateway.schema.webhooks import WebhookQuery
from kit import NotFound


@strawberry.type(description="Everything a front-end reads.")
class Query(MetagovernanceQuery, WebhookQuery):
    @strawberry.field(description="The signed-in member; null without a valid bearer token.")
    def me(self, info: Info[Context, None]) -> Member | None:
        actor = info.context.actor
        return None if actor is None else Member.of(actor)

    @strawberry.field(description="An organisation by its slug; null if there is none.")
    async def organization(
        self,
        info: Info[Context, None],
        slug: Annotated[str, strawberry.argument(description="The organisation's slug.")],
    ) -> Organization | None:
        if not is_slug(slug):
            return None
        return Organization.maybe(await info.context.loaders.organization_by_slug.load(slug))

    @strawberry.field(description="A body (the SHG or a cell) by id; null if there is none.")
    async def body(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="Body id.")],
    ) -> Body | None:
        if not is_uuid(id):
            return None
        return Body.maybe(await info.context.loaders.body.load(str(id)))

    @strawberry.field(description="A member by address (any case); null for a malformed address.")
    def member(
        self,
        address: Annotated[str, strawberry.argument(description="Ethereum address, any case.")],
    ) -> Member | None:
        return Member.of(address) if is_address(address) else None

    @strawberry.field(description="A proposal by id; null if there is none.")
    async def proposal(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="Proposal id.")],
    ) -> Proposal | None:
        if not is_uuid(id):
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(str(id)))

    @strawberry.field(description="An organisation's proposals, newest first, filtered and paged.")
    async def proposals(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        status: Annotated[
            list[ProposalStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
        kind: Annotated[ProposalKind | None, strawberry.argument(description="Only this kind.")] = None,
        body_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only those made to this body.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Proposal]:
        org = (
            await info.context.loaders.organization_by_slug.load(organization)
            if is_slug(organization)
            else None
        )
        if org is None:
            raise NotFound(f"no organisation {organization!r}", field="organization")
        if body_id is not None and not is_uuid(body_id):
            raise NotFound("no such body", field="bodyId")
        return await proposal_connection(
            info.context,
            org.id,
            status=status,
            kind=kind,
            body_id=str(body_id) if body_id else None,
            first=first,
            after=after,
        )

    @strawberry.field(description="Health of every service, for dashboards; never fails because one is down.")
    async def platform_status(self, info: Info[Context, None]) -> PlatformStatus:
        doc = await info.context.runtime.status.collect()
        return PlatformStatus(
            status=HealthStatus(doc["status"]),
            services=[
                ServiceStatus(
                    name=s["name"],
                    status=HealthStatus(s["status"]),
                    version=s["version"],
                    uptime_seconds=s["uptimeSeconds"],
                    details=s["details"],
                )
                for s in doc["services"]
            ],
        )
