"""Webhooks' HTTP input and output (docs/internal-api.md, "Webhooks")."""

from __future__ import annotations

import uuid

from pydantic import Field

from ..schemas import CamelModel, format_address, format_time
from .domain import MAX_FILTERS, MAX_URL_LENGTH
from .repository import Attempt, Delivery, Endpoint, Organization


class RegisterInput(CamelModel):
    url: str = Field(max_length=MAX_URL_LENGTH)
    subjects: list[str] | None = Field(default=None, max_length=MAX_FILTERS)


class WebhookOut(CamelModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization: str
    url: str
    subjects: list[str]
    created_by: str
    created_at: str
    # deliveries by status: PENDING, SENDING, DELIVERED, DEAD
    deliveries: dict[str, int]

    @classmethod
    def of(cls, endpoint: Endpoint, org: Organization, counts: dict[str, int] | None = None) -> WebhookOut:
        return cls(
            id=endpoint.id,
            organization_id=endpoint.organization_id,
            organization=org.slug,
            url=endpoint.url,
            subjects=endpoint.subjects,
            created_by=format_address(endpoint.created_by),
            created_at=format_time(endpoint.created_at) or "",
            deliveries=counts or {"PENDING": 0, "SENDING": 0, "DELIVERED": 0, "DEAD": 0},
        )


class Registered(CamelModel):
    webhook: WebhookOut
    # shown once: only its encryption is kept
    secret: str


class WebhookList(CamelModel):
    items: list[WebhookOut]


class AttemptOut(CamelModel):
    number: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            at=format_time(attempt.at) or "",
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )


class DeliveryOut(CamelModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    subject: str
    status: str
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    finished_at: str | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, delivery: Delivery, attempts: list[Attempt]) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            subject=delivery.subject,
            status=delivery.status.value,
            attempt_count=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=format_time(delivery.next_attempt_at),
            created_at=format_time(delivery.created_at) or "",
            finished_at=format_time(delivery.finished_at),
            attempts=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryPage(CamelModel):
    items: list[DeliveryOut]
    total_count: int
    end_cursor: str | None
    has_next_page: bool


class Deleted(CamelModel):
    id: uuid.UUID
