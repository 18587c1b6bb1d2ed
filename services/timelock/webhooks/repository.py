"""All of the webhooks' SQL: organisations, endpoints, deliveries and their attempts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import MemberRow
from .domain import DeliveryStatus
from .models import OrganizationRow, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

organizations = OrganizationRow.__table__  # type: ignore[attr-defined]
endpoints = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
deliveries = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
attempts = WebhookAttemptRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Organization:
    id: uuid.UUID
    slug: str
    stakeholder_group_id: uuid.UUID
    top_level_cell_id: uuid.UUID


@dataclass(frozen=True)
class Endpoint:
    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    subjects: list[str]
    secret_ciphertext: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str
    event_type: str
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        organization_id=row.organization_id,
        url=row.url,
        subjects=list(row.subjects),
        secret_ciphertext=row.secret_ciphertext,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        subject=row.subject,
        body=row.body,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_until=row.lease_until,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


# --- organisations and who manages their webhooks ----------------------------------------------------


async def upsert_organization(session: AsyncSession, org: Organization) -> None:
    values = {
        "slug": org.slug,
        "stakeholder_group_id": org.stakeholder_group_id,
        "top_level_cell_id": org.top_level_cell_id,
    }
    await session.execute(
        insert(organizations)
        .values(id=org.id, **values)
        .on_conflict_do_update(index_elements=[organizations.c.id], set_=values)
    )


async def organization_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    row = (await session.execute(sa.select(organizations).where(organizations.c.slug == slug))).first()
    return (
        None
        if row is None
        else Organization(row.id, row.slug, row.stakeholder_group_id, row.top_level_cell_id)
    )


async def organization_by_id(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    row = (
        await session.execute(sa.select(organizations).where(organizations.c.id == organization_id))
    ).first()
    return (
        None
        if row is None
        else Organization(row.id, row.slug, row.stakeholder_group_id, row.top_level_cell_id)
    )


async def is_manager(session: AsyncSession, org: Organization, address: str) -> bool:
    """A current member of the Stakeholder Group, or of the Top Level Cell's core team (the timelock's
    own projection of membership)."""
    found = await session.execute(
        sa.select(sa.literal(1)).where(
            members.c.address == address,
            members.c.active,
            sa.or_(
                members.c.body_id == org.stakeholder_group_id,
                sa.and_(members.c.body_id == org.top_level_cell_id, members.c.role == "CORE_TEAM"),
            ),
        )
    )
    return found.first() is not None


# --- endpoints -----------------------------------------------------------------------------------------


async def insert_endpoint(session: AsyncSession, endpoint: Endpoint) -> None:
    await session.execute(
        sa.insert(endpoints).values(
            id=endpoint.id,
            organization_id=endpoint.organization_id,
            url=endpoint.url,
            subjects=endpoint.subjects,
            secret_ciphertext=endpoint.secret_ciphertext,
            created_by=endpoint.created_by,
            created_at=endpoint.created_at,
        )
    )


async def count_endpoints(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return (
        await session.execute(
            sa.select(sa.func.count()).where(endpoints.c.organization_id == organization_id)
        )
    ).scalar_one()


async def lock_organization_endpoints(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialise registrations of one organisation, so two at once cannot pass the limit together."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"timelock:webhooks:{organization_id}"},
    )


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> Endpoint | None:
    row = (await session.execute(sa.select(endpoints).where(endpoints.c.id == endpoint_id))).first()
    return None if row is None else _endpoint(row)


async def endpoints_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Endpoint]:
    rows = await session.execute(
        sa.select(endpoints)
        .where(endpoints.c.organization_id == organization_id)
        .order_by(endpoints.c.created_at, endpoints.c.id)
    )
    return [_endpoint(row) for row in rows]


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """The endpoint with its deliveries and attempts (their deadlines then find nothing to do)."""
    await session.execute(sa.delete(endpoints).where(endpoints.c.id == endpoint_id))


async def delivery_counts(
    session: AsyncSession, endpoint_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    ids = list(endpoint_ids)
    out: dict[uuid.UUID, dict[str, int]] = {i: {s.value: 0 for s in DeliveryStatus} for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        sa.select(deliveries.c.endpoint_id, deliveries.c.status, sa.func.count())
        .where(deliveries.c.endpoint_id.in_(ids))
        .group_by(deliveries.c.endpoint_id, deliveries.c.status)
    )
    for endpoint_id, status, count in rows:
        out[endpoint_id][status] = count
    return out


# --- deliveries ----------------------------------------------------------------------------------------


async def insert_delivery(session: AsyncSession, delivery: Delivery) -> bool:
    """A new delivery; answers False when this endpoint already has one for this event."""
    inserted = await session.execute(
        insert(deliveries)
        .values(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            subject=delivery.subject,
            body=delivery.body,
            status=delivery.status.value,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
        )
        .on_conflict_do_nothing(constraint="webhook_deliveries_once")
        .returning(deliveries.c.id)
    )
    return inserted.scalar_one_or_none() is not None


async def get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, for_update: bool = False
) -> Delivery | None:
    query = sa.select(deliveries).where(deliveries.c.id == delivery_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return None if row is None else _delivery(row)


async def claim_due(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> Delivery | None:
    """The endpoint's delivery due longest, row-locked; one another sender holds is skipped."""
    row = (
        await session.execute(
            sa.select(deliveries)
            .where(
                deliveries.c.endpoint_id == endpoint_id,
                deliveries.c.status == DeliveryStatus.PENDING.value,
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.position)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).first()
    return None if row is None else _delivery(row)


async def endpoints_with_due_deliveries(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    rows = await session.execute(
        sa.select(deliveries.c.endpoint_id)
        .where(deliveries.c.status == DeliveryStatus.PENDING.value, deliveries.c.next_attempt_at <= now)
        .distinct()
    )
    return list(rows.scalars())


async def update_delivery(session: AsyncSession, delivery_id: uuid.UUID, **values: Any) -> None:
    if "status" in values and isinstance(values["status"], DeliveryStatus):
        values["status"] = values["status"].value
    await session.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


async def add_attempt(session: AsyncSession, delivery_id: uuid.UUID, attempt: Attempt) -> bool:
    """Record one attempt; answers False when it was already recorded (its lease ran out first)."""
    inserted = await session.execute(
        insert(attempts)
        .values(
            delivery_id=delivery_id,
            number=attempt.number,
            at=attempt.at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )
        .on_conflict_do_nothing()
        .returning(attempts.c.number)
    )
    return inserted.scalar_one_or_none() is not None


async def deliveries_page(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    first: int,
    before: int | None,
    statuses: list[DeliveryStatus] | None = None,
) -> tuple[list[tuple[int, Delivery]], int]:
    """Newest first, keyset on `position` (below `before`), with each one's position and the total
    count of the (filtered) list."""
    where = [deliveries.c.endpoint_id == endpoint_id]
    if statuses:
        where.append(deliveries.c.status.in_([s.value for s in statuses]))
    total = (await session.execute(sa.select(sa.func.count()).where(*where))).scalar_one()
    query = sa.select(deliveries).where(*where)
    if before is not None:
        query = query.where(deliveries.c.position < before)
    rows = await session.execute(query.order_by(deliveries.c.position.desc()).limit(first))
    return [(row.position, _delivery(row)) for row in rows], total


async def attempts_of(
    session: AsyncSession, delivery_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Attempt]]:
    ids = list(delivery_ids)
    out: dict[uuid.UUID, list[Attempt]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        sa.select(attempts).where(attempts.c.delivery_id.in_(ids)).order_by(attempts.c.number)
    )
    for row in rows:
        out[row.delivery_id].append(Attempt(row.number, row.at, row.status_code, row.error, row.duration_ms))
    return out


async def delete_finished_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        sa.delete(deliveries).where(deliveries.c.finished_at < before).returning(deliveries.c.id)
    )
    return len(result.all())


async def webhook_stats(session: AsyncSession) -> dict[str, int]:
    row = (
        await session.execute(
            sa.select(
                sa.select(sa.func.count()).select_from(endpoints).scalar_subquery(),
                sa.func.count().filter(deliveries.c.status.in_(["PENDING", "SENDING"])),
                sa.func.count().filter(deliveries.c.status == "DEAD"),
            ).select_from(deliveries)
        )
    ).one()
    return {"endpoints": row[0], "undelivered": row[1], "dead": row[2]}
