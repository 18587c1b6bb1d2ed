"""What the timelock listens to: membership (for its projection) and the proposals' lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Consumer, Envelope

from .service import Timelock

CONSUMER_NAME = "timelock"

MEMBERSHIP_EVENTS = frozenset(
    {
        "organization.created",
        "body.created",
        "membership.joined",
        "membership.left",
        "membership.weight_changed",
    }
)
SUBJECTS = (
    "*.organization.created",
    "*.body.created",
    "*.membership.*",
    "*.proposal.voting_closed",
    "*.proposal.cancelled",
    "*.proposal.enacted",
    "*.proposal.failed",
)


def build_handler(timelock: Timelock) -> Callable[[AsyncSession, Envelope], Awaitable[None]]:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        name = f"{envelope.aggregate}.{envelope.event}"
        data = envelope.data
        if name in MEMBERSHIP_EVENTS:
            await timelock.on_membership_event(session, name, data, envelope.sequence)
        elif name == "proposal.voting_closed":
            await timelock.open_after_vote(session, data)
        elif name == "proposal.cancelled":
            await timelock.cancel_for_proposal(session, uuid.UUID(str(data["proposalId"])))
        elif name in ("proposal.enacted", "proposal.failed"):
            await timelock.mark_executed(session, uuid.UUID(str(data["proposalId"])))

    return handle


def build_consumers(timelock: Timelock) -> list[Consumer]:
    # One consumer for both sources keeps stream order between them (a member's exit before a review
    # opens is applied before the snapshot is taken).
    return [Consumer(name=CONSUMER_NAME, subjects=SUBJECTS, handler=build_handler(timelock))]
