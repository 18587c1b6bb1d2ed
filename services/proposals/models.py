"""Proposals tables on the service's own metadata.

Two groups:
- the projection of membership's events (organizations, bodies, members, fund commitments and
  allocations): what this service needs to know about who may propose and vote and what is available;
- its own state: policies and decision module versions, proposals (with tally columns kept per vote and
  the history as a JSON array), the voter snapshot, votes, and a per (organisation, body, kind, status)
  counter so that list totals never count rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Index, Integer, Numeric, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

WEIGHT = Numeric(38, 18)


class Base(SQLModel, registry=registry()):
    pass


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable)


def _weight() -> Any:
    return Field(default=Decimal(0), sa_column=Column(WEIGHT, nullable=False, server_default="0"))


def _json(factory: Any) -> Any:
    return Field(default_factory=factory, sa_column=Column(JSONB, nullable=False))


# --- projection of membership ---------------------------------------------------------------------


class Organization(Base, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = Field(primary_key=True)
    slug: str = Field(sa_type=Text, index=True)
    name: str = Field(sa_type=Text)
    stakeholder_group_id: uuid.UUID
    top_level_cell_id: uuid.UUID
    starts_at: datetime = _ts()
    # the funding cycle schedule, as membership announces it (organization.created, .cycles_changed)
    cycle_anchor_at: datetime = _ts()
    cycle_anchor_index: int = Field(default=0, sa_type=Integer)
    cycle_length_seconds: int = Field(sa_type=BigInteger)
    created_at: datetime = _ts()
    # when and how often the projection of this organisation changed: a proposal right after a change
    # waits for the burst of membership events to settle before it snapshots the voters
    projection_updated_at: datetime = _ts()
    projection_version: int = Field(default=0, sa_type=BigInteger)


class Body(Base, table=True):
    __tablename__ = "bodies"
    __table_args__ = (Index("ix_bodies_organization", "organization_id"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    kind: str = Field(sa_type=Text)
    name: str = Field(sa_type=Text)
    parent_id: uuid.UUID | None = Field(default=None, nullable=True)
    is_top_level: bool = False
    cell_state_status: str | None = Field(default=None, sa_type=Text, nullable=True)


class Member(Base, table=True):
    """A current membership; a member who leaves is deleted."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_organization_address", "organization_id", "address"),)

    body_id: uuid.UUID = Field(primary_key=True)
    address: str = Field(sa_type=Text, primary_key=True)
    organization_id: uuid.UUID
    role: str = Field(sa_type=Text)
    weight: Decimal = _weight()
    joined_at: datetime = _ts()


class ProjectionMark(Base, table=True):
    """The sequence of the latest event applied to one fact of the membership projection (a member's seat,
    their weight, a withdrawal from a cycle), so an event delivered late never undoes a newer one."""

    __tablename__ = "projection_marks"

    key: str = Field(sa_type=Text, primary_key=True)
    sequence: int = Field(sa_type=BigInteger)
    value: str | None = Field(default=None, sa_type=Text, nullable=True)


class FundCommitment(Base, table=True):
    """Superseded by `FundCommitmentEntry`; kept while the previous release may still write it."""

    __tablename__ = "fund_commitments"

    organization_id: uuid.UUID = Field(primary_key=True)
    cycle: int = Field(sa_type=Integer, primary_key=True)
    address: str = Field(sa_type=Text, primary_key=True)
    amount: Decimal = _weight()


class FundCommitmentEntry(Base, table=True):
    """One `funds.committed` event not taken back: a withdrawal removes the entries made before it (by
    the funds stream's sequence), whatever order the two are delivered in."""

    __tablename__ = "fund_commitment_entries"

    organization_id: uuid.UUID = Field(primary_key=True)
    cycle: int = Field(sa_type=Integer, primary_key=True)
    address: str = Field(sa_type=Text, primary_key=True)
    sequence: int = Field(sa_type=BigInteger, primary_key=True)
    amount: Decimal = _weight()


class FundAllocation(Base, table=True):
    """Budgets allocated per cycle (from `funds.budget_allocated`)."""

    __tablename__ = "fund_allocations"

    organization_id: uuid.UUID = Field(primary_key=True)
    cycle: int = Field(sa_type=Integer, primary_key=True)
    allocated: Decimal = _weight()


