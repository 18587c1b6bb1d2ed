"""All SQL of the proposals service. Functions take the caller's session; none commits."""

from __future__ import annotations

import base64
import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit import InvalidInput, fetch_rows

from . import domain
from .models import (
    Body,
    Experiment,
    Feedback,
    FundAllocation,
    FundCommitmentEntry,
    Member,
    ModuleVersion,
    Organization,
    ProjectionMark,
    ProposalCount,
    ProposalVoter,
    Vote,
)
from .models import Policy as PolicyRow
from .models import Proposal as ProposalRow

# --- projection: organisations and bodies ---------------------------------------------------------


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.get(Organization, organization_id)


async def get_organization_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    return (await session.execute(select(Organization).where(Organization.slug == slug))).scalars().first()


async def insert_organization(session: AsyncSession, org: Organization) -> bool:
    values = org.model_dump()
    result = await session.execute(
        insert(Organization)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Organization.id)
    )
    return result.scalar_one_or_none() is not None


async def touch_organization(session: AsyncSession, organization_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(projection_updated_at=now, projection_version=Organization.projection_version + 1)
    )


async def projection_version(session: AsyncSession, organization_id: uuid.UUID) -> int:
    row = await session.execute(
        select(Organization.projection_version).where(Organization.id == organization_id)
    )
    return int(row.scalar_one_or_none() or 0)


async def set_cycle_schedule(
    session: AsyncSession,
    organization_id: uuid.UUID,
    from_cycle: int,
    starts_at: datetime,
    length_seconds: int,
) -> None:
    await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(cycle_anchor_index=from_cycle, cycle_anchor_at=starts_at, cycle_length_seconds=length_seconds)
    )


async def get_body(session: AsyncSession, body_id: uuid.UUID) -> Body | None:
    return await session.get(Body, body_id)


async def upsert_body(session: AsyncSession, body: Body) -> None:
    values = body.model_dump()
    stmt = insert(Body).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={"name": stmt.excluded.name, "parent_id": stmt.excluded.parent_id},
        )
    )


async def set_cell_state_status(session: AsyncSession, body_id: uuid.UUID, status: str) -> None:
    await session.execute(update(Body).where(Body.id == body_id).values(cell_state_status=status))


async def organization_view(session: AsyncSession, org: Organization) -> domain.OrganizationView:
    bodies = (await session.execute(select(Body).where(Body.organization_id == org.id))).scalars().all()
    return domain.OrganizationView(
        id=org.id,
        slug=org.slug,
        stakeholder_group_id=org.stakeholder_group_id,
        top_level_cell_id=org.top_level_cell_id,
        cycle_anchor_at=org.cycle_anchor_at,
        cycle_anchor_index=org.cycle_anchor_index,
        cycle_length_seconds=org.cycle_length_seconds,
        bodies={
            b.id: domain.BodyView(b.id, domain.BodyKind(b.kind), b.parent_id, b.is_top_level) for b in bodies
        },
    )


# --- projection: members --------------------------------------------------------------------------


async def upsert_member(session: AsyncSession, member: Member) -> None:
    stmt = insert(Member).values(**member.model_dump())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["body_id", "address"],
            set_={"role": stmt.excluded.role, "weight": stmt.excluded.weight},
        )
    )


async def delete_member(session: AsyncSession, body_id: uuid.UUID, address: str) -> None:
    await session.execute(delete(Member).where(Member.body_id == body_id, Member.address == address))


async def set_member_weight(session: AsyncSession, body_id: uuid.UUID, address: str, weight: Decimal) -> None:
    await session.execute(
        update(Member).where(Member.body_id == body_id, Member.address == address).values(weight=weight)
    )


async def actor_roles(session: AsyncSession, organization_id: uuid.UUID, address: str) -> domain.ActorRoles:
    rows = (
        await session.execute(
            select(Member.body_id, Member.role).where(
                Member.organization_id == organization_id, Member.address == address
            )
        )
    ).all()
    return domain.ActorRoles.of(address, [(r[0], r[1]) for r in rows])


async def members_of(session: AsyncSession, body_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, str]]:
    ids = list(body_ids)
    out: dict[uuid.UUID, dict[str, str]] = {b: {} for b in ids}
    if not ids:
        return out
    rows = (
        await session.execute(
            select(Member.body_id, Member.address, Member.role).where(Member.body_id.in_(ids))
        )
    ).all()
    for body_id, address, role in rows:
        out[body_id][address] = role
    return out


