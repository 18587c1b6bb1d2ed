"""Metagovernance HTTP API (docs/internal-api.md, "Proposals HTTP API" > metagovernance): thin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Caller, SessionDep, caller

from .. import schemas as core_schemas
from ..api import First, Repeated, _split
from ..service import DEFAULT_PAGE, ProposalsService
from . import schemas
from .service import Metagovernance

router = APIRouter(prefix="/v1", dependencies=[Depends(caller)])


def _proposals(request: Request) -> ProposalsService:
    return request.app.state.proposals


def _meta(request: Request) -> Metagovernance:
    return request.app.state.proposals.meta


Proposals = Depends(_proposals)
Meta = Depends(_meta)
Who = Depends(caller)


# --- appeals and feedback -----------------------------------------------------------------------------


@router.post("/proposals/{proposal_id}/appeal", status_code=201, tags=["appeals"])
async def appeal(
    proposal_id: str,
    data: core_schemas.AppealInput | None = None,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Proposals,
) -> core_schemas.Proposal:
    made = await service.appeal(session, who.require_actor(), proposal_id, data or core_schemas.AppealInput())
    return core_schemas.proposal_out(made)


@router.post("/proposals/{proposal_id}/feedback", status_code=201, tags=["feedback"])
async def give_feedback(
    proposal_id: str,
    data: schemas.FeedbackInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Proposals,
) -> schemas.Feedback:
    entry = await service.give_feedback(session, who.require_actor(), proposal_id, data.text)
    return schemas.feedback_out(proposal_id, entry)


@router.get("/proposals/{proposal_id}/feedback", tags=["feedback"])
async def feedback(
    proposal_id: str,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Proposals,
) -> core_schemas.Items[schemas.Feedback]:
    proposal, entries = await service.feedback_of(session, who.actor, proposal_id)
    return core_schemas.Items[schemas.Feedback](items=[schemas.feedback_out(proposal.id, f) for f in entries])


# --- registry and experiments ---------------------------------------------------------------------------


@router.get("/organizations/{organization_id}/registry", tags=["policy"])
async def registry(
    organization_id: str, session: AsyncSession = SessionDep, meta: Metagovernance = Meta
) -> schemas.Registry:
    return schemas.Registry.model_validate(await meta.registry(session, organization_id))


@router.get("/organizations/{organization_id}/experiments", tags=["experiments"])
async def experiments(
    organization_id: str,
    status: Repeated = None,
    first: First = DEFAULT_PAGE,
    after: str | None = None,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> core_schemas.Page[schemas.Experiment]:
    page = await meta.list_experiments(
        session, organization_id, statuses=_split(status), first=first, after=after
    )
    return core_schemas.Page[schemas.Experiment](
        items=[schemas.experiment_out(e) for e in page.items],
        total_count=page.total_count,
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
    )


@router.get("/experiments/{experiment_id}", tags=["experiments"])
async def experiment(
    experiment_id: str, session: AsyncSession = SessionDep, meta: Metagovernance = Meta
) -> schemas.Experiment:
    return schemas.experiment_out(await meta.get_experiment(session, experiment_id))


@router.post("/experiments/{experiment_id}/retrospective", tags=["experiments"])
async def retrospective(
    experiment_id: str,
    data: schemas.RetrospectiveInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.Experiment:
    done = await meta.write_retrospective(session, who.require_actor(), experiment_id, data.text)
    return schemas.experiment_out(await meta.with_live_figures(session, done))


# --- polls ----------------------------------------------------------------------------------------------


@router.post("/organizations/{organization_id}/polls", status_code=201, tags=["polls"])
async def create_poll(
    organization_id: str,
    data: schemas.PollInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.Poll:
    return schemas.poll_out(await meta.create_poll(session, who.require_actor(), organization_id, data))


@router.get("/organizations/{organization_id}/polls", tags=["polls"])
async def polls(
    organization_id: str,
    proposal_id: Annotated[str | None, Query(alias="proposalId")] = None,
    first: First = DEFAULT_PAGE,
    after: str | None = None,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> core_schemas.Page[schemas.Poll]:
    page = await meta.list_polls(session, organization_id, proposal_id=proposal_id, first=first, after=after)
    return core_schemas.Page[schemas.Poll](
        items=[schemas.poll_out(p) for p in page.items],
        total_count=page.total_count,
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
    )


@router.get("/polls", tags=["polls"])
async def polls_of_proposals(
    proposal_ids: Annotated[list[str] | None, Query(alias="proposalIds")] = None,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> core_schemas.Items[schemas.Poll]:
    """The polls linked to these proposals (batch, for the gateway's loaders)."""
    found = await meta.polls_of_proposals(session, _split(proposal_ids))
    return core_schemas.Items[schemas.Poll](items=[schemas.poll_out(p) for p in found])


@router.get("/polls/{poll_id}", tags=["polls"])
async def poll(
    poll_id: str, who: Caller = Who, session: AsyncSession = SessionDep, meta: Metagovernance = Meta
) -> schemas.Poll:
    found = await meta.get_poll(session, poll_id)
    return schemas.poll_out(found, await meta.my_answer(session, who.actor, found))


@router.post("/polls/{poll_id}/answers", tags=["polls"])
async def answer(
    poll_id: str,
    data: schemas.AnswerInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.Poll:
    actor = who.require_actor()
    answered = await meta.answer_poll(session, actor, poll_id, data.choices)
    return schemas.poll_out(answered, await meta.my_answer(session, actor, answered))


@router.post("/polls/{poll_id}/link", tags=["polls"])
async def link_poll(
    poll_id: str,
    data: schemas.LinkPollInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.Poll:
    return schemas.poll_out(await meta.link_poll(session, who.require_actor(), poll_id, data.proposal_id))


# --- milestones -----------------------------------------------------------------------------------------


@router.get("/organizations/{organization_id}/milestones", tags=["milestones"])
async def milestones(
    organization_id: str, session: AsyncSession = SessionDep, meta: Metagovernance = Meta
) -> schemas.MilestoneGraph:
    return schemas.MilestoneGraph.model_validate(await meta.milestones(session, organization_id))


@router.post("/organizations/{organization_id}/milestones", status_code=201, tags=["milestones"])
async def create_milestone(
    organization_id: str,
    data: schemas.MilestoneInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.MilestoneGraph:
    """Adds a milestone; answers the organisation's whole graph (with the new one)."""
    await meta.create_milestone(session, who.require_actor(), organization_id, data)
    return schemas.MilestoneGraph.model_validate(await meta.milestones(session, organization_id))


@router.post("/milestones/{milestone_id}/links", tags=["milestones"])
async def link_milestone(
    milestone_id: str,
    data: schemas.MilestoneLinksInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    meta: Metagovernance = Meta,
) -> schemas.MilestoneGraph:
    """Adds dependencies and links to a milestone; answers the organisation's whole graph."""
    org_id = await meta.link_milestone(session, who.require_actor(), milestone_id, data)
    return schemas.MilestoneGraph.model_validate(await meta.milestones(session, org_id))
