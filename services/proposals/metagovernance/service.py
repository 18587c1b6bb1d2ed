"""Use cases of experiments, polls, milestones and the module registry, in the caller's transaction.
Nothing here commits: the session's owner (HTTP request, consumer or scheduler) does.

Who may steer the metagovernance tools that are not proposals (write a retrospective, set milestones):
whoever the organisation's `POLICY` module lets propose a policy change (by default SHG members and the
TLC core team). Polls are made and answered by any member of the organisation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Clock, Deadline, Forbidden, InvalidInput, NotFound, Outbox, cancel_deadline, schedule_deadline

from .. import domain
from .. import events as core_events
from .. import repository as core
from ..domain.milestones import MilestoneGraph, MilestoneStatus
from ..domain.polls import Poll
from . import repository as repo
from .events import event

log = logging.getLogger("proposals.metagovernance")

EXPERIMENT_ENDS = "proposals.experiment_ends"
POLL_CLOSES = "proposals.poll_closes"


def _uuid(value: Any, field: str, *, missing: str = "") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        if missing:
            raise NotFound(missing, field=field) from None
        raise InvalidInput(f"{field} is not a valid id", field=field) from None


def _time(value: Any, field: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO-8601 date-time", field=field) from None
    if when.tzinfo is None:
        raise InvalidInput(f"{field} must carry a time zone", field=field)
    return when


def poll_deadline_key(poll_id: uuid.UUID) -> str:
    return f"proposals.poll:{poll_id}"


class Metagovernance:
    def __init__(self, clock: Clock, outbox: Outbox) -> None:
        self.clock = clock
        self.outbox = outbox

    async def _emit(
        self,
        session: AsyncSession,
        slug: str,
        organization_id: uuid.UUID,
        aggregate: str,
        aggregate_id: uuid.UUID,
        name: str,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        await self.outbox.add(session, event(slug, organization_id, aggregate, aggregate_id, name, data, now))

    async def _emit_experiment(self, session: AsyncSession, e: domain.Experiment, now: datetime) -> None:
        for ev in e.pull_events():
            await self._emit(
                session, e.organization_slug, e.organization_id, "experiment", e.id, ev.name, ev.data, now
            )

    async def _emit_modules(
        self,
        session: AsyncSession,
        slug: str,
        organization_id: uuid.UUID,
        policy: domain.Policy,
        changed: Sequence[domain.DecisionModule],
        proposal_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        for envelope in core_events.policy_events(
            slug, organization_id, policy, changed, proposal_id, now, updated=False
        ):
            await self.outbox.add(session, envelope)

    async def _organization(self, session: AsyncSession, organization_id: Any) -> Any:
        org = await core.get_organization(
            session, _uuid(organization_id, "organizationId", missing="no such organisation")
        )
        if org is None:
            raise NotFound("no such organisation")
        return org

    async def _require_steward(self, session: AsyncSession, org: Any, actor: str) -> None:
        """Only who may propose a POLICY change (the POLICY module's proposers)."""
        policy = await core.load_policy(session, org.id)
        view = await core.organization_view(session, org)
        if policy is None or org.stakeholder_group_id not in view.bodies:
            raise NotFound("no such organisation")
        module = policy.modules["POLICY:STAKEHOLDER_GROUP"]
        roles = await core.actor_roles(session, org.id, actor)
        if not domain.may_propose(module.proposers, roles, view, view.bodies[org.stakeholder_group_id]):
            raise Forbidden("only those who may propose a POLICY change may do this")

    # --- experiments --------------------------------------------------------------------------------

    async def apply_experiment_action(
        self,
        session: AsyncSession,
        proposal: domain.Proposal,
        policy: domain.Policy,
        update: domain.PolicyUpdate,
        index: int,
        now: datetime,
    ) -> None:
        """An enacted `updatePolicy` that starts or renews an experiment (in the enactment's transaction)."""
        org = await core.get_organization(session, proposal.organization_id)
        if org is None:
            return
        view = await core.organization_view(session, org)
        if update.experiment is not None:
            experiment_id = domain.experiment_id_for(proposal.id, index)
            if await repo.load_experiment(session, experiment_id) is not None:
                return  # applied already
            ends_at = domain.experiment_end(update.experiment, view, now) or now
            experiment = domain.Experiment.start(
                id=experiment_id,
                organization_id=org.id,
                organization_slug=org.slug,
                proposal_id=proposal.id,
                spec=update.experiment,
                overrides=update.overrides(),
                ends_at=ends_at,
                now=now,
            )
            changed = policy.add_layer(experiment.layer)
            await core.save_policy(
                session, org.id, policy, changed, proposal.id, now,
                cause="EXPERIMENT_STARTED", experiment_id=experiment.id,
            )  # fmt: skip
            await self._emit_modules(session, org.slug, org.id, policy, changed, proposal.id, now)
            await schedule_deadline(
                session,
                experiment.deadline_key,
                EXPERIMENT_ENDS,
                ends_at,
                {"experimentId": str(experiment.id)},
            )
        else:
            renewal = update.renew_experiment or {}
            found = await repo.load_experiment(session, uuid.UUID(renewal["experimentId"]), lock=True)
            if found is None or found.organization_id != org.id:
                log.warning("renewal of an unknown experiment", extra={"proposal": str(proposal.id)})
                return
            experiment = found
            ends_at = domain.experiment_end(renewal, view, now)
            previous_key = experiment.deadline_key
            if experiment.renew(proposal_id=proposal.id, ends_at=ends_at, now=now):
                # ended before the renewal was enacted: the renewal puts the change back
                changed = policy.add_layer(experiment.layer)
                await core.save_policy(
                    session, org.id, policy, changed, proposal.id, now,
                    cause="EXPERIMENT_RENEWED", experiment_id=experiment.id,
                )  # fmt: skip
                await self._emit_modules(session, org.slug, org.id, policy, changed, proposal.id, now)
            if experiment.deadline_key != previous_key:
                await cancel_deadline(session, previous_key)
                if ends_at is not None:
                    await schedule_deadline(
                        session,
                        experiment.deadline_key,
                        EXPERIMENT_ENDS,
                        ends_at,
                        {"experimentId": str(experiment.id)},
                    )
        await repo.save_experiment(session, experiment)
        await self._emit_experiment(session, experiment, now)

    async def _figures(
        self, session: AsyncSession, e: domain.Experiment, until: datetime
    ) -> tuple[dict, dict]:
        figures = domain.measure(await repo.experiment_records(session, e.id))
        baseline = domain.measure(
            await repo.baseline_records(session, e.organization_id, e.module_keys, e.started_at, until, e.id)
        )
        return figures, baseline

    async def end_experiment(self, session: AsyncSession, deadline: Deadline) -> None:
        """The experiment's end (a durable deadline): unless renewed, its change reverts by itself."""
        experiment = await repo.load_experiment(
            session, uuid.UUID(deadline.payload["experimentId"]), lock=True
        )
        if experiment is None or deadline.key != experiment.deadline_key:
            return  # a renewal replaced this end
        now = self.clock.now()
        figures, baseline = await self._figures(session, experiment, now)
        if not experiment.end(now=now, figures=figures, baseline=baseline):
            return
        policy = await core.load_policy(session, experiment.organization_id, lock=True)
        if policy is not None:
            changed = policy.remove_layer(experiment.id)
            await core.save_policy(
                session, experiment.organization_id, policy, changed, None, now,
                cause="EXPERIMENT_ENDED", experiment_id=experiment.id,
            )  # fmt: skip
            await self._emit_modules(
                session, experiment.organization_slug, experiment.organization_id, policy, changed, None, now
            )
        await repo.save_experiment(session, experiment)
        await self._emit_experiment(session, experiment, now)

    async def write_retrospective(
        self, session: AsyncSession, actor: str, experiment_id: Any, text: Any
    ) -> domain.Experiment:
        experiment = await self._experiment(session, experiment_id, lock=True)
        await self._require_steward(
            session, await self._organization(session, experiment.organization_id), actor
        )
        now = self.clock.now()
        experiment.write_retrospective(text=text, author=actor, now=now)
        await repo.save_experiment(session, experiment)
        await self._emit_experiment(session, experiment, now)
        return experiment

    async def _experiment(
        self, session: AsyncSession, experiment_id: Any, *, lock: bool = False
    ) -> domain.Experiment:
        experiment = await repo.load_experiment(
            session, _uuid(experiment_id, "experimentId", missing="no such experiment"), lock=lock
        )
        if experiment is None:
            raise NotFound("no such experiment")
        return experiment

    async def with_live_figures(self, session: AsyncSession, e: domain.Experiment) -> domain.Experiment:
        """A running (or adopted) experiment is measured as of now; an ended one keeps its final figures."""
        if e.figures is None:
            e.figures, e.baseline = await self._figures(session, e, self.clock.now())
        return e

    async def get_experiment(self, session: AsyncSession, experiment_id: Any) -> domain.Experiment:
        return await self.with_live_figures(session, await self._experiment(session, experiment_id))

    async def list_experiments(
        self,
        session: AsyncSession,
        organization_id: Any,
        *,
        statuses: Sequence[str],
        first: int,
        after: str | None,
    ) -> core.Page:
        org = await self._organization(session, organization_id)
        for s in statuses:
            if s not in set(domain.ExperimentStatus):
                raise InvalidInput(f"unknown status {s}", field="status")
        page = await repo.list_experiments(session, org.id, statuses=statuses, first=first, after=after)
        items = [await self.with_live_figures(session, e) for e in page.items]
        return core.Page(items, page.total_count, page.end_cursor, page.has_next_page)

    # --- the registry ----------------------------------------------------------------------------

    async def registry(self, session: AsyncSession, organization_id: Any) -> dict[str, Any]:
        """Every module (organisation-wide and variants) with its version history."""
        org = await self._organization(session, organization_id)
        policy = await core.load_policy(session, org.id)
        if policy is None:
            raise NotFound("no such organisation")
        history: dict[str, list[dict[str, Any]]] = {}
        for row in await repo.module_history(session, org.id):
            history.setdefault(row.key, []).append(
                {
                    "version": row.version,
                    "at": row.created_at,
                    "cause": row.cause,
                    "proposalId": str(row.proposal_id) if row.proposal_id else None,
                    "experimentId": str(row.experiment_id) if row.experiment_id else None,
                    "scope": list(row.module.get("scope") or []),
                    "changes": row.changes,
                    "module": row.module,
                }
            )
        return {
            "organizationId": str(org.id),
            "modules": [
                {
                    **m.to_dict(),
                    "variants": [v.to_dict() for v in policy.variants.values() if v.key == key],
                    "history": history.get(key, []),
                }
                for key, m in policy.modules.items()
            ],
        }

    # --- polls -----------------------------------------------------------------------------------

    async def create_poll(self, session: AsyncSession, actor: str, organization_id: Any, data: Any) -> Poll:
        org = await self._organization(session, organization_id)
        now = self.clock.now()
        body_id = _uuid(data.body_id, "bodyId") if data.body_id else None
        if body_id is not None:
            body = await core.get_body(session, body_id)
            if body is None or body.organization_id != org.id:
                raise NotFound("no such body in this organisation", field="bodyId")
        if not await repo.is_organization_member(session, org.id, actor):
            raise Forbidden("only members of the organisation make polls")
        proposal_id = await self._proposal_in(session, org.id, data.proposal_id)
        poll = Poll.create(
            id=uuid.uuid4(),
            organization_id=org.id,
            organization_slug=org.slug,
            body_id=body_id,
            question=data.question,
            options=data.options,
            multiple=data.multiple,
            closes_at=_time(data.closes_at, "closesAt"),
            created_by=actor,
            proposal_id=proposal_id,
            now=now,
        )
        await repo.insert_poll(session, poll)
        await schedule_deadline(
            session, poll_deadline_key(poll.id), POLL_CLOSES, poll.closes_at, {"pollId": str(poll.id)}
        )
        await self._emit_poll(session, poll, now)
        return poll

    async def _proposal_in(
        self, session: AsyncSession, organization_id: uuid.UUID, raw: Any
    ) -> uuid.UUID | None:
        if not raw:
            return None
        proposal_id = _uuid(raw, "proposalId", missing="no such proposal")
        if proposal_id not in await repo.proposals_in_organization(session, organization_id, [proposal_id]):
            raise NotFound("no such proposal in this organisation", field="proposalId")
        return proposal_id

    async def _emit_poll(self, session: AsyncSession, poll: Poll, now: datetime) -> None:
        for ev in poll.pull_events():
            await self._emit(
                session, poll.organization_slug, poll.organization_id, "poll", poll.id, ev.name, ev.data, now
            )

    async def _poll(self, session: AsyncSession, poll_id: Any, *, lock: bool = False) -> Poll:
        poll = await repo.load_poll(session, _uuid(poll_id, "pollId", missing="no such poll"), lock=lock)
        if poll is None:
            raise NotFound("no such poll")
        return poll

    async def answer_poll(self, session: AsyncSession, actor: str, poll_id: Any, choices: Any) -> Poll:
        # the row lock serialises answers: the counts stay exact
        poll = await self._poll(session, poll_id, lock=True)
        now = self.clock.now()
        eligible = await repo.is_organization_member(session, poll.organization_id, actor, poll.body_id)
        previous = await repo.get_answer(session, poll.id, actor)
        picked = poll.answer(eligible=eligible, choices=choices, previous=previous, now=now)
        await repo.upsert_answer(session, poll.id, actor, picked, now)
        await repo.save_poll(session, poll)
        await self._emit_poll(session, poll, now)
        return poll

    async def close_poll(self, session: AsyncSession, deadline: Deadline) -> None:
        poll = await repo.load_poll(session, uuid.UUID(deadline.payload["pollId"]), lock=True)
        if poll is None:
            return
        now = self.clock.now()
        # a deadline that fires late (after a restart) still closes the poll at its time
        if poll.close(min(now, poll.closes_at)):
            await repo.save_poll(session, poll)
            await self._emit_poll(session, poll, now)

    async def link_poll(self, session: AsyncSession, actor: str, poll_id: Any, proposal_id: Any) -> Poll:
        poll = await self._poll(session, poll_id, lock=True)
        target = await self._proposal_in(session, poll.organization_id, proposal_id)
        if target is None:
            raise InvalidInput("proposalId is required", field="proposalId")
        if not await repo.is_organization_member(session, poll.organization_id, actor):
            raise Forbidden("only a member of the organisation links a poll to its proposals")
        now = self.clock.now()
        poll.link(proposal_id=target, actor=actor, now=now)
        await repo.save_poll(session, poll)
        await self._emit_poll(session, poll, now)
        return poll

    async def get_poll(self, session: AsyncSession, poll_id: Any) -> Poll:
        return await self._poll(session, poll_id)

    async def my_answer(self, session: AsyncSession, actor: str | None, poll: Poll) -> list[int] | None:
        return None if actor is None else await repo.get_answer(session, poll.id, actor)

    async def list_polls(
        self, session: AsyncSession, organization_id: Any, *, proposal_id: Any, first: int, after: str | None
    ) -> core.Page:
        org = await self._organization(session, organization_id)
        pid = _uuid(proposal_id, "proposalId") if proposal_id else None
        return await repo.list_polls(session, org.id, proposal_id=pid, first=first, after=after)

    async def polls_of_proposals(self, session: AsyncSession, proposal_ids: Sequence[str]) -> list[Poll]:
        ids = []
        for raw in proposal_ids:
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                continue
        return await repo.polls_of_proposals(session, ids[:100])

    # --- milestones ------------------------------------------------------------------------------

    async def _evaluate(
        self, session: AsyncSession, org_id: uuid.UUID, graph: MilestoneGraph
    ) -> tuple[dict, dict]:
        linked = [p for m in graph.milestones.values() for p in m.proposal_ids]
        enacted = await repo.enacted(session, linked)
        changed = {
            m.id: await repo.modules_changed_since(session, org_id, m.module_keys, m.created_at)
            for m in graph.milestones.values()
            if m.module_keys and m.completed_at is None
        }
        return enacted, changed

    async def _complete(self, session: AsyncSession, org: Any, graph: MilestoneGraph, now: datetime) -> None:
        enacted, changed = await self._evaluate(session, org.id, graph)
        graph.complete_what_is_done(enacted, changed, now)
        await repo.save_milestones(session, org.id, org.slug, graph.milestones.values())
        for ev in graph.pull_events():
            await self._emit(session, org.slug, org.id, "milestone", ev.milestone_id, ev.name, ev.data, now)

    async def create_milestone(
        self, session: AsyncSession, actor: str, organization_id: Any, data: Any
    ) -> uuid.UUID:
        org = await self._organization(session, organization_id)
        await self._require_steward(session, org, actor)
        graph = await repo.load_milestones(session, org.id, lock=True)
        proposals = await self._proposals_of(session, org.id, data.proposal_ids)
        now = self.clock.now()
        milestone = graph.add(
            id=uuid.uuid4(),
            phase=data.phase,
            title=data.title,
            description=data.description,
            depends_on=data.depends_on,
            module_keys=data.module_keys,
            proposal_ids=proposals,
            created_by=actor,
            now=now,
        )
        await self._complete(session, org, graph, now)
        return milestone.id

    async def _proposals_of(self, session: AsyncSession, org_id: uuid.UUID, raw: Any) -> list[uuid.UUID]:
        ids = [_uuid(p, f"proposalIds[{i}]") for i, p in enumerate(raw or [])]
        found = await repo.proposals_in_organization(session, org_id, ids)
        for i, pid in enumerate(ids):
            if pid not in found:
                raise NotFound("no such proposal in this organisation", field=f"proposalIds[{i}]")
        return list(dict.fromkeys(ids))

    async def link_milestone(
        self, session: AsyncSession, actor: str, milestone_id: Any, data: Any
    ) -> uuid.UUID:
        """Add dependencies and links; answers the milestone's organisation."""
        mid = _uuid(milestone_id, "milestoneId", missing="no such milestone")
        org_id = await repo.milestone_organization(session, mid)
        if org_id is None:
            raise NotFound("no such milestone")
        org = await self._organization(session, org_id)
        await self._require_steward(session, org, actor)
        graph = await repo.load_milestones(session, org.id, lock=True)
        proposals = await self._proposals_of(session, org.id, data.proposal_ids)
        graph.link(mid, depends_on=data.depends_on, module_keys=data.module_keys, proposal_ids=proposals)
        await self._complete(session, org, graph, self.clock.now())
        return org.id

    async def milestones(self, session: AsyncSession, organization_id: Any) -> dict[str, Any]:
        """The graph with each milestone's status, the phases and the current phase."""
        org = await self._organization(session, organization_id)
        graph = await repo.load_milestones(session, org.id)
        enacted, changed = await self._evaluate(session, org.id, graph)
        current, complete = graph.current_phase()
        return {
            "organizationId": str(org.id),
            "currentPhase": current,
            "complete": complete,
            "phases": graph.phases(),
            "milestones": [
                {
                    "id": str(m.id),
                    "phase": m.phase,
                    "title": m.title,
                    "description": m.description,
                    "dependsOn": [str(d) for d in m.depends_on],
                    "moduleKeys": list(m.module_keys),
                    "proposalIds": [str(p) for p in m.proposal_ids],
                    "status": str(graph.status(m.id, enacted, changed)),
                    "createdBy": domain.checksum(m.created_by),
                    "createdAt": m.created_at,
                    "completedAt": m.completed_at,
                }
                for m in graph.milestones.values()
            ],
        }

    async def proposal_enacted(self, session: AsyncSession, proposal: domain.Proposal, now: datetime) -> None:
        """A proposal was enacted (and any policy change applied): milestones it completes are done."""
        if not await repo.has_open_milestones(session, proposal.organization_id):
            return
        org = await core.get_organization(session, proposal.organization_id)
        if org is None:
            return
        graph = await repo.load_milestones(session, org.id, lock=True)
        await self._complete(session, org, graph, now)


__all__ = ["EXPERIMENT_ENDS", "POLL_CLOSES", "Metagovernance", "MilestoneStatus"]
