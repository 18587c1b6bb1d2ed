"""Proposals use cases: load, apply the rules of `domain`, save, record events, in the caller's
transaction. Nothing here commits: the session's owner (HTTP request, consumer or scheduler) does.

Every change to a proposal goes through `_save`, which persists the aggregate, keeps the per-status
counters, cancels the voting deadline once voting is over, applies `updatePolicy` actions in the same
transaction when the proposal becomes ENACTED, and writes the recorded events to the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit import (
    Clock,
    Conflict,
    CoreTeamFull,
    Deadline,
    Envelope,
    Forbidden,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    Outbox,
    cancel_deadline,
    schedule_deadline,
)

from . import domain, events, repository, schemas
from .config import Settings
from .domain import Status
from .metagovernance.service import Metagovernance
from .models import Body, Member, Organization

log = logging.getLogger("proposals.service")

VOTING_DEADLINE = "proposals.voting_ends"
VOTING_OPENS_DEADLINE = "proposals.voting_opens"
MAX_PAGE = 100
DEFAULT_PAGE = 20
_POLL_INTERVAL = 0.1
# membership's events of one change arrive back to back; this long without one means the burst is over
_SETTLE_INTERVAL = 0.2

# refusals that membership's events still on their way could turn into a yes
PROJECTION_REFUSALS = (NotFound, Forbidden, InsufficientFunds, CoreTeamFull, Conflict)


def voting_deadline_key(proposal_id: uuid.UUID) -> str:
    return f"proposals.voting:{proposal_id}"


def voting_opens_key(proposal_id: uuid.UUID) -> str:
    return f"proposals.voting-opens:{proposal_id}"


def parse_uuid(value: Any, field: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{field} is not a valid id", field=field) from None


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class ProposalsService:
    def __init__(self, settings: Settings, clock: Clock, outbox: Outbox) -> None:
        self.settings = settings
        self.clock = clock
        self.outbox = outbox
        # experiments, polls, milestones and the module registry (seeds 002 and 004)
        self.meta = Metagovernance(clock, outbox)

    # --- waiting for the projection -------------------------------------------------------------
    # A front-end may create an organisation, commit funds or join a body and propose at once, before
    # membership's events reached this service. Each poll runs a fresh statement (READ COMMITTED), so
    # it sees rows committed meanwhile by the consumer.

    async def _settle(self, session: AsyncSession, organization_id: uuid.UUID) -> int:
        """Wait (at most `projection_wait_seconds`) until the organisation's projection stops changing."""
        deadline = time.monotonic() + self.settings.projection_wait_seconds
        version = await repository.projection_version(session, organization_id)
        while time.monotonic() < deadline:
            await asyncio.sleep(_SETTLE_INTERVAL)
            latest = await repository.projection_version(session, organization_id)
            if latest == version:
                break
            version = latest
        return version

    # --- creating a proposal ----------------------------------------------------------------------

    async def create_proposal(
        self,
        session: AsyncSession,
        actor: str,
        data: schemas.CreateProposalInput,
        *,
        appeal_of: uuid.UUID | None = None,
        proposal_id: uuid.UUID | None = None,
    ) -> domain.Proposal:
        now = self.clock.now()
        try:
            kind = domain.Kind(data.kind)
        except ValueError:
            raise InvalidInput(f"kind must be one of {', '.join(domain.Kind)}", field="kind") from None
        body_id = parse_uuid(data.body_id, "bodyId")
        actions = domain.parse_actions(data.actions)
        domain.lifecycle.clean_title(data.title)
        domain.lifecycle.clean_description(data.description)

        # A refusal that depends on membership's data may only mean its events have not arrived yet (a
        # front-end commits funds or creates a cell and proposes at once): look again for a while first.
        deadline = time.monotonic() + self.settings.projection_wait_seconds
        while True:
            try:
                plan = await self._plan(session, actor, kind, body_id, actions, now)
                break
            except PROJECTION_REFUSALS:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(_POLL_INTERVAL)
        org, view, raising, module = plan
        # right after the organisation changed, the rest of membership's burst of events may still be on
        # its way: let it settle before taking the voter snapshot
        if (now - org.projection_updated_at).total_seconds() < 2 * self.settings.projection_wait_seconds:
            await self._settle(session, org.id)
        deciding_id = view.deciding_body_id(module.decider, raising)
        voters = domain.voters_of(
            view.bodies[deciding_id], await repository.voting_members(session, deciding_id)
        )
        proposal = domain.Proposal.open(
            id=proposal_id or uuid.uuid4(),
            organization_id=org.id,
            organization_slug=org.slug,
            kind=kind,
            title=data.title,
            description=data.description,
            body_id=raising.id,
            deciding_body_id=deciding_id,
            reviewing_body_id=view.stakeholder_group_id,
            proposer=actor,
            module=module,
            actions=actions,
            voters=voters,
            now=now,
            appeal_of=appeal_of,
        )
        await repository.insert_proposal(session, proposal, [] if proposal.awaiting_feedback else voters)
        await schedule_deadline(
            session,
            voting_deadline_key(proposal.id),
            VOTING_DEADLINE,
            proposal.voting_ends_at,
            {"proposalId": str(proposal.id)},
        )
        if proposal.awaiting_feedback and proposal.voting_starts_at is not None:
            await schedule_deadline(
                session,
                voting_opens_key(proposal.id),
                VOTING_OPENS_DEADLINE,
                proposal.voting_starts_at,
                {"proposalId": str(proposal.id)},
            )
        await self._publish(session, proposal, now)
        return proposal

    async def _plan(
        self,
        session: AsyncSession,
        actor: str,
        kind: domain.Kind,
        body_id: uuid.UUID,
        actions: Sequence[domain.Action],
        now: datetime,
    ) -> tuple[Organization, domain.OrganizationView, domain.BodyView, domain.DecisionModule]:
        """Everything a new proposal is checked against: its body, organisation, module, the proposer's
        right and its actions' validity."""
        body = await repository.get_body(session, body_id)
        if body is None:
            raise NotFound("no such body", field="bodyId")
        org = await repository.get_organization(session, body.organization_id)
        policy = await repository.load_policy(session, body.organization_id)
        if org is None or policy is None:
            raise NotFound("no such organisation", field="bodyId")
        view = await repository.organization_view(session, org)
        raising = view.bodies[body.id]
        if raising.kind is domain.BodyKind.COMMISSION:
            raise InvalidInput("a commission gives feedback; proposals are not raised in it", field="bodyId")
        module = policy.module_for(kind, view.scope_of(raising), view.lineage(raising.id))
        roles = await repository.actor_roles(session, org.id, actor)
        if not domain.may_propose(module.proposers, roles, view, raising):
            raise Forbidden(f"you may not propose a {kind} proposal in this body")
        members = await repository.members_of(session, domain.referenced_bodies(actions))
        ctx = domain.ActionContext(
            org=view,
            members={b: {a: domain.Role(r) for a, r in m.items()} for b, m in members.items()},
            available_funds=await repository.available_funds(
                session, org.id, domain.referenced_cycles(actions)
            ),
            settings=policy.settings,
            now=now,
            experiments=await repository.experiment_statuses(
                session, org.id, domain.referenced_experiments(actions)
            ),
        )
        domain.validate_actions(actions, kind=kind, module=module, raising=raising, ctx=ctx)
        return org, view, raising, module

    # --- voting -----------------------------------------------------------------------------------

    async def cast_vote(
        self, session: AsyncSession, actor: str, proposal_id: Any, data: schemas.CastVoteInput
    ) -> tuple[domain.Vote, domain.Proposal]:
        now = self.clock.now()
        try:
            choice = domain.Choice(data.choice)
        except ValueError:
            raise InvalidInput(f"choice must be one of {', '.join(domain.Choice)}", field="choice") from None
        # the row lock serialises votes on one proposal: tallies stay exact and a voter keeps one vote
        proposal = await self._load(session, proposal_id, lock=True)
        previous_status = proposal.status
        standing = await repository.voter_standing(session, proposal, actor)
        vote = proposal.cast_vote(
            voter=actor,
            weight=standing.weight,
            still_member=standing.still_member,
            choice=choice,
            reason=data.reason,
            previous=standing.previous,
            now=now,
        )
        # a vote changes only the tally: the rest of the row is saved when it decided the outcome
        await repository.record_vote(session, proposal, vote)
        if proposal.status is previous_status:
            await self._publish(session, proposal, now)
        else:
            await self._save(session, proposal, previous_status, now)
        return vote, proposal

    async def close_voting(self, session: AsyncSession, deadline: Deadline) -> None:
        """The durable voting deadline fired (once, even across restarts and replicas)."""
        proposal = await repository.load_proposal(
            session, uuid.UUID(deadline.payload["proposalId"]), lock=True
        )
        if proposal is None:
            log.warning("voting deadline for an unknown proposal", extra={"key": deadline.key})
            return
        now = self.clock.now()
        previous_status = proposal.status
        # a deadline that fires late (after a restart) still closes at the time the vote really ended
        if proposal.close_voting(min(now, proposal.voting_ends_at)):
            await self._save(session, proposal, previous_status, now)

    async def open_voting(self, session: AsyncSession, deadline: Deadline) -> None:
        """The commission's feedback window is over: voting opens with the voters of this moment."""
        proposal = await repository.load_proposal(
            session, uuid.UUID(deadline.payload["proposalId"]), lock=True
        )
        if proposal is None or not proposal.awaiting_feedback:
            return
        now = self.clock.now()
        voters = domain.voters_of(
            await self._deciding_body(session, proposal),
            await repository.voting_members(session, proposal.deciding_body_id),
        )
        previous_status = proposal.status
        if proposal.open_voting(voters, now):
            await repository.insert_voters(session, proposal.id, voters)
            await self._save(session, proposal, previous_status, now)

    async def _deciding_body(self, session: AsyncSession, proposal: domain.Proposal) -> domain.BodyView:
        org = await repository.get_organization(session, proposal.organization_id)
        if org is None:
            raise NotFound("no such organisation")
        return (await repository.organization_view(session, org)).bodies[proposal.deciding_body_id]

    # --- feedback and appeals ---------------------------------------------------------------------

    async def give_feedback(
        self, session: AsyncSession, actor: str, proposal_id: Any, text: Any
    ) -> domain.FeedbackEntry:
        now = self.clock.now()
        proposal = await self._load(session, proposal_id, lock=True)
        feedback = proposal.module.feedback
        is_commissioner = feedback is not None and await repository.is_member(
            session, feedback.commission_id, actor
        )
        previous_status = proposal.status
        entry = proposal.give_feedback(
            id=uuid.uuid4(), author=actor, is_commissioner=is_commissioner, text=text, now=now
        )
        await repository.insert_feedback(session, proposal.id, entry)
        await self._save(session, proposal, previous_status, now)
        return entry

    async def feedback_of(
        self, session: AsyncSession, actor: str | None, proposal_id: Any
    ) -> tuple[domain.Proposal, list[domain.FeedbackEntry]]:
        """The feedback on a proposal, for the commission's members, or everyone when it is public."""
        proposal = await self._load(session, proposal_id)
        feedback = proposal.module.feedback
        if feedback is None:
            return proposal, []
        if not feedback.public and (
            actor is None or not await repository.is_member(session, feedback.commission_id, actor)
        ):
            raise Forbidden("this commission's feedback is visible to its members only")
        return proposal, await repository.list_feedback(session, proposal.id)

    async def appeal(
        self, session: AsyncSession, actor: str, proposal_id: Any, data: schemas.AppealInput
    ) -> domain.Proposal:
        """Submit a BLOCKED proposal again, once: same body, kind and actions, the module of today, and a
        review with the module's higher appeal veto threshold."""
        original = await self._load(session, proposal_id, lock=True)
        appeal_id = uuid.uuid4()
        now = self.clock.now()
        previous_status = original.status
        original.record_appeal(appeal_id=appeal_id, now=now)
        appeal = await self.create_proposal(
            session,
            actor,
            schemas.CreateProposalInput(
                body_id=str(original.body_id),
                kind=str(original.kind),
                title=data.title
                if data.title is not None
                else f"Appeal: {original.title}"[: domain.MAX_TITLE],
                description=data.description if data.description is not None else original.description,
                actions=original.actions_as_dicts(),
            ),
            appeal_of=original.id,
            proposal_id=appeal_id,
        )
        await self._save(session, original, previous_status, now)
        return appeal

    # --- cancel -----------------------------------------------------------------------------------

    async def cancel(self, session: AsyncSession, actor: str, proposal_id: Any) -> domain.Proposal:
        now = self.clock.now()
        proposal = await self._load(session, proposal_id, lock=True)
        previous_status = proposal.status
        proposal.cancel(actor=actor, now=now)
        await self._save(session, proposal, previous_status, now)
        return proposal

    # --- saving -------------------------------------------------------------------------------------

    async def _load(self, session: AsyncSession, proposal_id: Any, *, lock: bool = False) -> domain.Proposal:
        try:
            pid = uuid.UUID(str(proposal_id))
        except ValueError:
            raise NotFound("no such proposal") from None
        proposal = await repository.load_proposal(session, pid, lock=lock)
        if proposal is None:
            raise NotFound("no such proposal")
        return proposal

    async def _save(
        self, session: AsyncSession, proposal: domain.Proposal, previous_status: Status, now: datetime
    ) -> None:
        await repository.save_proposal(session, proposal, previous_status)
        # closed early or cancelled: the voting deadline has nothing left to do (once due, it is the one
        # firing, or it will find the proposal closed)
        if (
            previous_status is Status.VOTING
            and proposal.status is not Status.VOTING
            and now < proposal.voting_ends_at
        ):
            await cancel_deadline(session, voting_deadline_key(proposal.id))
        await self._publish(session, proposal, now)
        if proposal.status is Status.ENACTED and previous_status is not Status.ENACTED:
            await self._apply_policy_updates(session, proposal, now)
            await self.meta.proposal_enacted(session, proposal, now)

    async def _publish(self, session: AsyncSession, proposal: domain.Proposal, now: datetime) -> None:
        for event in proposal.pull_events():
            await self.outbox.add(session, events.proposal_event(proposal, event, now))

    async def _apply_policy_updates(
        self, session: AsyncSession, proposal: domain.Proposal, now: datetime
    ) -> None:
        updates = proposal.policy_updates()
        if not updates:
            return
        policy = await repository.load_policy(session, proposal.organization_id, lock=True)
        if policy is None:  # the policy is created with the organisation; nothing to update without it
            log.error(
                "enacted policy update for an organisation without policy",
                extra={"proposal": str(proposal.id)},
            )
            return
        changed: list[domain.DecisionModule] = []
        for index, update in enumerate(updates):
            if update.experiment is not None or update.renew_experiment is not None:
                # an experiment is a layer of its own (saved with its own cause); a renewal moves an end
                await self.meta.apply_experiment_action(session, proposal, policy, update, index, now)
                continue
            modules = policy.apply(update)
            await repository.save_policy(session, proposal.organization_id, policy, modules, proposal.id, now)
            changed += modules
        if changed or not any(u.experiment or u.renew_experiment for u in updates):
            await self._emit(
                session,
                events.policy_events(
                    proposal.organization_slug, proposal.organization_id, policy, changed, proposal.id, now
                ),
            )

    async def _emit(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            await self.outbox.add(session, envelope)

    # --- verdicts and answers from the timelock and membership ----------------------------------

    async def _on_proposal(
        self, session: AsyncSession, envelope: Envelope, apply: Callable[[domain.Proposal, datetime], bool]
    ) -> None:
        try:
            pid = uuid.UUID(str(envelope.data.get("proposalId")))
        except ValueError:
            log.warning("event without a proposal id", extra={"event_id": envelope.id, "type": envelope.type})
            return
        proposal = await repository.load_proposal(session, pid, lock=True)
        if proposal is None:
            return  # not one of ours (or from before this database): nothing to do
        now = self.clock.now()
        previous_status = proposal.status
        if apply(proposal, now):
            await self._save(session, proposal, previous_status, now)
        else:
            log.info(
                "event ignored in the proposal's current state",
                extra={"event_id": envelope.id, "type": envelope.type, "status": str(previous_status)},
            )

    async def handle_timelock_event(self, session: AsyncSession, envelope: Envelope) -> None:
        d = envelope.data
        name = f"{envelope.aggregate}.{envelope.event}"
        handlers: dict[str, Callable[[domain.Proposal, datetime], bool]] = {
            "review.started": lambda p, now: p.on_review_started(
                review_id=uuid.UUID(str(d.get("reviewId"))),
                ends_at=_time(d.get("endsAt")) or now,
                veto_threshold_weight=_decimal(d.get("vetoThresholdWeight")),
                now=now,
            ),
            "review.concern_raised": lambda p, now: p.on_concern_raised(
                concern_id=uuid.UUID(str(d.get("concernId"))),
                raised_by=str(d.get("raisedBy", "")).lower(),
                reason=str(d.get("reason") or ""),
                ends_at=_time(d.get("endsAt")),
                now=now,
            ),
            "review.objection_recorded": lambda p, now: p.on_objection_recorded(
                objector=str(d.get("objector", "")).lower(),
                objection_weight=_decimal(d.get("objectionWeight")),
                veto_threshold_weight=_decimal(d.get("vetoThresholdWeight")),
                withdrawn=bool(d.get("withdrawn", False)),
                now=now,
            ),
            "review.blocked": lambda p, now: p.on_review_blocked(
                objection_weight=_decimal(d.get("objectionWeight")), now=now
            ),
            "review.approved": lambda p, now: p.on_review_approved(
                delay_seconds=int(d.get("delaySeconds") or 0), now=now
            ),
            "operation.queued": lambda p, now: p.on_operation_queued(
                enact_after=_time(d.get("enactAfter")) or now, now=now
            ),
            "operation.ready": lambda p, now: p.on_operation_ready(now=now),
            "operation.expired": lambda p, now: p.on_operation_expired(
                reason=str(d.get("reason") or "the operation expired"), now=now
            ),
        }
        handler = handlers.get(name)
        if handler is not None:
            await self._on_proposal(session, envelope, handler)

    # --- the membership projection --------------------------------------------------------------

    async def handle_membership_event(self, session: AsyncSession, envelope: Envelope) -> None:
        d = envelope.data
        name = f"{envelope.aggregate}.{envelope.event}"
        now = self.clock.now()
        if name == "organization.actions_applied":
            await self._on_proposal(session, envelope, lambda p, at: p.on_actions_applied(now=at))
            return
        if name == "organization.actions_rejected":
            reason = str(d.get("reason") or "the actions could not be applied")
            code = d.get("code")
            if code and not reason.startswith(str(code)):
                reason = f"{code}: {reason}"
            await self._on_proposal(
                session, envelope, lambda p, at: p.on_actions_rejected(reason=reason, now=at)
            )
            return
        org_id = parse_uuid(d.get("organizationId"), "organizationId")
        if name == "organization.created":
            await self._organization_created(session, org_id, d, now)
        elif name == "organization.cycles_changed":
            await repository.set_cycle_schedule(
                session,
                org_id,
                int(d["fromCycle"]),
                _time(d["startsAt"]) or now,
                int(d["cycleLengthSeconds"]),
            )
        elif name == "body.created":
            await repository.upsert_body(
                session,
                Body(
                    id=parse_uuid(d["bodyId"], "bodyId"),
                    organization_id=org_id,
                    kind=str(d["kind"]),
                    name=str(d.get("name") or ""),
                    parent_id=parse_uuid(d["parentId"], "parentId") if d.get("parentId") else None,
                    is_top_level=bool(d.get("isTopLevel", False)),
                ),
            )
        elif name == "body.cell_state_set":
            await repository.set_cell_state_status(
                session, parse_uuid(d["bodyId"], "bodyId"), str(d.get("status"))
            )
        elif name in ("membership.joined", "membership.left", "membership.weight_changed"):
            await self._membership_changed(session, envelope, org_id)
        elif name == "funds.committed":
            await repository.add_commitment(
                session,
                org_id,
                domain.normalize_address(d["address"]),
                int(d["cycle"]),
                _decimal(d["amount"]),
                envelope.sequence,
            )
        elif name == "funds.withdrawn":
            await repository.withdraw_commitments(
                session,
                org_id,
                domain.normalize_address(d["address"]),
                [int(c) for c in d.get("cycles", [])],
                envelope.sequence,
            )
        elif name == "funds.budget_allocated":
            await repository.add_allocation(session, org_id, int(d["cycle"]), _decimal(d["amount"]))
        else:
            return
        await repository.touch_organization(session, org_id, now)

    async def _membership_changed(self, session: AsyncSession, envelope: Envelope, org_id: uuid.UUID) -> None:
        """Seats and weights follow the body's event sequence, not the delivery order: a redelivered older
        event (after a failed attempt, the consumer moves on) never undoes a newer one."""
        d = envelope.data
        body_id, address = parse_uuid(d["bodyId"], "bodyId"), domain.normalize_address(d["address"])
        seat, weight_key = f"seat:{body_id}:{address}", f"weight:{body_id}:{address}"
        if envelope.event == "weight_changed":
            weight = _decimal(d.get("weight"))
            if await repository.advance_mark(session, weight_key, envelope.sequence, str(weight)):
                await repository.set_member_weight(session, body_id, address, weight)
            return
        if not await repository.advance_mark(session, seat, envelope.sequence):
            return
        if envelope.event == "left":
            await repository.delete_member(session, body_id, address)
            return
        weight = _decimal(d.get("weight"))
        if not await repository.advance_mark(session, weight_key, envelope.sequence, str(weight)):
            newer = await repository.get_mark(session, weight_key)
            weight = _decimal(newer.value if newer else d.get("weight"))
        member = Member(
            body_id=body_id,
            address=address,
            organization_id=org_id,
            role=str(d["role"]),
            weight=weight,
            joined_at=envelope.time,
        )
        await repository.upsert_member(session, member)

    async def _organization_created(
        self, session: AsyncSession, org_id: uuid.UUID, d: dict[str, Any], now: datetime
    ) -> None:
        settings = domain.PolicySettings.from_dict(d.get("policy"))
        inserted = await repository.insert_organization(
            session,
            Organization(
                id=org_id,
                slug=str(d.get("slug") or d.get("organization")),
                name=str(d.get("name") or ""),
                stakeholder_group_id=parse_uuid(d["stakeholderGroupId"], "stakeholderGroupId"),
                top_level_cell_id=parse_uuid(d["topLevelCellId"], "topLevelCellId"),
                starts_at=_time(d.get("startsAt")) or now,
                cycle_anchor_at=_time(d.get("startsAt")) or now,
                cycle_anchor_index=0,
                cycle_length_seconds=settings.cycle_length_seconds,
                created_at=now,
                projection_updated_at=now,
            ),
        )
        if not inserted or await repository.load_policy(session, org_id) is not None:
            return
        policy = domain.Policy.create(settings)
        modules = list(policy.modules.values())
        await repository.save_policy(session, org_id, policy, modules, None, now, cause="FOUNDED")
        await self._emit(
            session,
            events.policy_events(str(d.get("slug")), org_id, policy, modules, None, now, updated=False),
        )

    # --- queries ----------------------------------------------------------------------------------

    async def get_proposal(self, session: AsyncSession, proposal_id: Any) -> domain.Proposal:
        return await self._load(session, proposal_id)

    async def get_proposals(self, session: AsyncSession, ids: Sequence[str]) -> list[domain.Proposal]:
        parsed: list[uuid.UUID] = []
        for raw in ids:
            try:
                parsed.append(uuid.UUID(raw))
            except ValueError:
                continue  # unknown ids are simply absent
        rows = await repository.get_proposal_rows(session, parsed[:MAX_PAGE])
        return [repository.to_domain(r) for r in rows]

    async def list_proposals(
        self,
        session: AsyncSession,
        *,
        organization_id: str | None,
        organization: str | None,
        statuses: Sequence[str],
        kind: str | None,
        body_id: str | None,
        first: int,
        after: str | None,
    ) -> repository.Page:
        if organization_id:
            org_id = parse_uuid(organization_id, "organizationId")
        elif organization:
            org = await repository.get_organization_by_slug(session, organization)
            if org is None:
                return repository.Page([], 0, None, False)
            org_id = org.id
        else:
            raise InvalidInput("organizationId (or ids) is required", field="organizationId")
        for s in statuses:
            if s not in set(Status):
                raise InvalidInput(f"unknown status {s}", field="status")
        if kind and kind not in set(domain.Kind):
            raise InvalidInput(f"unknown kind {kind}", field="kind")
        page = await repository.list_proposals(
            session,
            org_id,
            statuses=statuses,
            kind=kind,
            body_id=parse_uuid(body_id, "bodyId") if body_id else None,
            first=first,
            after=after,
        )
        return repository.Page(
            [repository.to_domain(r) for r in page.items],
            page.total_count,
            page.end_cursor,
            page.has_next_page,
        )

    async def list_votes(
        self, session: AsyncSession, proposal_id: Any, *, first: int, after: str | None
    ) -> repository.Page:
        proposal = await self._load(session, proposal_id)
        page = await repository.list_votes(session, proposal.id, first=first, after=after)
        votes = [
            domain.Vote(r.voter, domain.Choice(r.choice), r.weight, r.reason, r.cast_at) for r in page.items
        ]
        return repository.Page(votes, page.total_count, page.end_cursor, page.has_next_page)

    async def get_policy(self, session: AsyncSession, organization_id: Any) -> domain.Policy:
        try:
            org_id = uuid.UUID(str(organization_id))
        except ValueError:
            raise NotFound("no such organisation") from None
        policy = await repository.load_policy(session, org_id)
        if policy is None:
            raise NotFound("no such organisation")
        return policy

    async def status_details(self, session: AsyncSession) -> dict[str, Any]:
        return {"proposalsByStatus": await repository.count_by_status(session)}
