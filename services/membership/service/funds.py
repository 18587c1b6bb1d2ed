"""Funds and the right of exit: commitments per cycle, the treasury, leaving a body."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kit import AlreadyExited, Forbidden, NotFound

from .. import domain, events, repository, schemas
from ..models import Commitment
from .common import ServiceBase, ref, schedule_of


class Funds(ServiceBase):
    async def treasury(self, session: AsyncSession, slug: str) -> schemas.Treasury:
        org = await self._org_by_slug(session, slug)
        now = self.clock.now()
        schedule = schedule_of(org)
        cycle = schedule.current(now)
        total, allocated = await repository.ledger(session, org.id, cycle)
        committed = total if schedule.has_started(cycle, now) else Decimal(0)
        starts = schedule.starts_at(cycle)
        return schemas.Treasury(
            current_cycle=cycle,
            cycle_starts_at=starts,
            cycle_ends_at=starts + timedelta(seconds=schedule.length_of(cycle)),
            committed=domain.format_amount(committed),
            allocated=domain.format_amount(allocated),
            available=domain.format_amount(committed - allocated),
        )

    async def commit_funds(
        self, session: AsyncSession, actor: str, slug: str, data: schemas.CommitInput
    ) -> schemas.Commitment:
        """A current stakeholder puts funds in the current cycle (committed: they stay with the project)
        or a later one (pledged: taken back on exit until that cycle starts)."""
        org = await self._org_by_slug(session, slug)
        amount = domain.parse_amount(data.amount)
        now = self.clock.now()
        schedule = schedule_of(org)
        domain.check_commit_cycle(schedule, data.cycle, now)
        # the lock orders this against a concurrent exit: no pledge can slip in after the refund
        membership = await repository.current_membership(session, org.stakeholder_group_id, actor, lock=True)
        if membership is None:
            raise Forbidden("only current stakeholders commit funds")
        commitment = Commitment(
            id=uuid.uuid4(),
            organization_id=org.id,
            address=actor,
            cycle=data.cycle,
            amount=amount,
            created_at=now,
        )
        await repository.insert_commitment(session, commitment)
        status = domain.commitment_status(schedule, data.cycle, now, withdrawn=False)
        await self._emit(
            session,
            events.funds_committed(
                ref(org), address=actor, cycle=data.cycle, amount=amount, status=status, now=now
            ),
        )
        if self._weighting(org) == domain.StakeholderWeighting.COMMITTED_FUNDS:
            weight = (await repository.pledged_totals(session, org.id, [actor]))[actor]
            await self._emit(
                session,
                events.weight_changed(
                    ref(org), body_id=org.stakeholder_group_id, address=actor, weight=weight, now=now
                ),
            )
        return schemas.Commitment(
            id=str(commitment.id),
            address=domain.checksum(actor),
            cycle=data.cycle,
            amount=domain.format_amount(amount),
            status=status,
            created_at=now,
        )

    async def leave_body(self, session: AsyncSession, actor: str, body_id: str) -> schemas.LeaveResult:
        """Right of exit: any member leaves any body, at any time; a stakeholder takes back what is
        pledged to cycles that have not started."""
        body = await self._body(session, domain.parse_uuid(body_id, field="bodyId"))
        org = await self._org(session, body.organization_id)
        membership = await repository.current_membership(session, body.id, actor, lock=True)
        if membership is None:
            if await repository.ever_member(session, body.id, actor):
                raise AlreadyExited("you have already left this body")
            raise NotFound("you are not a member of this body", field="bodyId")
        withdrawn, cycles = await self._leave(session, org, body, membership, "EXIT", None, self.clock.now())
        return schemas.LeaveResult(withdrawn=domain.format_amount(withdrawn), cycles=list(cycles))