async def voting_members(session: AsyncSession, body_id: uuid.UUID) -> list[tuple[str, str, Decimal]]:
    rows = (
        await session.execute(
            select(Member.address, Member.role, Member.weight)
            .where(Member.body_id == body_id)
            .order_by(Member.address)
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def is_member(session: AsyncSession, body_id: uuid.UUID, address: str) -> bool:
    row = await session.execute(
        select(Member.role).where(Member.body_id == body_id, Member.address == address)
    )
    return row.scalar_one_or_none() is not None


# --- projection: funds ----------------------------------------------------------------------------


async def add_commitment(
    session: AsyncSession,
    organization_id: uuid.UUID,
    address: str,
    cycle: int,
    amount: Decimal,
    sequence: int | None,
) -> None:
    """Record one `funds.committed` event, unless a withdrawal later in the funds stream already took
    back this stakeholder's commitments to `cycle` (delivered out of order)."""
    if sequence is not None:
        withdrawn = await get_mark(session, _withdrawn_key(organization_id, address, cycle))
        if withdrawn is not None and withdrawn.sequence > sequence:
            return
    stmt = insert(FundCommitmentEntry).values(
        organization_id=organization_id, address=address, cycle=cycle, sequence=sequence or 0, amount=amount
    )
    if sequence is None:
        # without a sequence the entries cannot be told apart: they add up
        stmt = stmt.on_conflict_do_update(
            index_elements=["organization_id", "cycle", "address", "sequence"],
            set_={"amount": FundCommitmentEntry.amount + stmt.excluded.amount},
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)


async def withdraw_commitments(
    session: AsyncSession,
    organization_id: uuid.UUID,
    address: str,
    cycles: Sequence[int],
    sequence: int | None,
) -> None:
    """Take back the commitments to `cycles` made before this withdrawal (all of them without a
    sequence), and remember it so that an earlier commitment delivered later is not counted."""
    if not cycles:
        return
    for cycle in cycles:
        await advance_mark(session, _withdrawn_key(organization_id, address, cycle), sequence)
    stmt = delete(FundCommitmentEntry).where(
        FundCommitmentEntry.organization_id == organization_id,
        FundCommitmentEntry.address == address,
        FundCommitmentEntry.cycle.in_(list(cycles)),
    )
    if sequence is not None:
        stmt = stmt.where(FundCommitmentEntry.sequence < sequence)
    await session.execute(stmt)


def _withdrawn_key(organization_id: uuid.UUID, address: str, cycle: int) -> str:
    return f"withdrawn:{organization_id}:{address}:{cycle}"


async def advance_mark(
    session: AsyncSession, key: str, sequence: int | None, value: str | None = None
) -> bool:
    """Record event `sequence` as the latest applied to the fact `key` (with its `value`); False when a
    later one already was, so the caller applies nothing. Events without a sequence always apply."""
    if sequence is None:
        return True
    stmt = insert(ProjectionMark).values(key=key, sequence=sequence, value=value)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"sequence": stmt.excluded.sequence, "value": stmt.excluded.value},
        where=ProjectionMark.sequence < stmt.excluded.sequence,
    ).returning(ProjectionMark.key)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def get_mark(session: AsyncSession, key: str) -> ProjectionMark | None:
    return await session.get(ProjectionMark, key)


async def add_allocation(
    session: AsyncSession, organization_id: uuid.UUID, cycle: int, amount: Decimal
) -> None:
    stmt = insert(FundAllocation).values(organization_id=organization_id, cycle=cycle, allocated=amount)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["organization_id", "cycle"],
            set_={"allocated": FundAllocation.allocated + stmt.excluded.allocated},
        )
    )


async def available_funds(
    session: AsyncSession, organization_id: uuid.UUID, cycles: Iterable[int]
) -> dict[int, Decimal]:
    """Committed minus allocated, per cycle."""
    wanted = sorted(set(cycles))
    if not wanted:
        return {}
    committed = dict(
        (
            await session.execute(
                select(FundCommitmentEntry.cycle, func.sum(FundCommitmentEntry.amount))
                .where(
                    FundCommitmentEntry.organization_id == organization_id,
                    FundCommitmentEntry.cycle.in_(wanted),
                )
                .group_by(FundCommitmentEntry.cycle)
            )
        ).all()
    )
    allocated = dict(
        (
            await session.execute(
                select(FundAllocation.cycle, FundAllocation.allocated).where(
                    FundAllocation.organization_id == organization_id, FundAllocation.cycle.in_(wanted)
                )
            )
        ).all()
    )
    zero = Decimal(0)
    return {c: committed.get(c, zero) - allocated.get(c, zero) for c in wanted}


