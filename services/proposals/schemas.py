"""HTTP input and output of the proposals service (docs/internal-api.md, "Proposals HTTP API").

Inputs are shaped loosely here and validated by the domain, which knows the limits and names the field.
Outputs are camelCase; weights and amounts are decimal strings, addresses EIP-55, times ISO-8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from . import domain

T = TypeVar("T")


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class CreateProposalInput(Wire):
    body_id: str
    kind: str
    title: Any = None
    description: Any = ""
    actions: list[Any] | None = None


class CastVoteInput(Wire):
    choice: str
    reason: Any = None


class AppealInput(Wire):
    title: Any = None
    description: Any = None


class Tally(Wire):
    for_: str = Field(alias="for")
    against: str
    abstain: str
    eligible: str
    quorum_reached: bool


class Proposal(Wire):
    id: str
    organization_id: str
    organization_slug: str
    kind: str
    status: str
    title: str
    description: str
    body_id: str
    deciding_body_id: str
    reviewing_body_id: str | None
    proposer: str
    created_at: datetime
    updated_at: datetime | None
    voting_ends_at: datetime
    voting_closed_at: datetime | None
    outcome: str | None
    review_id: str | None
    review_ends_at: datetime | None
    enact_after: datetime | None
    failure_reason: str | None
    cancelled_by: str | None
    module_key: str
    module_version: int
    actions: list[dict[str, Any]]
    tally: Tally
    voter_count: int
    vote_count: int
    voting_starts_at: datetime | None = None
    appeal_of: str | None = None
    appealed_by: str | None = None
    experiment_id: str | None = None
    veto_threshold_percent: int | None = None
    module: dict[str, Any] | None = None


class Vote(Wire):
    voter: str
    choice: str
    weight: str
    reason: str | None
    cast_at: datetime


class VoteResult(Wire):
    vote: Vote
    proposal: Proposal


class HistoryEntry(Wire):
    status: str
    at: datetime
    cause: str


class Items(Wire, Generic[T]):
    items: list[T]


class Page(Wire, Generic[T]):
    items: list[T]
    total_count: int
    end_cursor: str | None
    has_next_page: bool


class PolicyOut(Wire):
    organization_id: str
    voting_period_seconds: int
    review_period_seconds: int
    concern_extension_seconds: int
    veto_threshold_percent: int
    quorum_percent: int
    stakeholder_weighting: str
    cycle_length_seconds: int
    community_proposals: bool
    policy_delay_seconds: int
    modules: list[dict[str, Any]]
    overrides: dict[str, dict[str, Any]]
    variants: list[dict[str, Any]] = Field(default_factory=list)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def proposal_out(p: domain.Proposal) -> Proposal:
    return Proposal(
        id=str(p.id),
        organization_id=str(p.organization_id),
        organization_slug=p.organization_slug,
        kind=str(p.kind),
        status=str(p.status),
        title=p.title,
        description=p.description,
        body_id=str(p.body_id),
        deciding_body_id=str(p.deciding_body_id),
        reviewing_body_id=_id(p.reviewing_body_id),
        proposer=domain.checksum(p.proposer),
        created_at=p.created_at,
        updated_at=p.updated_at,
        voting_ends_at=p.voting_ends_at,
        voting_closed_at=p.voting_closed_at,
        outcome=str(p.outcome) if p.outcome else None,
        review_id=_id(p.review_id),
        review_ends_at=p.review_ends_at,
        enact_after=p.enact_after,
        failure_reason=p.failure_reason,
        cancelled_by=domain.checksum(p.cancelled_by) if p.cancelled_by else None,
        module_key=p.module.key,
        module_version=p.module.version,
        actions=p.actions_as_dicts(),
        tally=Tally.model_validate(p.tally_dict()),
        voter_count=p.voter_count,
        vote_count=p.vote_count,
        voting_starts_at=p.voting_starts_at,
        appeal_of=_id(p.appeal_of),
        appealed_by=_id(p.appealed_by),
        experiment_id=_id(p.module.experiment_id),
        veto_threshold_percent=p.veto_threshold_percent if p.module.review else None,
        module=p.module.to_dict(),
    )


def vote_out(v: domain.Vote) -> Vote:
    return Vote(
        voter=domain.checksum(v.voter),
        choice=str(v.choice),
        weight=domain.format_decimal(v.weight),
        reason=v.reason,
        cast_at=v.cast_at,
    )


def history_out(p: domain.Proposal) -> Items[HistoryEntry]:
    return Items[HistoryEntry](
        items=[HistoryEntry(status=str(h.status), at=h.at, cause=h.cause) for h in p.history]
    )


def policy_out(organization_id: Any, policy: domain.Policy) -> PolicyOut:
    return PolicyOut.model_validate(
        {
            "organizationId": str(organization_id),
            **policy.settings.to_dict(),
            "modules": [m.to_dict() for m in policy.modules.values()],
            "overrides": policy.overrides,
            "variants": [v.to_dict() for v in policy.variants.values()],
        }
    )