# --- policy ---------------------------------------------------------------------------------------


class Policy(Base, table=True):
    """An organisation's current policy: settings, module overrides and current modules."""

    __tablename__ = "policies"

    organization_id: uuid.UUID = Field(primary_key=True)
    settings: dict[str, Any] = _json(dict)
    overrides: dict[str, Any] = _json(dict)
    modules: dict[str, Any] = _json(dict)
    updated_at: datetime = _ts()
    # experiments' layers of overrides, the variants they make, the last version number per module key
    layers: list[Any] = _json(list)
    variants: dict[str, Any] = _json(dict)
    latest: dict[str, Any] = _json(dict)


class ModuleVersion(Base, table=True):
    """Every version of every module, kept so a proposal's module can always be shown as it was."""

    __tablename__ = "module_versions"

    organization_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(sa_type=Text, primary_key=True)
    version: int = Field(sa_type=Integer, primary_key=True)
    module: dict[str, Any] = _json(dict)
    proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()
    # why: FOUNDED, PROPOSAL (an enacted POLICY change), EXPERIMENT_STARTED, EXPERIMENT_ENDED,
    # EXPERIMENT_RENEWED; and what changed, field by field, from the terms in force before in that scope
    cause: str = Field(default="PROPOSAL", sa_type=Text)
    experiment_id: uuid.UUID | None = Field(default=None, nullable=True)
    changes: dict[str, Any] = _json(dict)


# --- proposals ------------------------------------------------------------------------------------


