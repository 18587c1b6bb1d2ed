"""Plain builders of domain objects for the pure tests."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from services.proposals.domain import (
    AddMember,
    DecisionModule,
    DecisionRule,
    Kind,
    Policy,
    PolicySettings,
    PolicyUpdate,
    Proposal,
    Role,
    RuleType,
    UpdatePolicy,
    Voter,
)
from services.proposals.domain.policy import Review

T0 = datetime(2030, 1, 1, tzinfo=UTC)
PROPOSER = "0x" + "a" * 40
VOTERS = [Voter("0x" + c * 40, Decimal(1)) for c in "123456789"[:5]]
SHG_ID = uuid.UUID(int=1)
TLC_ID = uuid.UUID(int=2)


def module(
    next_step: str = "ENACT", rule: DecisionRule | None = None, voting_seconds: int = 100
) -> DecisionModule:
    """A module whose passed vote goes to review, to a delay, or straight to enactment."""
    base = Policy.create(PolicySettings()).modules["OPERATIONAL:CELL"]
    return replace(
        base,
        rule=rule or DecisionRule(RuleType.MAJORITY, quorum_percent=50),
        voting_period_seconds=voting_seconds,
        review=Review(60, 33, 10) if next_step == "REVIEW" else None,
        delay_seconds=30 if next_step == "DELAY" else 0,
    )


def membership_action() -> AddMember:
    return AddMember(TLC_ID, "0x" + "b" * 40, Role.CONTRIBUTOR)


def policy_action() -> UpdatePolicy:
    return UpdatePolicy(PolicyUpdate({"quorumPercent": 30}))


def proposal(
    next_step: str = "ENACT",
    *,
    rule: DecisionRule | None = None,
    voters: list[Voter] | None = None,
    actions: tuple = (),
    now: datetime = T0,
) -> Proposal:
    return Proposal.open(
        id=uuid.uuid4(),
        organization_id=uuid.UUID(int=9),
        organization_slug="acme",
        kind=Kind.OPERATIONAL,
        title="Do the thing",
        description="",
        body_id=TLC_ID,
        deciding_body_id=TLC_ID,
        reviewing_body_id=SHG_ID,
        proposer=PROPOSER,
        module=module(next_step, rule),
        actions=actions,
        voters=VOTERS if voters is None else voters,
        now=now,
    )
