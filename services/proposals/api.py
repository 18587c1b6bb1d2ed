"""Proposals HTTP API (docs/internal-api.md, "Proposals HTTP API"): thin routes over the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Caller, SessionDep, caller

from . import schemas
from .service import DEFAULT_PAGE, MAX_PAGE, ProposalsService

router = APIRouter(prefix="/v1", dependencies=[Depends(caller)])


async def service_dep(request: Request) -> ProposalsService:
    return request.app.state.proposals


Service = Depends(service_dep)
Who = Depends(caller)
# repeated (`?status=A&status=B`) or comma-separated (`?status=A,B`)
Repeated = Annotated[list[str] | None, Query()]
First = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


@router.get("/organizations/{organization_id}/policy", tags=["policy"])
async def policy(
    organization_id: str, session: AsyncSession = SessionDep, service: ProposalsService = Service
) -> schemas.PolicyOut:
    return schemas.policy_out(organization_id, await service.get_policy(session, organization_id))


@router.post("/proposals", status_code=201, tags=["proposals"])
async def create_proposal(
    data: schemas.CreateProposalInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Service,
) -> schemas.Proposal:
    return schemas.proposal_out(await service.create_proposal(session, who.require_actor(), data))


def _json(model: BaseModel) -> Response:
    # pydantic's serializer writes the JSON in one pass; FastAPI's `jsonable_encoder` (what a route
    # without a response model gets) walks a page of proposals field by field in Python first
    return Response(model.model_dump_json(), media_type="application/json")


@router.get(
    "/proposals",
    tags=["proposals"],
    response_model=None,
    responses={200: {"model": schemas.Items[schemas.Proposal] | schemas.Page[schemas.Proposal]}},
)
async def proposals(
    ids: Repeated = None,
    organization_id: Annotated[str | None, Query(alias="organizationId")] = None,
    organization: str | None = None,
    status: Repeated = None,
    kind: str | None = None,
    body_id: Annotated[str | None, Query(alias="bodyId")] = None,
    first: First = DEFAULT_PAGE,
    after: str | None = None,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Service,
) -> Response:
    """A batch by `ids`, or one organisation's proposals newest first (filters and a keyset page)."""
    if ids is not None:
        found = await service.get_proposals(session, _split(ids))
        return _json(schemas.Items[schemas.Proposal](items=[schemas.proposal_out(p) for p in found]))
    page = await service.list_proposals(
        session,
        organization_id=organization_id,
        organization=organization,
        statuses=_split(status),
        kind=kind,
        body_id=body_id,
        first=first,
        after=after,
    )
    return _json(
        schemas.Page[schemas.Proposal](
            items=[schemas.proposal_out(p) for p in page.items],
            total_count=page.total_count,
            end_cursor=page.end_cursor,
            has_next_page=page.has_next_page,
        )
    )


@router.get("/proposals/{proposal_id}", tags=["proposals"])
async def proposal(
    proposal_id: str, session: AsyncSession = SessionDep, service: ProposalsService = Service
) -> schemas.Proposal:
    return schemas.proposal_out(await service.get_proposal(session, proposal_id))


@router.get("/proposals/{proposal_id}/history", tags=["proposals"])
async def history(
    proposal_id: str, session: AsyncSession = SessionDep, service: ProposalsService = Service
) -> schemas.Items[schemas.HistoryEntry]:
    return schemas.history_out(await service.get_proposal(session, proposal_id))


@router.get("/proposals/{proposal_id}/votes", tags=["votes"])
async def votes(
    proposal_id: str,
    first: First = DEFAULT_PAGE,
    after: str | None = None,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Service,
) -> schemas.Page[schemas.Vote]:
    page = await service.list_votes(session, proposal_id, first=first, after=after)
    return schemas.Page[schemas.Vote](
        items=[schemas.vote_out(v) for v in page.items],
        total_count=page.total_count,
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
    )


@router.post("/proposals/{proposal_id}/votes", tags=["votes"])
async def cast_vote(
    proposal_id: str,
    data: schemas.CastVoteInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Service,
) -> schemas.VoteResult:
    vote, proposal = await service.cast_vote(session, who.require_actor(), proposal_id, data)
    return schemas.VoteResult(vote=schemas.vote_out(vote), proposal=schemas.proposal_out(proposal))


@router.post("/proposals/{proposal_id}/cancel", tags=["proposals"])
async def cancel(
    proposal_id: str,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: ProposalsService = Service,
) -> schemas.Proposal:
    return schemas.proposal_out(await service.cancel(session, who.require_actor(), proposal_id))