class Proposal(Base, table=True):
    __tablename__ = "proposals"
    __table_args__ = (
        Index("ix_proposals_org_created", "organization_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_proposals_org_status_created",
            "organization_id",
            "status",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_proposals_org_kind_created",
            "organization_id",
            "kind",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index("ix_proposals_body_created", "body_id", text("created_at DESC"), text("id DESC")),
        CheckConstraint(
            "status IN ('VOTING','DEFEATED','EXPIRED','IN_REVIEW','BLOCKED',"
            "'QUEUED','ENACTED','FAILED','CANCELLED')",
            name="ck_proposals_status",
        ),
        Index("ix_proposals_experiment", "experiment_id"),
        # a blocked proposal is appealed at most once
        Index("ux_proposals_appeal_of", "appeal_of", unique=True),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    organization_slug: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)
    status: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    description: str = Field(sa_type=Text)
    body_id: uuid.UUID
    deciding_body_id: uuid.UUID
    reviewing_body_id: uuid.UUID | None = Field(default=None, nullable=True)
    proposer: str = Field(sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    voting_ends_at: datetime = _ts()
    voting_closed_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, sa_type=Text, nullable=True)
    review_id: uuid.UUID | None = Field(default=None, nullable=True)
    review_ends_at: datetime | None = _ts(nullable=True)
    enact_after: datetime | None = _ts(nullable=True)
    enactment_requested_at: datetime | None = _ts(nullable=True)
    failure_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    cancelled_by: str | None = Field(default=None, sa_type=Text, nullable=True)
    module_key: str = Field(sa_type=Text)
    module_version: int = Field(sa_type=Integer)
    module: dict[str, Any] = _json(dict)
    actions: list[Any] = _json(list)
    history: list[Any] = _json(list)
    for_weight: Decimal = _weight()
    against_weight: Decimal = _weight()
    abstain_weight: Decimal = _weight()
    eligible_weight: Decimal = _weight()
    voter_count: int = Field(default=0, sa_type=Integer)
    vote_count: int = Field(default=0, sa_type=Integer)
    voting_starts_at: datetime | None = _ts(nullable=True)
    voters_taken_at: datetime | None = _ts(nullable=True)
    appeal_of: uuid.UUID | None = Field(default=None, nullable=True)
    appealed_by: uuid.UUID | None = Field(default=None, nullable=True)
    experiment_id: uuid.UUID | None = Field(default=None, nullable=True)


class ProposalVoter(Base, table=True):
    """The snapshot taken when voting opened: who may vote, with what weight."""

    __tablename__ = "proposal_voters"

    proposal_id: uuid.UUID = Field(primary_key=True)
    address: str = Field(sa_type=Text, primary_key=True)
    weight: Decimal = _weight()


class Vote(Base, table=True):
    __tablename__ = "votes"
    __table_args__ = (
        Index("ix_votes_proposal_cast", "proposal_id", text("cast_at DESC"), text("voter DESC")),
    )

    proposal_id: uuid.UUID = Field(primary_key=True)
    voter: str = Field(sa_type=Text, primary_key=True)
    choice: str = Field(sa_type=Text)
    weight: Decimal = _weight()
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    cast_at: datetime = _ts()


class ProposalCount(Base, table=True):
    """How many proposals of an organisation are in each (body, kind, status): list totals sum a few rows."""

    __tablename__ = "proposal_counts"

    organization_id: uuid.UUID = Field(primary_key=True)
    body_id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(sa_type=Text, primary_key=True)
    status: str = Field(sa_type=Text, primary_key=True)
    count: int = Field(default=0, sa_type=BigInteger)


# --- metagovernance -------------------------------------------------------------------------------


class Experiment(Base, table=True):
    """A time-bound policy change (seed 002) and its retrospective."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_org_started", "organization_id", text("started_at DESC")),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    organization_slug: str = Field(sa_type=Text)
    proposal_id: uuid.UUID
    hypothesis: str = Field(sa_type=Text)
    success_measures: list[Any] = _json(list)
    body_ids: list[Any] = _json(list)
    overrides: dict[str, Any] = _json(dict)
    status: str = Field(sa_type=Text)
    started_at: datetime = _ts()
    ends_at: datetime | None = _ts(nullable=True)
    cycles: int | None = Field(default=None, sa_type=Integer, nullable=True)
    renewals: list[Any] = _json(list)
    ended_at: datetime | None = _ts(nullable=True)
    figures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    baseline: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    retrospective: str | None = Field(default=None, sa_type=Text, nullable=True)
    retrospective_by: str | None = Field(default=None, sa_type=Text, nullable=True)
    retrospective_at: datetime | None = _ts(nullable=True)


class Feedback(Base, table=True):
    """A commission member's feedback on a draft proposal, before voting opens."""

    __tablename__ = "proposal_feedback"
    __table_args__ = (Index("ix_proposal_feedback_proposal", "proposal_id", "given_at"),)

    id: uuid.UUID = Field(primary_key=True)
    proposal_id: uuid.UUID
    commission_id: uuid.UUID
    author: str = Field(sa_type=Text)
    text: str = Field(sa_type=Text)
    given_at: datetime = _ts()


class Poll(Base, table=True):
    """A non-binding poll (seed 002: frequent polls on low-context parameters)."""

    __tablename__ = "polls"
    __table_args__ = (
        Index("ix_polls_org_created", "organization_id", text("created_at DESC"), text("id DESC")),
        Index("ix_polls_proposal", "proposal_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    organization_slug: str = Field(sa_type=Text)
    body_id: uuid.UUID | None = Field(default=None, nullable=True)
    proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    question: str = Field(sa_type=Text)
    options: list[Any] = _json(list)
    multiple: bool = False
    created_by: str = Field(sa_type=Text)
    created_at: datetime = _ts()
    closes_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    counts: list[Any] = _json(list)
    voter_count: int = Field(default=0, sa_type=Integer)


class PollAnswer(Base, table=True):
    __tablename__ = "poll_answers"

    poll_id: uuid.UUID = Field(primary_key=True)
    voter: str = Field(sa_type=Text, primary_key=True)
    choices: list[Any] = _json(list)
    answered_at: datetime = _ts()


class Milestone(Base, table=True):
    """A decentralisation milestone (seed 004) in an organisation's dependency graph."""

    __tablename__ = "milestones"
    __table_args__ = (Index("ix_milestones_org", "organization_id"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    organization_slug: str = Field(sa_type=Text)
    phase: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    description: str = Field(sa_type=Text)
    depends_on: list[Any] = _json(list)
    module_keys: list[Any] = _json(list)
    proposal_ids: list[Any] = _json(list)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)
