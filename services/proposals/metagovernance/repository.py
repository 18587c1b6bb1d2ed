"""All SQL of experiments, polls, milestones and the module registry. Functions take the caller's
session; none commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import domain
from ..domain.milestones import Milestone as MilestoneDomain
from ..domain.milestones import MilestoneGraph
from ..domain.polls import Poll as PollDomain
from ..models import Experiment, Member, Milestone, ModuleVersion, Poll, PollAnswer
from ..models import Proposal as ProposalRow
from ..repository import Page, _cursor_time, _cursor_uuid, decode_cursor, encode_cursor

# --- experiments ----------------------------------------------------------------------------------


def _experiment(row: Experiment) -> domain.Experiment:
    return domain.Experiment(
        id=row.id,
        organization_id=row.organization_id,
        organization_slug=row.organization_slug,
        proposal_id=row.proposal_id,
        hypothesis=row.hypothesis,
        success_measures=tuple(row.success_measures),
        body_ids=tuple(uuid.UUID(b) for b in row.body_ids),
        overrides={k: dict(v) for k, v in row.overrides.items()},
        status=domain.ExperimentStatus(row.status),
        started_at=row.started_at,
        ends_at=row.ends_at,
        cycles=row.cycles,
        renewals=list(row.renewals),
        ended_at=row.ended_at,
        figures=row.figures,
        baseline=row.baseline,
        retrospective=row.retrospective,
        retrospective_by=row.retrospective_by,
        retrospective_at=row.retrospective_at,
    )


async def save_experiment(session: AsyncSession, e: domain.Experiment) -> None:
    values = {
        "organization_id": e.organization_id,
        "organization_slug": e.organization_slug,
        "proposal_id": e.proposal_id,
        "hypothesis": e.hypothesis,
        "success_measures": list(e.success_measures),
        "body_ids": [str(b) for b in e.body_ids],
        "overrides": e.overrides,
        "status": str(e.status),
        "started_at": e.started_at,
        "ends_at": e.ends_at,
        "cycles": e.cycles,
        "renewals": e.renewals,
        "ended_at": e.ended_at,
        "figures": e.figures,
        "baseline": e.baseline,
        "retrospective": e.retrospective,
        "retrospective_by": e.retrospective_by,
        "retrospective_at": e.retrospective_at,
    }
    stmt = insert(Experiment).values(id=e.id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


async def load_experiment(
    session: AsyncSession, experiment_id: uuid.UUID, *, lock: bool = False
) -> domain.Experiment | None:
    stmt = select(Experiment).where(Experiment.id == experiment_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalars().first()
    return _experiment(row) if row else None


async def list_experiments(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    statuses: Sequence[str],
    first: int,
    after: str | None,
) -> Page:
    """Newest first on (started_at, id)."""
    conditions: list[Any] = [Experiment.organization_id == organization_id]
    if statuses:
        conditions.append(Experiment.status.in_(list(statuses)))
    total = (
        await session.execute(select(func.count()).select_from(Experiment).where(*conditions))
    ).scalar_one()
    if after:
        at, eid = decode_cursor(after, 2)
        conditions.append(
            tuple_(Experiment.started_at, Experiment.id) < tuple_(_cursor_time(at), _cursor_uuid(eid))
        )
    rows = list(
        (
            await session.execute(
                select(Experiment)
                .where(and_(*conditions))
                .order_by(Experiment.started_at.desc(), Experiment.id.desc())
                .limit(first + 1)
            )
        ).scalars()
    )
    has_next = len(rows) > first
    rows = rows[:first]
    end = encode_cursor(rows[-1].started_at.isoformat(), str(rows[-1].id)) if rows else None
    return Page([_experiment(r) for r in rows], int(total), end, has_next)


def _record(row: Any) -> domain.ProposalRecord:
    closed = row.voting_closed_at is not None
    return domain.ProposalRecord(
        status=row.status,
        created_at=row.created_at,
        history=[(h["status"], datetime.fromisoformat(h["at"].replace("Z", "+00:00"))) for h in row.history],
        participating=(row.for_weight + row.against_weight + row.abstain_weight) if closed else None,
        eligible=row.eligible_weight if closed else None,
    )


_RECORD_COLUMNS = (
    ProposalRow.status,
    ProposalRow.created_at,
    ProposalRow.history,
    ProposalRow.voting_closed_at,
    ProposalRow.for_weight,
    ProposalRow.against_weight,
    ProposalRow.abstain_weight,
    ProposalRow.eligible_weight,
)
# a retrospective measures a bounded sample; an experiment raising more is measured on its first ones
MAX_MEASURED = 5_000


async def experiment_records(session: AsyncSession, experiment_id: uuid.UUID) -> list[domain.ProposalRecord]:
    rows = await session.execute(
        select(*_RECORD_COLUMNS)
        .where(ProposalRow.experiment_id == experiment_id)
        .order_by(ProposalRow.created_at)
        .limit(MAX_MEASURED)
    )
    return [_record(r) for r in rows.all()]


async def baseline_records(
    session: AsyncSession,
    organization_id: uuid.UUID,
    module_keys: Sequence[str],
    since: datetime,
    until: datetime,
    experiment_id: uuid.UUID,
) -> list[domain.ProposalRecord]:
    """The same modules' other proposals raised while the experiment ran: its comparison."""
    rows = await session.execute(
        select(*_RECORD_COLUMNS)
        .where(
            ProposalRow.organization_id == organization_id,
            ProposalRow.module_key.in_(list(module_keys)),
            ProposalRow.created_at >= since,
            ProposalRow.created_at < until,
            (ProposalRow.experiment_id.is_(None)) | (ProposalRow.experiment_id != experiment_id),
        )
        .order_by(ProposalRow.created_at)
        .limit(MAX_MEASURED)
    )
    return [_record(r) for r in rows.all()]