# --- policy ---------------------------------------------------------------------------------------


async def load_policy(
    session: AsyncSession, organization_id: uuid.UUID, *, lock: bool = False
) -> domain.Policy | None:
    stmt = select(PolicyRow).where(PolicyRow.organization_id == organization_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalars().first()
    if row is None:
        return None
    return domain.Policy(
        settings=domain.PolicySettings.from_dict(row.settings),
        overrides={k: dict(v) for k, v in row.overrides.items()},
        modules={k: domain.DecisionModule.from_dict(v) for k, v in row.modules.items()},
        layers=[domain.Layer.from_dict(layer) for layer in row.layers or []],
        variants={k: domain.DecisionModule.from_dict(v) for k, v in (row.variants or {}).items()},
        latest={k: int(v) for k, v in (row.latest or {}).items()},
    )


async def save_policy(
    session: AsyncSession,
    organization_id: uuid.UUID,
    policy: domain.Policy,
    changed: Sequence[domain.DecisionModule],
    proposal_id: uuid.UUID | None,
    now: datetime,
    *,
    cause: str = "PROPOSAL",
    experiment_id: uuid.UUID | None = None,
) -> None:
    """Store the policy and one version row per changed module (with why and what changed)."""
    values = {
        "settings": policy.settings.to_dict(),
        "overrides": policy.overrides,
        "modules": {k: m.to_dict() for k, m in policy.modules.items()},
        "layers": [layer.to_dict() for layer in policy.layers],
        "variants": {k: m.to_dict() for k, m in policy.variants.items()},
        "latest": policy.latest,
        "updated_at": now,
    }
    stmt = insert(PolicyRow).values(organization_id=organization_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["organization_id"], set_=values))
    for module in changed:
        await session.execute(
            insert(ModuleVersion)
            .values(
                organization_id=organization_id,
                key=module.key,
                version=module.version,
                module=module.to_dict(),
                proposal_id=proposal_id,
                created_at=now,
                cause=cause,
                experiment_id=experiment_id,
                changes=policy.diffs.get((module.key, module.version), {}),
            )
            .on_conflict_do_nothing()
        )


# --- proposals ------------------------------------------------------------------------------------


def to_domain(row: Any) -> domain.Proposal:
    """From an ORM row or a plain row of the table's columns."""
    return domain.Proposal(
        id=row.id,
        organization_id=row.organization_id,
        organization_slug=row.organization_slug,
        kind=domain.Kind(row.kind),
        title=row.title,
        description=row.description,
        body_id=row.body_id,
        deciding_body_id=row.deciding_body_id,
        reviewing_body_id=row.reviewing_body_id,
        proposer=row.proposer,
        created_at=row.created_at,
        voting_ends_at=row.voting_ends_at,
        module=domain.DecisionModule.from_dict(row.module),
        actions=tuple(domain.action_from_dict(a) for a in row.actions),
        _status=domain.Status(row.status),
        tally=domain.Tally(row.for_weight, row.against_weight, row.abstain_weight, row.eligible_weight),
        voter_count=row.voter_count,
        vote_count=row.vote_count,
        history=[domain.HistoryEntry.from_dict(h) for h in row.history],
        voting_closed_at=row.voting_closed_at,
        outcome=domain.Outcome(row.outcome) if row.outcome else None,
        review_id=row.review_id,
        review_ends_at=row.review_ends_at,
        enact_after=row.enact_after,
        enactment_requested_at=row.enactment_requested_at,
        failure_reason=row.failure_reason,
        cancelled_by=row.cancelled_by,
        updated_at=row.updated_at,
        voting_starts_at=row.voting_starts_at or row.created_at,
        voters_taken_at=row.voters_taken_at,
        appeal_of=row.appeal_of,
        appealed_by=row.appealed_by,
    )


