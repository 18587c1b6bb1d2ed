"""All of the timelock's SQL: reviews and their children, the membership projection, locks and counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

import kit

from .domain import (
    Concern,
    Objection,
    Operation,
    OperationStatus,
    Review,
    ReviewKind,
    ReviewStatus,
    ReviewTerms,
)
from .models import (
    BodyRow,
    CancelledProposalRow,
    ConcernRow,
    MemberRow,
    ObjectionRow,
    ReviewerRow,
    ReviewRow,
)

reviews = ReviewRow.__table__  # type: ignore[attr-defined]
reviewers = ReviewerRow.__table__  # type: ignore[attr-defined]
concerns = ConcernRow.__table__  # type: ignore[attr-defined]
objections = ObjectionRow.__table__  # type: ignore[attr-defined]
cancelled = CancelledProposalRow.__table__  # type: ignore[attr-defined]
bodies = BodyRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]

# Membership roles that take part in decisions (a cell's contributors do not).
NON_DECIDING_ROLES = ("CONTRIBUTOR",)


# --- locks ---------------------------------------------------------------------------------------


async def lock_proposal(session: AsyncSession, proposal_id: uuid.UUID) -> None:
    """Serialize every event handler about one proposal (e.g. a duplicate `voting_closed` racing itself,
    or a cancellation racing the review's opening) until the transaction ends."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"timelock:proposal:{proposal_id}"},
    )


async def lock_deadlines(session: AsyncSession, keys: Sequence[str]) -> None:
    """Lock a review's deadline rows before the review row.

    The kit's scheduler locks a deadline row and then, in the fire handler, the review row; taking the
    locks in the same order here means a request racing a firing deadline waits instead of deadlocking.
    """
    await kit.lock_deadlines(session, list(keys))


# --- reviews -------------------------------------------------------------------------------------


def _to_review(row: Any) -> Review:
    operation = None
    if row.operation_status is not None:
        operation = Operation(
            status=OperationStatus(row.operation_status),
            enact_after=row.enact_after,
            expires_at=row.expires_at,
            closed_at=row.operation_closed_at,
        )
    return Review(
        id=row.id,
        proposal_id=row.proposal_id,
        organization_id=row.organization_id,
        organization_slug=row.organization_slug,
        kind=ReviewKind(row.kind),
        terms=ReviewTerms(
            reviewing_body_id=row.reviewing_body_id,
            window_seconds=row.window_seconds,
            veto_threshold_percent=row.veto_threshold_percent,
            concern_extension_seconds=row.concern_extension_seconds,
            delay_seconds=row.delay_seconds,
            grace_period_seconds=row.grace_period_seconds,
        ),
        status=ReviewStatus(row.status),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        eligible_weight=row.eligible_weight,
        veto_threshold_weight=row.veto_threshold_weight,
        objection_weight=row.objection_weight,
        extended=row.extended,
        decided_at=row.decided_at,
        operation=operation,
    )


def _state_values(review: Review) -> dict[str, Any]:
    op = review.operation
    return {
        "status": review.status.value,
        "ends_at": review.ends_at,
        "extended": review.extended,
        "objection_weight": review.objection_weight,
        "decided_at": review.decided_at,
        "operation_status": op.status.value if op else None,
        "enact_after": op.enact_after if op else None,
        "expires_at": op.expires_at if op else None,
        "operation_closed_at": op.closed_at if op else None,
    }


async def _load_children(session: AsyncSession, loaded: list[Review]) -> None:
    if not loaded:
        return
    by_id = {r.id: r for r in loaded}
    rows = await session.execute(
        sa.select(concerns)
        .where(concerns.c.review_id.in_(by_id))
        .order_by(concerns.c.raised_at, concerns.c.id)
    )
    for row in rows:
        by_id[row.review_id].concerns.append(
            Concern(id=row.id, raised_by=row.raised_by, reason=row.reason, raised_at=row.raised_at)
        )
    rows = await session.execute(sa.select(objections).where(objections.c.review_id.in_(by_id)))
    for row in rows:
        by_id[row.review_id].objections[row.objector] = Objection(
            objector=row.objector,
            weight=row.weight,
            reason=row.reason,
            objected_at=row.objected_at,
            withdrawn_at=row.withdrawn_at,
        )