# --- the module registry --------------------------------------------------------------------------


async def module_history(
    session: AsyncSession, organization_id: uuid.UUID, keys: Sequence[str] | None = None
) -> list[ModuleVersion]:
    """Every version row of the organisation's modules (of `keys` if given), by key then version."""
    stmt = select(ModuleVersion).where(ModuleVersion.organization_id == organization_id)
    if keys:
        stmt = stmt.where(ModuleVersion.key.in_(list(keys)))
    return list((await session.execute(stmt.order_by(ModuleVersion.key, ModuleVersion.version))).scalars())


async def modules_changed_since(
    session: AsyncSession, organization_id: uuid.UUID, keys: Iterable[str], since: datetime
) -> frozenset[str]:
    """The module keys an enacted proposal changed at or after `since`."""
    wanted = list(keys)
    if not wanted:
        return frozenset()
    rows = await session.execute(
        select(ModuleVersion.key)
        .where(
            ModuleVersion.organization_id == organization_id,
            ModuleVersion.key.in_(wanted),
            ModuleVersion.proposal_id.is_not(None),
            ModuleVersion.created_at >= since,
        )
        .distinct()
    )
    return frozenset(r[0] for r in rows.all())


# --- polls ----------------------------------------------------------------------------------------


def _poll(row: Poll) -> PollDomain:
    return PollDomain(
        id=row.id,
        organization_id=row.organization_id,
        organization_slug=row.organization_slug,
        body_id=row.body_id,
        question=row.question,
        options=tuple(row.options),
        multiple=row.multiple,
        created_by=row.created_by,
        created_at=row.created_at,
        closes_at=row.closes_at,
        proposal_id=row.proposal_id,
        closed_at=row.closed_at,
        counts=[int(c) for c in row.counts],
        voter_count=row.voter_count,
    )


async def insert_poll(session: AsyncSession, p: PollDomain) -> None:
    await session.execute(
        insert(Poll).values(
            id=p.id,
            organization_id=p.organization_id,
            organization_slug=p.organization_slug,
            body_id=p.body_id,
            proposal_id=p.proposal_id,
            question=p.question,
            options=list(p.options),
            multiple=p.multiple,
            created_by=p.created_by,
            created_at=p.created_at,
            closes_at=p.closes_at,
            counts=p.counts,
            voter_count=p.voter_count,
        )
    )


async def save_poll(session: AsyncSession, p: PollDomain) -> None:
    await session.execute(
        update(Poll)
        .where(Poll.id == p.id)
        .values(proposal_id=p.proposal_id, closed_at=p.closed_at, counts=p.counts, voter_count=p.voter_count)
    )


async def load_poll(session: AsyncSession, poll_id: uuid.UUID, *, lock: bool = False) -> PollDomain | None:
    stmt = select(Poll).where(Poll.id == poll_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalars().first()
    return _poll(row) if row else None


async def get_answer(session: AsyncSession, poll_id: uuid.UUID, voter: str) -> list[int] | None:
    row = await session.execute(
        select(PollAnswer.choices).where(PollAnswer.poll_id == poll_id, PollAnswer.voter == voter)
    )
    found = row.scalar_one_or_none()
    return None if found is None else [int(c) for c in found]


async def upsert_answer(
    session: AsyncSession, poll_id: uuid.UUID, voter: str, choices: Sequence[int], now: datetime
) -> None:
    stmt = insert(PollAnswer).values(poll_id=poll_id, voter=voter, choices=list(choices), answered_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["poll_id", "voter"],
            set_={"choices": stmt.excluded.choices, "answered_at": stmt.excluded.answered_at},
        )
    )