def _row_values(p: domain.Proposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "organization_id": p.organization_id,
        "organization_slug": p.organization_slug,
        "kind": str(p.kind),
        "status": str(p.status),
        "title": p.title,
        "description": p.description,
        "body_id": p.body_id,
        "deciding_body_id": p.deciding_body_id,
        "reviewing_body_id": p.reviewing_body_id,
        "proposer": p.proposer,
        "created_at": p.created_at,
        "updated_at": p.updated_at or p.created_at,
        "voting_ends_at": p.voting_ends_at,
        "voting_closed_at": p.voting_closed_at,
        "outcome": str(p.outcome) if p.outcome else None,
        "review_id": p.review_id,
        "review_ends_at": p.review_ends_at,
        "enact_after": p.enact_after,
        "enactment_requested_at": p.enactment_requested_at,
        "failure_reason": p.failure_reason,
        "cancelled_by": p.cancelled_by,
        "module_key": p.module.key,
        "module_version": p.module.version,
        "module": p.module.to_dict(),
        "actions": p.actions_as_dicts(),
        "history": [h.to_dict() for h in p.history],
        "for_weight": p.tally.for_,
        "against_weight": p.tally.against,
        "abstain_weight": p.tally.abstain,
        "eligible_weight": p.tally.eligible,
        "voter_count": p.voter_count,
        "vote_count": p.vote_count,
        "voting_starts_at": p.voting_starts_at or p.created_at,
        "voters_taken_at": p.voters_taken_at,
        "appeal_of": p.appeal_of,
        "appealed_by": p.appealed_by,
        "experiment_id": p.module.experiment_id,
    }


async def _count(session: AsyncSession, p: domain.Proposal, status: str, delta: int) -> None:
    stmt = insert(ProposalCount).values(
        organization_id=p.organization_id, body_id=p.body_id, kind=str(p.kind), status=status, count=delta
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["organization_id", "body_id", "kind", "status"],
            set_={"count": ProposalCount.count + delta},
        )
    )


async def insert_proposal(session: AsyncSession, p: domain.Proposal, voters: Sequence[domain.Voter]) -> None:
    await session.execute(insert(ProposalRow).values(**_row_values(p)))
    if voters:
        await session.execute(
            insert(ProposalVoter),
            [{"proposal_id": p.id, "address": v.address, "weight": v.weight} for v in voters],
        )
    await _count(session, p, str(p.status), 1)


async def save_proposal(session: AsyncSession, p: domain.Proposal, previous_status: domain.Status) -> None:
    values = _row_values(p)
    # the immutable parts never change after creation
    for key in ("id", "organization_id", "organization_slug", "kind", "title", "description", "body_id",
                "deciding_body_id", "reviewing_body_id", "proposer", "created_at", "module_key",
                "module_version", "module", "actions", "voting_ends_at", "voting_starts_at",
                "appeal_of", "experiment_id"):  # fmt: skip
        values.pop(key)
    await session.execute(update(ProposalRow).where(ProposalRow.id == p.id).values(**values))
    if p.status is not previous_status:
        await _count(session, p, str(previous_status), -1)
        await _count(session, p, str(p.status), 1)


async def load_proposal(
    session: AsyncSession, proposal_id: uuid.UUID, *, lock: bool = False
) -> domain.Proposal | None:
    if lock:
        # the lock must be taken inside the session's transaction, which only SQLAlchemy has begun
        return await lock_proposal(session, proposal_id)
    rows = await fetch_rows(session, f"{_PROPOSAL_SELECT} WHERE id = $1", proposal_id)
    return to_domain(ProposalRecord(*rows[0])) if rows else None


async def insert_voters(
    session: AsyncSession, proposal_id: uuid.UUID, voters: Sequence[domain.Voter]
) -> None:
    """The snapshot taken when voting opens after a feedback window."""
    if voters:
        await session.execute(
            insert(ProposalVoter).on_conflict_do_nothing(),
            [{"proposal_id": proposal_id, "address": v.address, "weight": v.weight} for v in voters],
        )


async def experiment_statuses(
    session: AsyncSession, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Experiment.id, Experiment.status).where(
            Experiment.organization_id == organization_id, Experiment.id.in_(wanted)
        )
    )
    return {r[0]: r[1] for r in rows.all()}


# --- feedback -------------------------------------------------------------------------------------


async def insert_feedback(session: AsyncSession, proposal_id: uuid.UUID, entry: domain.FeedbackEntry) -> None:
    await session.execute(
        insert(Feedback).values(
            id=entry.id,
            proposal_id=proposal_id,
            commission_id=entry.commission_id,
            author=entry.author,
            text=entry.text,
            given_at=entry.given_at,
        )
    )


