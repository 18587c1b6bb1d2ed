"""The timelock's tables: reviews (with their operation), the reviewers' snapshot, concerns, objections,
and the projection of membership it needs (bodies and their members)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

WEIGHT = sa.Numeric(38, 18)


class Base(SQLModel, registry=registry()):
    pass


def _tz(**kwargs: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(sa.DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


class ReviewRow(Base, table=True):
    """One proposal's review (kind REVIEW) or delay-only timelock (kind DELAY), with its operation."""

    __tablename__ = "reviews"
    __table_args__ = (
        sa.Index("reviews_status", "status"),
        sa.Index("reviews_operation_status", "operation_status"),
        sa.Index("reviews_decided_at", "decided_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    proposal_id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    organization_id: uuid.UUID
    organization_slug: str
    kind: str
    reviewing_body_id: uuid.UUID | None = None
    status: str
    starts_at: datetime = Field(sa_column=_tz(nullable=False))
    ends_at: datetime = Field(sa_column=_tz(nullable=False))
    extended: bool = False
    window_seconds: int
    veto_threshold_percent: Decimal = Field(sa_column=sa.Column(sa.Numeric(9, 4), nullable=False))
    veto_threshold_weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))
    eligible_weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))
    objection_weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))
    concern_extension_seconds: int
    delay_seconds: int
    grace_period_seconds: int
    decided_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    operation_status: str | None = None
    enact_after: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    operation_closed_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    created_at: datetime = Field(sa_column=_tz(nullable=False))


class ReviewerRow(Base, table=True):
    """The reviewing body's members and weights at review start."""

    __tablename__ = "reviewers"

    review_id: uuid.UUID = Field(foreign_key="reviews.id", primary_key=True, ondelete="CASCADE")
    address: str = Field(primary_key=True)
    weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))


class ConcernRow(Base, table=True):
    __tablename__ = "concerns"
    __table_args__ = (sa.Index("concerns_review", "review_id", "raised_at"),)

    id: uuid.UUID = Field(primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="reviews.id", ondelete="CASCADE")
    raised_by: str
    reason: str
    raised_at: datetime = Field(sa_column=_tz(nullable=False))


class ObjectionRow(Base, table=True):
    """One per reviewer and review; a withdrawn objection keeps its row with `withdrawn_at` set."""

    __tablename__ = "objections"

    review_id: uuid.UUID = Field(foreign_key="reviews.id", primary_key=True, ondelete="CASCADE")
    objector: str = Field(primary_key=True)
    weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))
    reason: str | None = None
    objected_at: datetime = Field(sa_column=_tz(nullable=False))
    withdrawn_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))


class CancelledProposalRow(Base, table=True):
    """Proposals seen cancelled, so a `voting_closed` that arrives after the cancellation opens nothing."""

    __tablename__ = "cancelled_proposals"

    proposal_id: uuid.UUID = Field(primary_key=True)
    cancelled_at: datetime = Field(sa_column=_tz(nullable=False))


# --- projection of membership -------------------------------------------------------------------


class BodyRow(Base, table=True):
    __tablename__ = "bodies"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    kind: str


class MemberRow(Base, table=True):
    """A member of a body as the membership events say.

    The `*_sequence` columns hold the body aggregate's event sequence last applied to membership
    (joined/left) and to weight (joined/weight_changed), so an event delivered late never undoes a newer one.
    """

    __tablename__ = "members"

    body_id: uuid.UUID = Field(primary_key=True)
    address: str = Field(primary_key=True)
    role: str | None = None
    weight: Decimal = Field(sa_column=sa.Column(WEIGHT, nullable=False))
    active: bool
    active_sequence: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    weight_sequence: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=_tz(nullable=False))
