"""All SQL of the membership service. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Conflict, CoreTeamFull, InsufficientFunds, fetch_rows

from .models import (
    CORE_TEAM_CHECK,
    LEDGER_CHECK,
    ONE_CURRENT_MEMBERSHIP,
    AppliedProposal,
    Body,
    Budget,
    Commission,
    Commitment,
    CycleLedger,
    Member,
    Membership,
    Organization,
    SignInNonce,
    Withdrawal,
)

M = TypeVar("M")
MAX_HISTORY = 1000  # a person's memberships answered at once, the most recent ones


def _constraint(exc: IntegrityError) -> str | None:
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)


def _values(row: Any) -> dict[str, Any]:
    # identity columns are the database's to fill
    return {c.name: getattr(row, c.name) for c in row.__table__.columns if c.identity is None}


async def _all(session: AsyncSession, stmt: Select[Any]) -> list[Any]:
    # populate_existing: rows change under the ORM (triggers, conditional UPDATEs); always read afresh
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def _first(session: AsyncSession, stmt: Select[Any]) -> Any:
    return (await session.scalars(stmt.execution_options(populate_existing=True))).first()


async def _insert(session: AsyncSession, row: Any) -> None:
    await session.execute(insert(type(row)).values(**_values(row)))


# --- organizations ---------------------------------------------------------------------------------


async def insert_organization(session: AsyncSession, org: Organization) -> None:
    try:
        await _insert(session, org)
    except IntegrityError as exc:
        raise Conflict(f"the slug {org.slug} is taken", field="slug") from exc


async def get_organization(
    session: AsyncSession, *, id: uuid.UUID | None = None, slug: str | None = None, lock: bool = False
) -> Organization | None:
    stmt = select(Organization)
    stmt = stmt.where(Organization.id == id) if id is not None else stmt.where(Organization.slug == slug)
    return await _first(session, stmt.with_for_update() if lock else stmt)


async def update_policy(
    session: AsyncSession, org_id: uuid.UUID, *, policy: dict[str, Any], cycle_segments: list[dict[str, Any]]
) -> None:
    await session.execute(
        update(Organization)
        .where(Organization.id == org_id)
        .values(policy=policy, cycle_segments=cycle_segments)
    )


async def get_organizations(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Organization]:
    return await _all(session, select(Organization).where(Organization.id.in_(ids)))


# The bodies batch (every page of proposals asks for one) goes straight to asyncpg (`kit.fetch_rows`).
_BODY_NAMES = [c.name for c in Body.__table__.columns]  # type: ignore[attr-defined]
BodyRecord = namedtuple("BodyRecord", _BODY_NAMES)  # type: ignore[misc]


async def organization_slugs(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await fetch_rows(
        session,
        f"SELECT id, slug FROM {Organization.__tablename__} WHERE id = ANY($1::uuid[])",
        list(set(ids)),
    )
    return {row[0]: row[1] for row in rows}


# --- bodies ----------------------------------------------------------------------------------------


async def insert_body(session: AsyncSession, body: Body) -> None:
    await _insert(session, body)


async def get_body(session: AsyncSession, body_id: uuid.UUID) -> Body | None:
    return await _first(session, select(Body).where(Body.id == body_id))


async def get_bodies(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
    """Read-only rows with the table's columns as attributes (not ORM entities: nothing to change here)."""
    rows = await fetch_rows(
        session,
        f"SELECT {', '.join(_BODY_NAMES)} FROM {Body.__tablename__} WHERE id = ANY($1::uuid[])",
        list(ids),
    )
    return [BodyRecord(*row) for row in rows]