async def list_feedback(session: AsyncSession, proposal_id: uuid.UUID) -> list[domain.FeedbackEntry]:
    """Oldest first; at most 1000 (a commission has a few dozen seats)."""
    rows = (
        await session.execute(
            select(Feedback)
            .where(Feedback.proposal_id == proposal_id)
            .order_by(Feedback.given_at, Feedback.id)
            .limit(1000)
        )
    ).scalars()
    return [domain.FeedbackEntry(r.id, r.commission_id, r.author, r.text, r.given_at) for r in rows]


# The hot reads (pages, batches) go straight to asyncpg (`kit.fetch_rows`) with the columns they need;
# `to_domain` reads the rows' attributes either way.
_PROPOSALS_TABLE: str = ProposalRow.__tablename__  # type: ignore[assignment]
_PROPOSAL_NAMES = [c.name for c in ProposalRow.__table__.columns]  # type: ignore[attr-defined]
_PROPOSAL_SELECT = f"SELECT {', '.join(_PROPOSAL_NAMES)} FROM {_PROPOSALS_TABLE}"
ProposalRecord = namedtuple("ProposalRecord", _PROPOSAL_NAMES)  # type: ignore[misc]
VoteRecord = namedtuple("VoteRecord", ["voter", "choice", "weight", "reason", "cast_at"])
_COUNTS_TABLE: str = ProposalCount.__tablename__  # type: ignore[assignment]


