"""What proposals consumes: membership's events (its projection, and the answers to enactment requests)
and the timelock's verdicts. Two durable consumers, so that a burst of membership events never delays a
verdict; each handler runs in the consumer's transaction with the inbox row (one application per id)."""

from __future__ import annotations

from kit import Consumer

from .service import ProposalsService

MEMBERSHIP = "proposals-membership"
TIMELOCK = "proposals-timelock"


def consumers(service: ProposalsService) -> list[Consumer]:
    return [
        Consumer(
            MEMBERSHIP,
            subjects=["*.organization.>", "*.body.>", "*.membership.>", "*.funds.>"],
            handler=service.handle_membership_event,
        ),
        Consumer(TIMELOCK, subjects=["*.review.>", "*.operation.>"], handler=service.handle_timelock_event),
    ]