async def child_ids(
    session: AsyncSession, parent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch_rows(
        session,
        f"SELECT parent_id, id FROM {Body.__tablename__} WHERE parent_id = ANY($1::uuid[]) "
        "ORDER BY created_at, id",
        list(parent_ids),
    )
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        children.setdefault(row[0], []).append(row[1])
    return children


async def set_cell_state(
    session: AsyncSession,
    body_id: uuid.UUID,
    *,
    status: str,
    purpose: str,
    strategy: str,
    agreements: Sequence[str],
    approved_at: datetime | None,
    proposal_id: uuid.UUID | None,
) -> None:
    await session.execute(
        update(Body)
        .where(Body.id == body_id)
        .values(
            purpose=purpose,
            state_status=status,
            state_purpose=purpose,
            state_strategy=strategy,
            state_agreements=list(agreements),
            state_approved_at=approved_at,
            state_proposal_id=proposal_id,
        )
    )


# --- members and memberships -----------------------------------------------------------------------


async def upsert_member(session: AsyncSession, address: str, display_name: str | None, now: datetime) -> None:
    """Create the identity if new; a display name is only filled in, never overwritten by others."""
    await session.execute(
        text(
            """
            INSERT INTO members (address, display_name, created_at) VALUES (:a, :n, :t)
            ON CONFLICT (address) DO UPDATE
                SET display_name = COALESCE(members.display_name, EXCLUDED.display_name)
            """
        ),
        {"a": address, "n": display_name, "t": now},
    )


async def get_members(session: AsyncSession, addresses: Sequence[str]) -> list[Member]:
    return await _all(session, select(Member).where(Member.address.in_(addresses)))


async def current_membership(
    session: AsyncSession, body_id: uuid.UUID, address: str, *, lock: bool = False
) -> Membership | None:
    stmt = select(Membership).where(
        Membership.body_id == body_id, Membership.address == address, Membership.left_at.is_(None)
    )
    return await _first(session, stmt.with_for_update() if lock else stmt)


async def ever_member(session: AsyncSession, body_id: uuid.UUID, address: str) -> bool:
    stmt = select(func.count()).where(Membership.body_id == body_id, Membership.address == address)
    return (await session.scalar(stmt) or 0) > 0


async def core_team_count(session: AsyncSession, body_id: uuid.UUID) -> int:
    return int(await session.scalar(select(Body.core_team_count).where(Body.id == body_id)) or 0)


async def insert_membership(session: AsyncSession, membership: Membership) -> None:
    """The database refuses a 10th core team member (trigger + CHECK) and a second current membership."""
    try:
        async with session.begin_nested():
            await _insert(session, membership)
    except IntegrityError as exc:
        name = _constraint(exc)
        if name == CORE_TEAM_CHECK:
            raise CoreTeamFull("the cell's core team already has 9 members", field="role") from exc
        if name == ONE_CURRENT_MEMBERSHIP:
            raise Conflict("already a member of this body", field="address") from exc
        raise


async def close_membership(
    session: AsyncSession,
    membership_id: uuid.UUID,
    *,
    now: datetime,
    reason: str,
    proposal_id: uuid.UUID | None,
) -> bool:
    """Mark left, once: answers False when it had already been closed (e.g. by a concurrent exit)."""
    result = await session.execute(
        update(Membership)
        .where(Membership.id == membership_id, Membership.left_at.is_(None))
        .values(left_at=now, left_reason=reason, left_proposal_id=proposal_id)
        .returning(Membership.id)
    )
    return result.first() is not None


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    display_name: str | None


async def page_current_members(
    session: AsyncSession, body_id: uuid.UUID, *, first: int, after: int | None
) -> tuple[list[MemberRow], int]:
    """Current members in joining order, keyset-paged on the insertion sequence."""
    current = and_(Membership.body_id == body_id, Membership.left_at.is_(None))
    stmt = (
        select(Membership, Member.display_name)
        .join(Member, Member.address == Membership.address)
        .where(current)
        .order_by(Membership.seq)
        .limit(first + 1)
    )
    if after is not None:
        stmt = stmt.where(Membership.seq > after)
    rows = (await session.execute(stmt.execution_options(populate_existing=True))).all()
    total = int(await session.scalar(select(func.count()).select_from(Membership).where(current)) or 0)
    return [MemberRow(row[0], row[1]) for row in rows], total


async def memberships_of(
    session: AsyncSession, address: str, *, include_former: bool
) -> list[tuple[Membership, str | None, Body]]:
    stmt = (
        select(Membership, Member.display_name, Body)
        .join(Member, Member.address == Membership.address)
        .join(Body, Body.id == Membership.body_id)
        .where(Membership.address == address)
        .order_by(Membership.seq.desc())
        .limit(MAX_HISTORY)
    )
    if not include_former:
        stmt = stmt.where(Membership.left_at.is_(None))
    rows = (await session.execute(stmt.execution_options(populate_existing=True))).all()
    return [(row[0], row[1], row[2]) for row in reversed(rows)]


async def current_stakeholders(session: AsyncSession, shg_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(Membership.address).where(Membership.body_id == shg_id, Membership.left_at.is_(None))
    )
    return list(rows)


# --- funds -----------------------------------------------------------------------------------------


async def pledged_totals(
    session: AsyncSession, organization_id: uuid.UUID, addresses: Sequence[str]
) -> dict[str, Decimal]:
    """Per member: everything committed or pledged to the organisation and not withdrawn."""
    rows = await session.execute(
        select(Commitment.address, func.sum(Commitment.amount))
        .where(
            Commitment.organization_id == organization_id,
            Commitment.address.in_(addresses),
            Commitment.withdrawn_at.is_(None),
        )
        .group_by(Commitment.address)
    )
    totals = {address: Decimal(0) for address in addresses}
    totals.update({row[0]: row[1] for row in rows})
    return totals


async def insert_commitment(session: AsyncSession, commitment: Commitment) -> None:
    await _insert(session, commitment)
    await session.execute(
        text(
            """
            INSERT INTO cycle_ledgers (organization_id, cycle, total, allocated) VALUES (:o, :c, :a, 0)
            ON CONFLICT (organization_id, cycle) DO UPDATE SET total = cycle_ledgers.total + EXCLUDED.total
            """
        ),
        {"o": commitment.organization_id, "c": commitment.cycle, "a": commitment.amount},
    )


async def open_commitments(
    session: AsyncSession, organization_id: uuid.UUID, address: str
) -> list[Commitment]:
    stmt = (
        select(Commitment)
        .where(
            Commitment.organization_id == organization_id,
            Commitment.address == address,
            Commitment.withdrawn_at.is_(None),
        )
        .order_by(Commitment.cycle, Commitment.created_at)
        .with_for_update()
    )
    return await _all(session, stmt)


async def withdraw(
    session: AsyncSession, withdrawal: Withdrawal, commitments: Sequence[Commitment], *, now: datetime
) -> None:
    """Record the withdrawal, mark its commitments, and take them out of their cycles' totals."""
    await _insert(session, withdrawal)
    if not commitments:
        return
    await session.execute(
        update(Commitment)
        .where(Commitment.id.in_([c.id for c in commitments]))
        .values(withdrawn_at=now, withdrawal_id=withdrawal.id)
    )
    per_cycle: dict[int, Decimal] = {}
    for c in commitments:
        per_cycle[c.cycle] = per_cycle.get(c.cycle, Decimal(0)) + c.amount
    for cycle, amount in per_cycle.items():
        await session.execute(
            update(CycleLedger)
            .where(CycleLedger.organization_id == withdrawal.organization_id, CycleLedger.cycle == cycle)
            .values(total=CycleLedger.total - amount)
        )


async def ledger(session: AsyncSession, organization_id: uuid.UUID, cycle: int) -> tuple[Decimal, Decimal]:
    """(total, allocated) for one cycle; zeros when nothing was ever pledged to it."""
    row = (
        await session.execute(
            select(CycleLedger.total, CycleLedger.allocated).where(
                CycleLedger.organization_id == organization_id, CycleLedger.cycle == cycle
            )
        )
    ).first()
    return (row[0], row[1]) if row else (Decimal(0), Decimal(0))


async def allocate(session: AsyncSession, budget: Budget) -> None:
    """Take `budget.amount` from the cycle's unallocated funds, or refuse; the row lock serialises
    concurrent allocations and the CHECK keeps `allocated <= total` whatever the code does."""
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(CycleLedger)
                .where(
                    CycleLedger.organization_id == budget.organization_id,
                    CycleLedger.cycle == budget.cycle,
                    CycleLedger.allocated + budget.amount <= CycleLedger.total,
                )
                .values(allocated=CycleLedger.allocated + budget.amount)
                .returning(CycleLedger.cycle)
            )
            if result.first() is None:
                raise InsufficientFunds(
                    f"not enough unallocated funds in cycle {budget.cycle}", field="amount"
                )
            await _insert(session, budget)
    except IntegrityError as exc:
        if _constraint(exc) == LEDGER_CHECK:
            raise InsufficientFunds(
                f"not enough unallocated funds in cycle {budget.cycle}", field="amount"
            ) from exc
        raise