async def list_polls(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    proposal_id: uuid.UUID | None,
    first: int,
    after: str | None,
) -> Page:
    """Newest first on (created_at, id)."""
    conditions: list[Any] = [Poll.organization_id == organization_id]
    if proposal_id is not None:
        conditions.append(Poll.proposal_id == proposal_id)
    total = (await session.execute(select(func.count()).select_from(Poll).where(*conditions))).scalar_one()
    if after:
        at, pid = decode_cursor(after, 2)
        conditions.append(tuple_(Poll.created_at, Poll.id) < tuple_(_cursor_time(at), _cursor_uuid(pid)))
    rows = list(
        (
            await session.execute(
                select(Poll)
                .where(and_(*conditions))
                .order_by(Poll.created_at.desc(), Poll.id.desc())
                .limit(first + 1)
            )
        ).scalars()
    )
    has_next = len(rows) > first
    rows = rows[:first]
    end = encode_cursor(rows[-1].created_at.isoformat(), str(rows[-1].id)) if rows else None
    return Page([_poll(r) for r in rows], int(total), end, has_next)


async def polls_of_proposals(session: AsyncSession, proposal_ids: Sequence[uuid.UUID]) -> list[PollDomain]:
    if not proposal_ids:
        return []
    rows = await session.execute(
        select(Poll).where(Poll.proposal_id.in_(list(proposal_ids))).order_by(Poll.created_at).limit(1000)
    )
    return [_poll(r) for r in rows.scalars()]


async def is_organization_member(
    session: AsyncSession, organization_id: uuid.UUID, address: str, body_id: uuid.UUID | None = None
) -> bool:
    stmt = select(Member.address).where(Member.organization_id == organization_id, Member.address == address)
    if body_id is not None:
        stmt = stmt.where(Member.body_id == body_id)
    return (await session.execute(stmt.limit(1))).first() is not None


# --- milestones -----------------------------------------------------------------------------------


async def load_milestones(
    session: AsyncSession, organization_id: uuid.UUID, *, lock: bool = False
) -> MilestoneGraph:
    stmt = (
        select(Milestone)
        .where(Milestone.organization_id == organization_id)
        .order_by(Milestone.created_at, Milestone.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    graph = MilestoneGraph()
    for row in (await session.execute(stmt)).scalars():
        graph.milestones[row.id] = MilestoneDomain(
            id=row.id,
            phase=row.phase,
            title=row.title,
            description=row.description,
            depends_on=[uuid.UUID(d) for d in row.depends_on],
            module_keys=list(row.module_keys),
            proposal_ids=[uuid.UUID(p) for p in row.proposal_ids],
            created_by=row.created_by,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )
    return graph


async def save_milestones(
    session: AsyncSession,
    organization_id: uuid.UUID,
    organization_slug: str,
    milestones: Iterable[MilestoneDomain],
) -> None:
    for m in milestones:
        values = {
            "organization_id": organization_id,
            "organization_slug": organization_slug,
            "phase": m.phase,
            "title": m.title,
            "description": m.description,
            "depends_on": [str(d) for d in m.depends_on],
            "module_keys": list(m.module_keys),
            "proposal_ids": [str(p) for p in m.proposal_ids],
            "created_by": m.created_by,
            "created_at": m.created_at,
            "completed_at": m.completed_at,
        }
        stmt = insert(Milestone).values(id=m.id, **values)
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


async def milestone_organization(session: AsyncSession, milestone_id: uuid.UUID) -> uuid.UUID | None:
    row = await session.execute(select(Milestone.organization_id).where(Milestone.id == milestone_id))
    return row.scalar_one_or_none()


async def has_open_milestones(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    """Whether the organisation has a milestone not yet completed (else nothing to re-evaluate)."""
    row = await session.execute(
        select(Milestone.id)
        .where(Milestone.organization_id == organization_id, Milestone.completed_at.is_(None))
        .limit(1)
    )
    return row.first() is not None


async def enacted(session: AsyncSession, proposal_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bool]:
    wanted = list(set(proposal_ids))
    if not wanted:
        return {}
    rows = await session.execute(select(ProposalRow.id, ProposalRow.status).where(ProposalRow.id.in_(wanted)))
    return {r[0]: r[1] == "ENACTED" for r in rows.all()}


async def proposals_in_organization(
    session: AsyncSession, organization_id: uuid.UUID, proposal_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    wanted = list(set(proposal_ids))
    if not wanted:
        return set()
    rows = await session.execute(
        select(ProposalRow.id).where(
            ProposalRow.id.in_(wanted), ProposalRow.organization_id == organization_id
        )
    )
    return {r[0] for r in rows.all()}
