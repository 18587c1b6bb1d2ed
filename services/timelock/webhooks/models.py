"""Webhook tables: organisations, the endpoints they registered, one delivery per (endpoint, event), and every
attempt at it."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from ..models import Base, _tz


class OrganizationRow(Base, table=True):
    """An organisation's slug and its two houses, from `organization.created` (read by the webhooks'
    own consumer, which sees the whole retained stream when it is first created): whose members may
    manage its webhooks."""

    __tablename__ = "organizations"

    id: uuid.UUID = Field(primary_key=True)
    slug: str = Field(sa_column=sa.Column(sa.String, nullable=False, unique=True))
    stakeholder_group_id: uuid.UUID
    top_level_cell_id: uuid.UUID


class WebhookEndpointRow(Base, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("webhook_endpoints_organization", "organization_id", "created_at"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    url: str
    subjects: list[str] = Field(sa_column=sa.Column(JSONB, nullable=False))
    # the signing secret, Fernet-encrypted with TIMELOCK_WEBHOOK_SECRET_KEYS (it must be recoverable to sign)
    secret_ciphertext: str
    created_by: str
    created_at: datetime = Field(sa_column=_tz(nullable=False))


class WebhookDeliveryRow(Base, table=True):
    """One event for one endpoint: PENDING (its next attempt is due at `next_attempt_at`), SENDING
    (claimed by a sender until `lease_until`), DELIVERED or DEAD. `body` is the CloudEvents document
    sent on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="webhook_deliveries_once"),
        sa.Index("webhook_deliveries_endpoint", "endpoint_id", "position"),
        sa.Index("webhook_deliveries_finished", "finished_at"),
        # what is due, per endpoint (a sender claims the oldest) and overall (the sweep)
        sa.Index(
            "webhook_deliveries_due",
            "endpoint_id",
            "next_attempt_at",
            "position",
            postgresql_where=sa.text("status = 'PENDING'"),
        ),
        sa.Index(
            "webhook_deliveries_due_at", "next_attempt_at", postgresql_where=sa.text("status = 'PENDING'")
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    # the order the events were taken in (the stream's): an endpoint gets its deliveries in this order
    position: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(always=True), nullable=False)
    )
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event_id: str
    event_type: str
    subject: str
    body: str
    status: str
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    lease_until: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime = Field(sa_column=_tz(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))


class WebhookAttemptRow(Base, table=True):
    __tablename__ = "webhook_attempts"

    delivery_id: uuid.UUID = Field(foreign_key="webhook_deliveries.id", primary_key=True, ondelete="CASCADE")
    number: int = Field(primary_key=True)
    at: datetime = Field(sa_column=_tz(nullable=False))
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
