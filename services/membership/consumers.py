"""What membership consumes from proposals: enactment requests for the actions it owns, and policy
updates (cycle length, stakeholder weighting)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Consumer, Envelope

from .service import MembershipService

PROPOSALS = "membership-proposals"


def consumers(service: MembershipService) -> list[Consumer]:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        # runs in the consumer's transaction, with the inbox row: one application per event id
        if (envelope.aggregate, envelope.event) == ("proposal", "enactment_requested"):
            await service.apply_enactment(session, envelope)
        elif (envelope.aggregate, envelope.event) == ("policy", "updated"):
            await service.apply_policy_update(session, envelope)

    return [
        Consumer(PROPOSALS, subjects=["*.proposal.enactment_requested", "*.policy.updated"], handler=handle)
    ]
