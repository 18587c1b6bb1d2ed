"""Membership tables on the service's own metadata.

Invariants the database holds by itself, so that no code path or race can break them:
- a cell has at most 9 current core team members (`bodies.core_team_count`, kept by a trigger on
  `memberships`, with a CHECK);
- a person has at most one current membership per body (partial unique index);
- a cycle's allocated budget never exceeds the funds committed to it (`cycle_ledgers` CHECK).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

CORE_TEAM_CHECK = "ck_bodies_core_team_max"
LEDGER_CHECK = "ck_cycle_ledgers_allocated_le_total"
ONE_CURRENT_MEMBERSHIP = "uq_memberships_current"


class Base(SQLModel, registry=registry()):
    pass


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=DateTime(timezone=True), nullable=nullable)


def _uuid_fk(target: str, *, nullable: bool = False) -> Any:
    return Field(sa_column=Column(PgUUID(as_uuid=True), ForeignKey(target), nullable=nullable))


class Organization(Base, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = Field(primary_key=True)
    slug: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str = Field(sa_type=Text)
    purpose: str = Field(sa_type=Text)
    policy: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    starts_at: datetime = _ts()
    # `domain.CycleSchedule` segments: a change of cycle length starts a new one at a cycle boundary
    cycle_segments: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    stakeholder_group_id: uuid.UUID
    top_level_cell_id: uuid.UUID
    created_by: str = Field(sa_type=Text)
    created_at: datetime = _ts()


class Body(Base, table=True):
    __tablename__ = "bodies"
    __table_args__ = (
        CheckConstraint("core_team_count BETWEEN 0 AND 9", name=CORE_TEAM_CHECK),
        CheckConstraint("kind IN ('STAKEHOLDER_GROUP', 'CELL', 'COMMISSION')", name="ck_bodies_kind"),
        CheckConstraint("kind = 'CELL' OR parent_id IS NULL", name="ck_bodies_shg_has_no_parent"),
        CheckConstraint("kind = 'CELL' OR core_team_count = 0", name="ck_bodies_shg_has_no_core_team"),
        CheckConstraint("(parent_id IS NULL) = (kind <> 'CELL' OR is_top_level)", name="ck_bodies_root"),
        Index("ix_bodies_parent", "parent_id", "created_at"),
        Index("ix_bodies_organization", "organization_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    kind: str = Field(sa_type=Text)
    name: str = Field(sa_type=Text)
    purpose: str = Field(sa_type=Text)
    parent_id: uuid.UUID | None = _uuid_fk("bodies.id", nullable=True)
    is_top_level: bool = Field(sa_type=Boolean)
    core_team_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    state_status: str | None = Field(default=None, sa_type=Text)
    state_purpose: str | None = Field(default=None, sa_type=Text)
    state_strategy: str | None = Field(default=None, sa_type=Text)
    state_agreements: list[str] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    state_approved_at: datetime | None = _ts(nullable=True)
    state_proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()


class Member(Base, table=True):
    __tablename__ = "members"
    __table_args__ = (CheckConstraint("address ~ '^0x[0-9a-f]{40}$'", name="ck_members_address_lower"),)

    address: str = Field(sa_column=Column(Text, primary_key=True))
    display_name: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()


class Membership(Base, table=True):
    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(
            "role IN ('STAKEHOLDER', 'CORE_TEAM', 'CONTRIBUTOR', 'COMMISSIONER')", name="ck_memberships_role"
        ),
        Index(
            ONE_CURRENT_MEMBERSHIP,
            "body_id",
            "address",
            unique=True,
            postgresql_where=text("left_at IS NULL"),
        ),
        Index(
            "ix_memberships_current_page",
            "body_id",
            "seq",
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_memberships_address", "address", "joined_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    # insertion order: lists page on it (members joining in one transaction share `joined_at`)
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), nullable=False))
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    body_id: uuid.UUID = _uuid_fk("bodies.id")
    address: str = Field(sa_column=Column(Text, ForeignKey("members.address"), nullable=False))
    role: str = Field(sa_type=Text)
    joined_at: datetime = _ts()
    joined_proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    left_at: datetime | None = _ts(nullable=True)
    left_proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    # EXIT (the member's own choice) or REMOVED (an enacted proposal)
    left_reason: str | None = Field(default=None, sa_type=Text)
    # a commission seat's group (e.g. "SHG", "OPERATIONAL"); null for other bodies
    seat_group: str | None = Field(default=None, sa_type=Text)


class Commission(Base, table=True):
    """A feedback commission's seat quotas and how its members are selected (its body is in `bodies`)."""

    __tablename__ = "commissions"

    body_id: uuid.UUID = Field(
        sa_column=Column(PgUUID(as_uuid=True), ForeignKey("bodies.id"), primary_key=True)
    )
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    seats: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    selection: str = Field(sa_type=Text)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = _ts()


