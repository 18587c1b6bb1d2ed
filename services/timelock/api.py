"""Timelock HTTP API (docs/internal-api.md, "Timelock HTTP API"): thin routes over `Timelock`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Caller, NotFound, SessionDep, caller

from .schemas import ConcernInput, ConcernOut, ConcernResult, ObjectionInput, ReviewBatch, ReviewOut
from .service import Timelock

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], dependencies=[Depends(caller)])

MAX_BATCH = 500


async def timelock_dep(request: Request) -> Timelock:
    return request.app.state.runtime.extra["timelock"]


TimelockDep = Annotated[Timelock, Depends(timelock_dep)]
CallerDep = Annotated[Caller, Depends(caller)]


def _proposal_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no review for this proposal", field="proposalId") from None


def _ids(values: list[str]) -> list[uuid.UUID]:
    # Ids that are not UUIDs name nothing we hold: like unknown ids, they are simply absent.
    out: list[uuid.UUID] = []
    for value in values:
        for part in value.split(","):
            try:
                out.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return out[:MAX_BATCH]


@router.get("", response_model=ReviewBatch, response_model_by_alias=True)
async def reviews_batch(
    timelock: TimelockDep,
    proposal_ids: Annotated[list[str], Query(alias="proposalIds")] = [],  # noqa: B006 - FastAPI query default
    session: AsyncSession = SessionDep,
) -> ReviewBatch:
    found = await timelock.get_reviews(session, _ids(proposal_ids))
    return ReviewBatch(items=[ReviewOut.of(r) for r in found])


@router.get("/by-proposal/{proposal_id}", response_model=ReviewOut, response_model_by_alias=True)
async def review_of_proposal(
    proposal_id: str, timelock: TimelockDep, session: AsyncSession = SessionDep
) -> ReviewOut:
    return ReviewOut.of(await timelock.get_review(session, _proposal_id(proposal_id)))


@router.post(
    "/by-proposal/{proposal_id}/concerns",
    response_model=ConcernResult,
    response_model_by_alias=True,
)
async def raise_concern(
    proposal_id: str,
    body: ConcernInput,
    timelock: TimelockDep,
    who: CallerDep,
    session: AsyncSession = SessionDep,
) -> ConcernResult:
    concern, review = await timelock.raise_concern(
        session, _proposal_id(proposal_id), who.require_actor(), body.reason
    )
    return ConcernResult(concern=ConcernOut.of(concern), review=ReviewOut.of(review))


@router.post("/by-proposal/{proposal_id}/objections", response_model=ReviewOut, response_model_by_alias=True)
async def object_to_proposal(
    proposal_id: str,
    timelock: TimelockDep,
    who: CallerDep,
    body: ObjectionInput | None = None,
    session: AsyncSession = SessionDep,
) -> ReviewOut:
    reason = body.reason if body else None
    review = await timelock.add_objection(session, _proposal_id(proposal_id), who.require_actor(), reason)
    return ReviewOut.of(review)


@router.delete(
    "/by-proposal/{proposal_id}/objections", response_model=ReviewOut, response_model_by_alias=True
)
async def withdraw_objection(
    proposal_id: str, timelock: TimelockDep, who: CallerDep, session: AsyncSession = SessionDep
) -> ReviewOut:
    review = await timelock.withdraw_objection(session, _proposal_id(proposal_id), who.require_actor())
    return ReviewOut.of(review)
