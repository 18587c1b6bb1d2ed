"""Membership HTTP API (docs/internal-api.md, "Membership HTTP API"): thin routes over the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Caller, SessionDep, caller

from . import schemas
from .service import DEFAULT_PAGE, MAX_PAGE, MembershipService

router = APIRouter(prefix="/v1", dependencies=[Depends(caller)])


async def service_dep(request: Request) -> MembershipService:
    return request.app.state.membership


Service = Depends(service_dep)
# repeated (`?ids=a&ids=b`) or comma-separated (`?ids=a,b`)
IdList = Annotated[list[str] | None, Query()]
Who = Depends(caller)


@router.post("/organizations", status_code=201, tags=["organizations"])
async def create_organization(
    data: schemas.CreateOrganizationInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Organization:
    return await service.create_organization(session, who.require_actor(), data)


@router.get("/organizations", tags=["organizations"])
async def organizations_batch(
    ids: IdList = None,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Items[schemas.Organization]:
    return schemas.Items(items=await service.get_organizations(session, ids or []))


@router.get("/organizations/{slug}", tags=["organizations"])
async def organization(
    slug: str, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.Organization:
    return await service.get_organization(session, slug)


@router.get("/organizations/{slug}/treasury", tags=["funds"])
async def treasury(
    slug: str, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.Treasury:
    return await service.treasury(session, slug)


@router.post("/organizations/{slug}/commitments", status_code=201, tags=["funds"])
async def commit_funds(
    slug: str,
    data: schemas.CommitInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Commitment:
    return await service.commit_funds(session, who.require_actor(), slug, data)


@router.get("/bodies", tags=["bodies"])
async def bodies_batch(
    ids: IdList = None,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Items[schemas.Body]:
    return schemas.Items(items=await service.get_bodies(session, ids or []))


@router.get("/bodies/{body_id}", tags=["bodies"])
async def body(
    body_id: str, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.Body:
    return await service.get_body(session, body_id)


@router.get("/bodies/{body_id}/members", tags=["bodies"])
async def body_members(
    body_id: str,
    first: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    after: str | None = None,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Page[schemas.Membership]:
    return await service.body_members(session, body_id, first=first, after=after)


@router.post("/bodies/{body_id}/leave", tags=["bodies"])
async def leave_body(
    body_id: str, who: Caller = Who, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.LeaveResult:
    return await service.leave_body(session, who.require_actor(), body_id)


@router.post("/organizations/{slug}/commissions", status_code=201, tags=["commissions"])
async def create_commission(
    slug: str,
    data: schemas.CommissionInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Body:
    return await service.create_commission(session, who.require_actor(), slug, data)


@router.get("/organizations/{slug}/commissions", tags=["commissions"])
async def commissions(
    slug: str, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.Items[schemas.Body]:
    return schemas.Items(items=await service.commissions(session, slug))


@router.post("/bodies/{body_id}/seats", tags=["commissions"])
async def seat_commissioner(
    body_id: str,
    data: schemas.SeatInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Body:
    return await service.seat_commissioner(session, who.require_actor(), body_id, data)


@router.post("/bodies/{body_id}/draw", tags=["commissions"])
async def draw_commissioners(
    body_id: str,
    data: schemas.DrawInput,
    who: Caller = Who,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Body:
    return await service.draw_commissioners(session, who.require_actor(), body_id, data)


@router.get("/members", tags=["members"])
async def members_batch(
    addresses: IdList = None,
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Items[schemas.Member]:
    return schemas.Items(items=await service.get_members(session, addresses or []))


@router.get("/members/{address}/memberships", tags=["members"])
async def member_memberships(
    address: str,
    include_former: bool = Query(default=False, alias="includeFormer"),
    session: AsyncSession = SessionDep,
    service: MembershipService = Service,
) -> schemas.Items[schemas.MembershipWithBody]:
    return schemas.Items(
        items=await service.member_memberships(session, address, include_former=include_former)
    )


@router.post("/auth/challenge", tags=["sign-in"])
async def challenge(
    data: schemas.ChallengeInput, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.Challenge:
    return await service.challenge(session, data.address)


@router.post("/auth/sign-in", tags=["sign-in"])
async def sign_in(
    data: schemas.SignInInput, session: AsyncSession = SessionDep, service: MembershipService = Service
) -> schemas.SignInResult:
    return await service.sign_in(session, data.message, data.signature)