class Commitment(Base, table=True):
    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_commitments_positive"),
        CheckConstraint("cycle >= 0", name="ck_commitments_cycle"),
        Index(
            "ix_commitments_member",
            "organization_id",
            "address",
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    address: str = Field(sa_column=Column(Text, ForeignKey("members.address"), nullable=False))
    cycle: int = Field(sa_type=Integer)
    amount: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    created_at: datetime = _ts()
    withdrawn_at: datetime | None = _ts(nullable=True)
    withdrawal_id: uuid.UUID | None = Field(default=None, nullable=True)


class Withdrawal(Base, table=True):
    """Funds returned to a stakeholder leaving the SHG: the right of exit, on record."""

    __tablename__ = "withdrawals"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    address: str = Field(sa_type=Text)
    membership_id: uuid.UUID = _uuid_fk("memberships.id")
    amount: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    cycles: list[int] = Field(sa_column=Column(JSONB, nullable=False))
    proposal_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()


class CycleLedger(Base, table=True):
    """Per cycle: what is committed or pledged to it (`total`) and what budgets took (`allocated`)."""

    __tablename__ = "cycle_ledgers"
    __table_args__ = (
        CheckConstraint("total >= 0", name="ck_cycle_ledgers_total"),
        CheckConstraint("allocated >= 0", name="ck_cycle_ledgers_allocated"),
        CheckConstraint("allocated <= total", name=LEDGER_CHECK),
    )

    organization_id: uuid.UUID = Field(
        sa_column=Column(PgUUID(as_uuid=True), ForeignKey("organizations.id"), primary_key=True)
    )
    cycle: int = Field(sa_column=Column(Integer, primary_key=True))
    total: Decimal = Field(sa_column=Column(Numeric, nullable=False, server_default="0"))
    allocated: Decimal = Field(sa_column=Column(Numeric, nullable=False, server_default="0"))


class Budget(Base, table=True):
    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_budgets_positive"),
        Index("ix_budgets_cell", "cell_id", "cycle"),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = _uuid_fk("organizations.id")
    cell_id: uuid.UUID = _uuid_fk("bodies.id")
    cycle: int = Field(sa_type=Integer)
    amount: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    proposal_id: uuid.UUID
    created_at: datetime = _ts()


class SignInNonce(Base, table=True):
    """A challenge nonce: bound to one address, single use (`used_at`), valid until `expires_at`."""

    __tablename__ = "sign_in_nonces"
    __table_args__ = (Index("ix_sign_in_nonces_expires", "expires_at"),)

    nonce: str = Field(sa_column=Column(Text, primary_key=True))
    address: str = Field(sa_type=Text)
    issued_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)


class AppliedProposal(Base, table=True):
    """The outcome of each `proposal.enactment_requested`, so a repeat never applies twice."""

    __tablename__ = "applied_proposals"

    proposal_id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    outcome: str = Field(sa_type=Text)  # APPLIED | REJECTED
    reason: str | None = Field(default=None, sa_type=Text)
    created_body_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    applied_at: datetime = _ts()
