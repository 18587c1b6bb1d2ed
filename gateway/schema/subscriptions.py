"""Subscriptions over graphql-transport-ws: live proposal events from the process's shared feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.fanout import ProposalEventMessage
from gateway.schema.enums import ProposalStatus
from gateway.schema.types import ProposalEvent
from gateway.schema.validation import is_slug
from kit import NotFound


def to_graphql(event: ProposalEventMessage) -> ProposalEvent | None:
    proposal_id = event.proposal_id
    if proposal_id is None:
        return None
    status = event.proposal_status
    try:
        parsed = ProposalStatus(status) if status else None
    except ValueError:
        parsed = None
    return ProposalEvent(
        id=strawberry.ID(event.id),
        type=event.type,
        time=event.time,
        sequence=event.sequence,
        data=event.data,
        proposal_id=strawberry.ID(proposal_id),
        status=parsed,
    )


@strawberry.type(description="Live updates.")
class Subscription:
    @strawberry.subscription(
        description="Every proposal status change, vote, concern and objection of an organisation, in "
        "order per proposal, from the moment of subscribing."
    )
    async def proposal_events(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
    ) -> AsyncGenerator[ProposalEvent, None]:
        if not is_slug(organization):
            raise NotFound(f"no organisation {organization!r}", field="organization")
        # join the feed before anything slow, so nothing published from now on is missed
        async with info.context.hub.subscribe(organization) as subscriber:
            if await info.context.fresh_loaders().organization_by_slug.load(organization) is None:
                raise NotFound(f"no organisation {organization!r}", field="organization")
            async for event in subscriber:
                item = to_graphql(event)
                if item is not None:
                    yield item