async def get_proposal_rows(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
    if not ids:
        return []
    rows = await fetch_rows(session, f"{_PROPOSAL_SELECT} WHERE id = ANY($1::uuid[])", list(ids))
    return [ProposalRecord(*row) for row in rows]


# --- votes ----------------------------------------------------------------------------------------
# A vote is three statements in plain SQL (the ORM cost more than the database did): lock the proposal,
# read the voter's standing, write the vote and the tally. The standing is read in a statement of its
# own, started once the lock is held: under READ COMMITTED a statement sees the data committed when it
# started, so a read in the locking statement itself could miss the vote (and the snapshot) of the
# transaction it waited for.

_LOCK_PROPOSAL = text(f"{_PROPOSAL_SELECT} WHERE id = :id FOR UPDATE")
_VOTER_STANDING = text(
    """
    SELECT snapshot.weight AS snapshot_weight,
           EXISTS (SELECT 1 FROM members WHERE body_id = :body_id AND address = :voter) AS still_member,
           previous.choice, previous.weight, previous.reason, previous.cast_at
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN proposal_voters AS snapshot ON snapshot.proposal_id = :id AND snapshot.address = :voter
    LEFT JOIN votes AS previous ON previous.proposal_id = :id AND previous.voter = :voter
    """
)
_RECORD_VOTE = text(
    """
    WITH vote AS (
        INSERT INTO votes (proposal_id, voter, choice, weight, reason, cast_at)
        VALUES (:id, :voter, :choice, :weight, :reason, :cast_at)
        ON CONFLICT (proposal_id, voter)
        DO UPDATE SET choice = EXCLUDED.choice, reason = EXCLUDED.reason, cast_at = EXCLUDED.cast_at
    )
    UPDATE proposals
    SET for_weight = :for_weight, against_weight = :against_weight, abstain_weight = :abstain_weight,
        vote_count = :vote_count, updated_at = :updated_at
    WHERE id = :id
    """
)


@dataclass(frozen=True)
class VoterStanding:
    """What a vote is checked against: the voter's weight in the snapshot taken when voting opened
    (None: not a voter then), whether they still sit in the deciding body, and their vote so far."""

    weight: Decimal | None
    still_member: bool
    previous: domain.Vote | None


async def lock_proposal(session: AsyncSession, proposal_id: uuid.UUID) -> domain.Proposal | None:
    """The proposal, locked until commit (votes on one proposal wait for each other)."""
    row = (await session.execute(_LOCK_PROPOSAL, {"id": proposal_id})).first()
    return to_domain(row) if row else None  # a Row has the attributes of the ORM row


async def voter_standing(session: AsyncSession, p: domain.Proposal, voter: str) -> VoterStanding:
    row = (
        await session.execute(_VOTER_STANDING, {"id": p.id, "body_id": p.deciding_body_id, "voter": voter})
    ).one()
    previous = (
        domain.Vote(voter, domain.Choice(row.choice), row.weight, row.reason, row.cast_at)
        if row.choice is not None
        else None
    )
    return VoterStanding(row.snapshot_weight, bool(row.still_member), previous)


async def record_vote(session: AsyncSession, p: domain.Proposal, vote: domain.Vote) -> None:
    """Insert or replace the voter's vote and store the proposal's tally after it (the caller holds the
    proposal's lock, so the tally it computed is exact)."""
    await session.execute(
        _RECORD_VOTE,
        {
            "id": p.id,
            "voter": vote.voter,
            "choice": str(vote.choice),
            "weight": vote.weight,
            "reason": vote.reason,
            "cast_at": vote.cast_at,
            "for_weight": p.tally.for_,
            "against_weight": p.tally.against,
            "abstain_weight": p.tally.abstain,
            "vote_count": p.vote_count,
            "updated_at": p.updated_at,
        },
    )


# --- pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total_count: int
    end_cursor: str | None
    has_next_page: bool


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not a cursor of this list", field="after") from None
    if len(parts) != n:
        raise InvalidInput("not a cursor of this list", field="after")
    return parts


def _cursor_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("not a cursor of this list", field="after") from None


def _cursor_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput("not a cursor of this list", field="after") from None


async def list_proposals(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    statuses: Sequence[str],
    kind: str | None,
    body_id: uuid.UUID | None,
    first: int,
    after: str | None,
) -> Page:
    """Newest first, keyset-paginated on (created_at, id); the total comes from the counter table."""
    args: list[Any] = [organization_id]
    conditions = ["organization_id = $1"]
    if statuses:
        args.append(list(statuses))
        conditions.append(f"status = ANY(${len(args)}::text[])")
    if kind:
        args.append(kind)
        conditions.append(f"kind = ${len(args)}")
    if body_id:
        args.append(body_id)
        conditions.append(f"body_id = ${len(args)}")
    where = " AND ".join(conditions)
    count_args = list(args)
    if after:
        at, pid = decode_cursor(after, 2)
        args += [_cursor_time(at), _cursor_uuid(pid)]
        where_page = f"{where} AND (created_at, id) < (${len(args) - 1}, ${len(args)})"
    else:
        where_page = where
    args.append(first + 1)
    total = (
        await fetch_rows(
            session, f"SELECT coalesce(sum(count), 0) FROM {_COUNTS_TABLE} WHERE {where}", *count_args
        )
    )[0][0]
    rows = [
        ProposalRecord(*row)
        for row in await fetch_rows(
            session,
            f"{_PROPOSAL_SELECT} WHERE {where_page} ORDER BY created_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
    ]
    has_next = len(rows) > first
    rows = rows[:first]
    end = encode_cursor(rows[-1].created_at.isoformat(), str(rows[-1].id)) if rows else None
    return Page(rows, int(total), end, has_next)


async def list_votes(session: AsyncSession, proposal_id: uuid.UUID, *, first: int, after: str | None) -> Page:
    """Newest first on (cast_at, voter)."""
    args: list[Any] = [proposal_id]
    condition = "proposal_id = $1"
    if after:
        at, voter = decode_cursor(after, 2)
        args += [_cursor_time(at), voter]
        condition += " AND (cast_at < $2 OR (cast_at = $2 AND voter < $3))"
    args.append(first + 1)
    rows = [
        VoteRecord(*row)
        for row in await fetch_rows(
            session,
            f"SELECT voter, choice, weight, reason, cast_at FROM {Vote.__tablename__} WHERE {condition} "
            f"ORDER BY cast_at DESC, voter DESC LIMIT ${len(args)}",
            *args,
        )
    ]
    found = await fetch_rows(session, f"SELECT vote_count FROM {_PROPOSALS_TABLE} WHERE id = $1", proposal_id)
    total = (found[0][0] if found else 0) or 0
    has_next = len(rows) > first
    rows = rows[:first]
    end = encode_cursor(rows[-1].cast_at.isoformat(), rows[-1].voter) if rows else None
    return Page(rows, int(total), end, has_next)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.execute(
            select(ProposalCount.status, func.sum(ProposalCount.count)).group_by(ProposalCount.status)
        )
    ).all()
    return {status: int(n) for status, n in rows if n}