# --- sign-in nonces --------------------------------------------------------------------------------


async def insert_nonce(session: AsyncSession, nonce: SignInNonce) -> None:
    await _insert(session, nonce)


async def get_nonce(session: AsyncSession, nonce: str) -> SignInNonce | None:
    return await _first(session, select(SignInNonce).where(SignInNonce.nonce == nonce))


async def use_nonce(session: AsyncSession, nonce: str, now: datetime) -> bool:
    """Consume a nonce once: a concurrent second use finds it already used."""
    result = await session.execute(
        update(SignInNonce)
        .where(SignInNonce.nonce == nonce, SignInNonce.used_at.is_(None))
        .values(used_at=now)
        .returning(SignInNonce.nonce)
    )
    return result.first() is not None


async def purge_nonces(session: AsyncSession, before: datetime) -> None:
    await session.execute(
        text(
            "DELETE FROM sign_in_nonces WHERE nonce IN "
            "(SELECT nonce FROM sign_in_nonces WHERE expires_at < :t LIMIT 500)"
        ),
        {"t": before},
    )


# --- enactment outcomes ----------------------------------------------------------------------------


async def get_applied(session: AsyncSession, proposal_id: uuid.UUID) -> AppliedProposal | None:
    return await _first(session, select(AppliedProposal).where(AppliedProposal.proposal_id == proposal_id))


