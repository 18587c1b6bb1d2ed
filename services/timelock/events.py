"""The timelock's events (docs/internal-api.md, "timelock"): domain events → CloudEvents envelopes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kit import Envelope, new_event

from .domain import (
    ConcernRaised,
    DomainEvent,
    ObjectionRecorded,
    OperationExpired,
    OperationQueued,
    OperationReady,
    Review,
    ReviewApproved,
    ReviewBlocked,
    ReviewCancelled,
    ReviewStarted,
)
from .schemas import format_address, format_decimal, format_time

SOURCE = "/services/timelock"


def to_envelope(review: Review, event: DomainEvent, *, at: datetime) -> Envelope:
    """The envelope for one domain event of `review`, stamped with the (injectable) clock's time."""
    aggregate, name, data = _describe(review, event)
    return new_event(
        source=SOURCE,
        organization=review.organization_slug,
        organization_id=str(review.organization_id),
        aggregate=aggregate,
        aggregate_id=str(review.id),
        event=name,
        data={"proposalId": str(review.proposal_id), "reviewId": str(review.id), **data},
        subject_kind="reviews",
        time=at,
    )


def _describe(review: Review, event: DomainEvent) -> tuple[str, str, dict[str, Any]]:
    threshold = format_decimal(review.veto_threshold_weight)
    match event:
        case ReviewStarted():
            return (
                "review",
                "started",
                {
                    "reviewingBodyId": str(review.terms.reviewing_body_id),
                    "startsAt": format_time(review.starts_at),
                    "endsAt": format_time(review.ends_at),
                    "vetoThresholdPercent": format_decimal(review.terms.veto_threshold_percent),
                    "vetoThresholdWeight": threshold,
                    "eligibleWeight": format_decimal(review.eligible_weight),
                    "concernExtensionSeconds": review.terms.concern_extension_seconds,
                    "delaySeconds": review.terms.delay_seconds,
                },
            )
        case ConcernRaised(concern=concern, ends_at=ends_at, extended=extended):
            return (
                "review",
                "concern_raised",
                {
                    "concernId": str(concern.id),
                    "raisedBy": format_address(concern.raised_by),
                    "reason": concern.reason,
                    "raisedAt": format_time(concern.raised_at),
                    "endsAt": format_time(ends_at),
                    "extended": extended,
                },
            )
        case ObjectionRecorded():
            return (
                "review",
                "objection_recorded",
                {
                    "objector": format_address(event.objector),
                    "weight": format_decimal(event.weight),
                    "withdrawn": event.withdrawn,
                    "reason": event.reason,
                    "objectionWeight": format_decimal(event.objection_weight),
                    "vetoThresholdWeight": threshold,
                },
            )
        case ReviewBlocked(objection_weight=weight):
            return (
                "review",
                "blocked",
                {"objectionWeight": format_decimal(weight), "vetoThresholdWeight": threshold},
            )
        case ReviewApproved(objection_weight=weight):
            return (
                "review",
                "approved",
                {"objectionWeight": format_decimal(weight), "delaySeconds": review.terms.delay_seconds},
            )
        case ReviewCancelled(what=what):
            return "review", "cancelled", {"cancelled": what}
        case OperationQueued(enact_after=enact_after, expires_at=expires_at):
            return (
                "operation",
                "queued",
                {"enactAfter": format_time(enact_after), "expiresAt": format_time(expires_at)},
            )
        case OperationReady(expires_at=expires_at):
            return "operation", "ready", {"expiresAt": format_time(expires_at)}
        case OperationExpired(reason=reason):
            return "operation", "expired", {"reason": reason}
    raise TypeError(f"unknown domain event {event!r}")  # pragma: no cover
