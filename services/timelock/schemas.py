"""The timelock's HTTP shapes (docs/internal-api.md, "Timelock HTTP API") and wire formatting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kit import checksum

from .domain import MAX_REASON_LENGTH, Concern, Review


def format_decimal(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: `Decimal("3.000")` → `"3"`."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_address(address: str) -> str:
    """EIP-55 for Ethereum addresses; anything else (never expected) as stored."""
    return checksum(address)


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- input -----------------------------------------------------------------------------------------


class ConcernInput(CamelModel):
    reason: str = Field(max_length=MAX_REASON_LENGTH)


class ObjectionInput(CamelModel):
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


# --- output ----------------------------------------------------------------------------------------


class ConcernOut(CamelModel):
    id: uuid.UUID
    reason: str
    raised_at: str
    raised_by: str

    @classmethod
    def of(cls, concern: Concern) -> ConcernOut:
        return cls(
            id=concern.id,
            reason=concern.reason,
            raised_at=format_time(concern.raised_at) or "",
            raised_by=format_address(concern.raised_by),
        )


class ObjectionOut(CamelModel):
    objector: str
    weight: str
    reason: str | None
    objected_at: str


class OperationOut(CamelModel):
    status: str
    enact_after: str | None
    expires_at: str | None


class ReviewOut(CamelModel):
    id: uuid.UUID
    proposal_id: uuid.UUID
    organization_id: uuid.UUID
    reviewing_body_id: uuid.UUID | None
    status: str
    starts_at: str
    ends_at: str
    extended: bool
    objection_weight: str
    veto_threshold_weight: str
    veto_threshold_percent: str
    eligible_weight: str
    concerns: list[ConcernOut]
    objections: list[ObjectionOut]
    operation: OperationOut | None

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        op = review.operation
        return cls(
            id=review.id,
            proposal_id=review.proposal_id,
            organization_id=review.organization_id,
            reviewing_body_id=review.terms.reviewing_body_id,
            status=review.status.value,
            starts_at=format_time(review.starts_at) or "",
            ends_at=format_time(review.ends_at) or "",
            extended=review.extended,
            objection_weight=format_decimal(review.objection_weight),
            veto_threshold_weight=format_decimal(review.veto_threshold_weight),
            veto_threshold_percent=format_decimal(review.terms.veto_threshold_percent),
            eligible_weight=format_decimal(review.eligible_weight),
            concerns=[
                ConcernOut.of(c) for c in sorted(review.concerns, key=lambda c: (c.raised_at, str(c.id)))
            ],
            objections=[
                ObjectionOut(
                    objector=format_address(o.objector),
                    weight=format_decimal(o.weight),
                    reason=o.reason,
                    objected_at=format_time(o.objected_at) or "",
                )
                for o in sorted(review.objections.values(), key=lambda o: (o.objected_at, o.objector))
                if o.active
            ],
            operation=None
            if op is None
            else OperationOut(
                status=op.status.value,
                enact_after=format_time(op.enact_after),
                expires_at=format_time(op.expires_at),
            ),
        )


class ReviewBatch(CamelModel):
    items: list[ReviewOut]


class ConcernResult(CamelModel):
    concern: ConcernOut
    review: ReviewOut