async def insert_applied(session: AsyncSession, applied: AppliedProposal) -> None:
    await _insert(session, applied)


# --- status ----------------------------------------------------------------------------------------


async def status_counts(session: AsyncSession, now: datetime) -> dict[str, int]:
    row = (
        await session.execute(
            text(
                """
                SELECT
                    (SELECT count(*) FROM organizations) AS organizations,
                    (SELECT count(*) FROM bodies) AS bodies,
                    (SELECT count(*) FROM members) AS members,
                    (SELECT count(*) FROM memberships WHERE left_at IS NULL) AS current_memberships,
                    (SELECT count(*) FROM cycle_ledgers l
                      JOIN organizations o ON o.id = l.organization_id
                      CROSS JOIN LATERAL (SELECT
                          (o.cycle_segments -> -1 ->> 'firstCycle')::int AS first_cycle,
                          (o.cycle_segments -> -1 ->> 'startsAt')::timestamptz AS starts_at,
                          (o.cycle_segments -> -1 ->> 'lengthSeconds')::bigint AS length_seconds) s
                      -- before the latest segment starts, the cycle just before it is running
                      WHERE l.cycle >= CASE
                          WHEN CAST(:now AS timestamptz) < s.starts_at THEN s.first_cycle - 1
                          ELSE s.first_cycle + floor(
                              extract(epoch FROM (CAST(:now AS timestamptz) - s.starts_at))
                              / s.length_seconds)
                          END
                        AND l.total > 0) AS open_cycles
                """
            ),
            {"now": now},
        )
    ).one()
    return {
        "organizations": row.organizations,
        "bodies": row.bodies,
        "members": row.members,
        "currentMemberships": row.current_memberships,
        "openCycles": row.open_cycles,
    }


# --- commissions -----------------------------------------------------------------------------------


async def insert_commission(session: AsyncSession, commission: Commission) -> None:
    await _insert(session, commission)


async def get_commissions(session: AsyncSession, body_ids: Sequence[uuid.UUID]) -> list[Commission]:
    if not body_ids:
        return []
    return await _all(session, select(Commission).where(Commission.body_id.in_(list(body_ids))))


async def commission_ids(session: AsyncSession, organization_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Commission.body_id)
        .where(Commission.organization_id == organization_id)
        .order_by(Commission.created_at, Commission.body_id)
        .limit(MAX_COMMISSIONS)
    )
    return list(rows)


# an organisation has a handful of commissions; a list is never paged
MAX_COMMISSIONS = 100


async def lock_commission(session: AsyncSession, body_id: uuid.UUID) -> Commission | None:
    """The commission's row, locked: seats are filled one transaction at a time, so quotas hold."""
    return await _first(session, select(Commission).where(Commission.body_id == body_id).with_for_update())


async def seats_taken(
    session: AsyncSession, body_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Current seat holders per commission and group."""
    out: dict[uuid.UUID, dict[str, int]] = {b: {} for b in body_ids}
    if not body_ids:
        return out
    rows = await session.execute(
        select(Membership.body_id, Membership.seat_group, func.count())
        .where(Membership.body_id.in_(list(body_ids)), Membership.left_at.is_(None))
        .group_by(Membership.body_id, Membership.seat_group)
    )
    for body_id, group, n in rows:
        if group is not None:
            out[body_id][group] = int(n)
    return out


async def current_member_addresses(session: AsyncSession, body_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(Membership.address)
        .where(Membership.body_id == body_id, Membership.left_at.is_(None))
        .order_by(Membership.seq)
    )
    return list(rows)