async def get_review(
    session: AsyncSession, review_id: uuid.UUID, *, for_update: bool = False, with_children: bool = True
) -> Review | None:
    query = sa.select(reviews).where(reviews.c.id == review_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        return None
    review = _to_review(row)
    if with_children:
        await _load_children(session, [review])
    return review


async def get_reviews_for_update(session: AsyncSession, review_ids: Sequence[uuid.UUID]) -> list[Review]:
    """Many reviews, row-locked in id order (without their concerns and objections)."""
    if not review_ids:
        return []
    query = sa.select(reviews).where(reviews.c.id.in_(review_ids)).order_by(reviews.c.id).with_for_update()
    return [_to_review(row) for row in await session.execute(query)]


async def find_review_id(session: AsyncSession, proposal_id: uuid.UUID) -> uuid.UUID | None:
    return (
        await session.execute(sa.select(reviews.c.id).where(reviews.c.proposal_id == proposal_id))
    ).scalar_one_or_none()


async def get_reviews_by_proposals(
    session: AsyncSession, proposal_ids: Iterable[uuid.UUID], *, kind: ReviewKind | None = None
) -> list[Review]:
    ids = list(dict.fromkeys(proposal_ids))
    if not ids:
        return []
    query = sa.select(reviews).where(reviews.c.proposal_id.in_(ids))
    if kind is not None:
        query = query.where(reviews.c.kind == kind.value)
    loaded = [_to_review(row) for row in await session.execute(query)]
    await _load_children(session, loaded)
    return loaded


async def insert_review(
    session: AsyncSession, review: Review, snapshot: Sequence[tuple[str, Decimal]], now: datetime
) -> bool:
    """Insert a new review with its reviewers' snapshot; answers False if the proposal already has one."""
    inserted = (
        await session.execute(
            insert(reviews)
            .values(
                id=review.id,
                proposal_id=review.proposal_id,
                organization_id=review.organization_id,
                organization_slug=review.organization_slug,
                kind=review.kind.value,
                reviewing_body_id=review.terms.reviewing_body_id,
                starts_at=review.starts_at,
                window_seconds=review.terms.window_seconds,
                veto_threshold_percent=review.terms.veto_threshold_percent,
                veto_threshold_weight=review.veto_threshold_weight,
                eligible_weight=review.eligible_weight,
                concern_extension_seconds=review.terms.concern_extension_seconds,
                delay_seconds=review.terms.delay_seconds,
                grace_period_seconds=review.terms.grace_period_seconds,
                created_at=now,
                **_state_values(review),
            )
            .on_conflict_do_nothing(index_elements=[reviews.c.proposal_id])
            .returning(reviews.c.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return False
    if snapshot:
        await session.execute(
            insert(reviewers),
            [{"review_id": review.id, "address": address, "weight": weight} for address, weight in snapshot],
        )
    return True


async def save_review(session: AsyncSession, review: Review) -> None:
    await session.execute(sa.update(reviews).where(reviews.c.id == review.id).values(**_state_values(review)))


async def save_reviews(session: AsyncSession, changed: Sequence[Review]) -> None:
    """`save_review` for many, in one round trip."""
    if not changed:
        return
    rows = [{"review_id": review.id, **_state_values(review)} for review in changed]
    statement = (
        sa.update(reviews)
        .where(reviews.c.id == sa.bindparam("review_id"))
        .values({column: sa.bindparam(column) for column in rows[0] if column != "review_id"})
    )
    await session.execute(statement, rows)


async def add_concern(session: AsyncSession, review_id: uuid.UUID, concern: Concern) -> None:
    await session.execute(
        sa.insert(concerns).values(
            id=concern.id,
            review_id=review_id,
            raised_by=concern.raised_by,
            reason=concern.reason,
            raised_at=concern.raised_at,
        )
    )


async def save_objection(session: AsyncSession, review_id: uuid.UUID, objection: Objection) -> None:
    values = {
        "weight": objection.weight,
        "reason": objection.reason,
        "objected_at": objection.objected_at,
        "withdrawn_at": objection.withdrawn_at,
    }
    await session.execute(
        insert(objections)
        .values(review_id=review_id, objector=objection.objector, **values)
        .on_conflict_do_update(index_elements=[objections.c.review_id, objections.c.objector], set_=values)
    )


async def reviewer_weight(session: AsyncSession, review_id: uuid.UUID, address: str) -> Decimal | None:
    return (
        await session.execute(
            sa.select(reviewers.c.weight).where(
                reviewers.c.review_id == review_id, reviewers.c.address == address
            )
        )
    ).scalar_one_or_none()


# --- cancellations seen ----------------------------------------------------------------------------


async def mark_proposal_cancelled(session: AsyncSession, proposal_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        insert(cancelled).values(proposal_id=proposal_id, cancelled_at=at).on_conflict_do_nothing()
    )


async def is_proposal_cancelled(session: AsyncSession, proposal_id: uuid.UUID) -> bool:
    found = await session.execute(
        sa.select(cancelled.c.proposal_id).where(cancelled.c.proposal_id == proposal_id)
    )
    return found.first() is not None


# --- membership projection -------------------------------------------------------------------------


async def upsert_body(
    session: AsyncSession, body_id: uuid.UUID, organization_id: uuid.UUID, kind: str
) -> None:
    await session.execute(
        insert(bodies)
        .values(id=body_id, organization_id=organization_id, kind=kind)
        .on_conflict_do_update(index_elements=[bodies.c.id], set_={"kind": kind})
    )


async def body_exists(session: AsyncSession, body_id: uuid.UUID) -> bool:
    return (await session.execute(sa.select(bodies.c.id).where(bodies.c.id == body_id))).first() is not None


def _newer(column: sa.Column, sequence: int | None) -> sa.ColumnElement[bool]:  # type: ignore[type-arg]
    # an event without a sequence (never expected from the kit's outbox) is applied as it comes
    return sa.true() if sequence is None else column < sequence


async def apply_membership(
    session: AsyncSession,
    *,
    body_id: uuid.UUID,
    address: str,
    active: bool,
    role: str | None,
    weight: Decimal | None,
    sequence: int | None,
    at: datetime,
) -> None:
    """Apply `membership.joined` (active, with role and weight) or `membership.left` (inactive)."""
    seq = sequence or 0
    await session.execute(
        insert(members)
        .values(
            body_id=body_id,
            address=address,
            role=role,
            weight=weight if weight is not None else Decimal(0),
            active=active,
            active_sequence=seq,
            weight_sequence=seq if weight is not None else 0,
            updated_at=at,
        )
        .on_conflict_do_nothing()
    )
    changes: dict[str, Any] = {"active": active, "active_sequence": seq, "updated_at": at}
    if role is not None:
        changes["role"] = role
    await session.execute(
        sa.update(members)
        .where(
            members.c.body_id == body_id,
            members.c.address == address,
            _newer(members.c.active_sequence, sequence),
        )
        .values(**changes)
    )
    if weight is not None:
        await set_member_weight(
            session, body_id=body_id, address=address, weight=weight, sequence=sequence, at=at
        )


async def set_member_weight(
    session: AsyncSession,
    *,
    body_id: uuid.UUID,
    address: str,
    weight: Decimal,
    sequence: int | None,
    at: datetime,
) -> None:
    seq = sequence or 0
    await session.execute(
        insert(members)
        .values(
            body_id=body_id,
            address=address,
            role=None,
            weight=weight,
            active=False,
            active_sequence=0,
            weight_sequence=seq,
            updated_at=at,
        )
        .on_conflict_do_nothing()
    )
    await session.execute(
        sa.update(members)
        .where(
            members.c.body_id == body_id,
            members.c.address == address,
            _newer(members.c.weight_sequence, sequence),
        )
        .values(weight=weight, weight_sequence=seq, updated_at=at)
    )


async def current_reviewers(session: AsyncSession, body_id: uuid.UUID) -> list[tuple[str, Decimal]]:
    """The body's current deciding members with positive weight: the snapshot taken at review start."""
    rows = await session.execute(
        sa.select(members.c.address, members.c.weight)
        .where(
            members.c.body_id == body_id,
            members.c.active,
            members.c.weight > 0,
            sa.or_(members.c.role.is_(None), members.c.role.not_in(NON_DECIDING_ROLES)),
        )
        .order_by(members.c.address)
    )
    return [(row.address, row.weight) for row in rows]


async def is_current_member(session: AsyncSession, body_id: uuid.UUID, address: str) -> bool:
    found = await session.execute(
        sa.select(members.c.active).where(members.c.body_id == body_id, members.c.address == address)
    )
    return bool(found.scalar_one_or_none())


# --- status ----------------------------------------------------------------------------------------


async def status_counts(session: AsyncSession, now: datetime) -> dict[str, int]:
    row = (
        await session.execute(
            sa.select(
                sa.func.count().filter(reviews.c.status == ReviewStatus.PENDING.value),
                sa.func.count().filter(reviews.c.operation_status == OperationStatus.QUEUED.value),
                sa.func.count().filter(reviews.c.operation_status == OperationStatus.READY.value),
                sa.func.count().filter(
                    reviews.c.kind == ReviewKind.REVIEW.value,
                    reviews.c.status.in_([ReviewStatus.APPROVED.value, ReviewStatus.BLOCKED.value]),
                    reviews.c.decided_at >= now - timedelta(minutes=1),
                ),
            )
        )
    ).one()
    return {"pending": row[0], "queued": row[1], "ready": row[2], "verdicts_last_minute": row[3]}
