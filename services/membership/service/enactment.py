"""Enacted proposals: the membership actions they carry, and the policy settings membership follows."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Conflict, DomainError, Envelope, InvalidInput, NotFound

from .. import domain, events, repository
from ..domain import BodyKind, CellState, Role
from ..events import OrgRef
from ..models import AppliedProposal, Body, Budget, Organization
from .common import ServiceBase, ref, schedule_of

log = logging.getLogger("membership.enactment")


class Enactments(ServiceBase):
    async def apply_enactment(self, session: AsyncSession, envelope: Envelope) -> None:
        """Apply a proposal's membership actions all together or not at all, and say which.

        A repeat of the request (a duplicate with a new event id) applies nothing and repeats the
        recorded outcome, so the proposal still gets its answer.
        """
        data = envelope.data
        now = self.clock.now()
        try:
            proposal_id = domain.parse_uuid(data.get("proposalId"), field="proposalId")
            org_id = domain.parse_uuid(data.get("organizationId"), field="organizationId")
        except InvalidInput:
            log.error("enactment request without proposal or organisation", extra={"event_id": envelope.id})
            return
        org = await repository.get_organization(session, id=org_id)
        org_ref = ref(org) if org else OrgRef(org_id, str(data.get("organization", envelope.organization)))
        previous = await repository.get_applied(session, proposal_id)
        if previous is not None:
            await self._emit(session, self._outcome_event(org_ref, previous, now))
            return
        applied = AppliedProposal(
            proposal_id=proposal_id, organization_id=org_id, outcome="APPLIED", applied_at=now
        )
        try:
            if org is None:
                raise NotFound("unknown organisation")
            async with session.begin_nested():
                actions = domain.parse_actions(data.get("actions", []))
                created = await self._apply_actions(session, org, proposal_id, actions, now)
                applied.created_body_ids = [str(c) for c in created]
        except DomainError as exc:
            applied.outcome = "REJECTED"
            applied.reason = f"{exc.code}: {exc.message}"
        await repository.insert_applied(session, applied)
        await self._emit(session, self._outcome_event(org_ref, applied, now))

    async def apply_policy_update(self, session: AsyncSession, envelope: Envelope) -> None:
        """Follow a `POLICY` proposal's new settings (proposals owns them; `policy.updated`).

        Membership acts on two of them: a new cycle length takes effect at the next cycle boundary
        (counted from when the change was enacted, the event's time), and a new stakeholder weighting
        re-announces every stakeholder's weight. Applying the same settings twice changes nothing.
        """
        data = envelope.data
        try:
            org_id = domain.parse_uuid(data.get("organizationId"), field="organizationId")
            incoming = data.get("policy") or {}
            if not isinstance(incoming, dict):
                raise InvalidInput("policy must be an object", field="policy")
            # only the settings membership knows; proposals may announce more
            policy = domain.effective_policy(
                {k: v for k, v in incoming.items() if k in domain.DEFAULT_POLICY}
            )
        except InvalidInput as exc:
            log.error("unusable policy update", extra={"event_id": envelope.id, "error": exc.message})
            return
        org = await repository.get_organization(session, id=org_id, lock=True)
        if org is None:
            return
        now = self.clock.now()
        schedule = schedule_of(org)
        rescheduled = schedule.with_length(int(policy["cycleLengthSeconds"]), envelope.time)
        old_weighting = self._weighting(org)
        await repository.update_policy(
            session, org.id, policy=policy, cycle_segments=[s.to_dict() for s in rescheduled.segments]
        )
        if rescheduled != schedule:
            segment = rescheduled.latest
            await self._emit(
                session,
                events.cycles_changed(
                    ref(org),
                    from_cycle=segment.first_cycle,
                    starts_at=segment.starts_at,
                    cycle_length_seconds=segment.length_seconds,
                    now=now,
                ),
            )
        new_weighting = str(policy["stakeholderWeighting"])
        if new_weighting != old_weighting:
            addresses = await repository.current_stakeholders(session, org.stakeholder_group_id)
            pledged = await repository.pledged_totals(session, org.id, addresses) if addresses else {}
            for address in addresses:
                before = domain.weight_of(Role.STAKEHOLDER, old_weighting, pledged[address])
                after = domain.weight_of(Role.STAKEHOLDER, new_weighting, pledged[address])
                if before != after:
                    await self._emit(
                        session,
                        events.weight_changed(
                            ref(org), body_id=org.stakeholder_group_id, address=address, weight=after, now=now
                        ),
                    )

    @staticmethod
    def _outcome_event(org: OrgRef, applied: AppliedProposal, now: datetime) -> Envelope:
        if applied.outcome == "APPLIED":
            created = [uuid.UUID(c) for c in applied.created_body_ids]
            return events.actions_applied(
                org, proposal_id=applied.proposal_id, created_body_ids=created, now=now
            )
        code, _, message = (applied.reason or "CONFLICT: rejected").partition(": ")
        return events.actions_rejected(
            org, proposal_id=applied.proposal_id, reason=message, code=code, now=now
        )

    async def _apply_actions(
        self,
        session: AsyncSession,
        org: Organization,
        proposal_id: uuid.UUID,
        actions: Sequence[domain.Action],
        now: datetime,
    ) -> list[uuid.UUID]:
        created: list[uuid.UUID] = []
        for index, action in enumerate(actions):
            match action:
                case domain.CreateCell():
                    created.append(await self._create_cell(session, org, proposal_id, index, action, now))
                case domain.AddMember():
                    body = await self._body_in(session, org, action.body_id)
                    role = domain.check_role(body.kind, action.role)
                    if await repository.current_membership(session, body.id, action.address) is not None:
                        raise Conflict(
                            f"{domain.checksum(action.address)} is already a member of {body.name}"
                        )
                    await self._join(session, org, body, action.address, None, role, proposal_id, now)
                case domain.RemoveMember():
                    body = await self._body_in(session, org, action.body_id)
                    membership = await repository.current_membership(
                        session, body.id, action.address, lock=True
                    )
                    if membership is None:
                        raise NotFound(f"{domain.checksum(action.address)} is not a member of {body.name}")
                    await self._leave(session, org, body, membership, "REMOVED", proposal_id, now)
                case domain.AllocateBudget():
                    await self._allocate(session, org, proposal_id, action, now)
                case domain.SetCellState():
                    cell = await self._body_in(session, org, action.cell_id, cell=True)
                    state = CellState.approved(
                        action.purpose, action.strategy, action.agreements, now, proposal_id
                    )
                    await repository.set_cell_state(
                        session,
                        cell.id,
                        status=state.status,
                        purpose=state.purpose,
                        strategy=state.strategy,
                        agreements=state.agreements,
                        approved_at=state.approved_at,
                        proposal_id=state.proposal_id,
                    )
                    await self._emit(
                        session, events.cell_state_set(ref(org), body_id=cell.id, state=state, now=now)
                    )
        return created

    async def _create_cell(
        self,
        session: AsyncSession,
        org: Organization,
        proposal_id: uuid.UUID,
        index: int,
        action: domain.CreateCell,
        now: datetime,
    ) -> uuid.UUID:
        parent = await self._body_in(session, org, action.parent_id, cell=True)
        draft = CellState.draft(action.purpose)
        # derived from the proposal, so the same request always names the same cell
        cell = Body(
            id=uuid.uuid5(proposal_id, f"createCell:{index}"),
            organization_id=org.id,
            kind=BodyKind.CELL,
            name=action.name,
            purpose=action.purpose,
            parent_id=parent.id,
            is_top_level=False,
            state_status=draft.status,
            state_purpose=draft.purpose,
            state_strategy=draft.strategy,
            state_agreements=[],
            proposal_id=proposal_id,
            created_at=now,
        )
        await repository.insert_body(session, cell)
        await self._body_created(session, org, cell, proposal_id, now)
        for spec in action.core_team:
            await self._join(
                session, org, cell, spec.address, spec.display_name, Role.CORE_TEAM, proposal_id, now
            )
        return cell.id

    async def _allocate(
        self,
        session: AsyncSession,
        org: Organization,
        proposal_id: uuid.UUID,
        action: domain.AllocateBudget,
        now: datetime,
    ) -> None:
        cell = await self._body_in(session, org, action.cell_id, cell=True)
        total, allocated = await repository.ledger(session, org.id, action.cycle)
        domain.check_allocation(
            schedule_of(org), action.cycle, now, committed=total, allocated=allocated, amount=action.amount
        )
        budget = Budget(
            id=uuid.uuid4(),
            organization_id=org.id,
            cell_id=cell.id,
            cycle=action.cycle,
            amount=action.amount,
            proposal_id=proposal_id,
            created_at=now,
        )
        await repository.allocate(session, budget)
        await self._emit(
            session,
            events.budget_allocated(
                ref(org),
                cell_id=cell.id,
                cycle=action.cycle,
                amount=action.amount,
                proposal_id=proposal_id,
                now=now,
            ),
        )
