"""Webhooks HTTP API (docs/internal-api.md, "Webhooks"): thin routes over `Webhooks`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kit import Caller, InvalidInput, NotFound, SessionDep, caller

from .domain import DeliveryStatus
from .schemas import Deleted, DeliveryOut, DeliveryPage, Registered, RegisterInput, WebhookList, WebhookOut
from .service import Webhooks

router = APIRouter(prefix="/v1", tags=["webhooks"], dependencies=[Depends(caller)])

DEFAULT_PAGE = 20
MAX_PAGE = 100


def webhooks_dep(request: Request) -> Webhooks:
    return request.app.state.runtime.extra["webhooks"]


WebhooksDep = Annotated[Webhooks, Depends(webhooks_dep)]
CallerDep = Annotated[Caller, Depends(caller)]


def _webhook_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such webhook", field="id") from None


@router.post(
    "/organizations/{slug}/webhooks", status_code=201, response_model=Registered, response_model_by_alias=True
)
async def register_webhook(
    slug: str, body: RegisterInput, webhooks: WebhooksDep, who: CallerDep, session: AsyncSession = SessionDep
) -> Registered:
    org, endpoint, secret = await webhooks.register(session, slug, who.actor, body.url, body.subjects)
    return Registered(webhook=WebhookOut.of(endpoint, org), secret=secret)


@router.get("/organizations/{slug}/webhooks", response_model=WebhookList, response_model_by_alias=True)
async def list_webhooks(
    slug: str, webhooks: WebhooksDep, who: CallerDep, session: AsyncSession = SessionDep
) -> WebhookList:
    org, endpoints, counts = await webhooks.list(session, slug, who.actor)
    return WebhookList(items=[WebhookOut.of(e, org, counts[e.id]) for e in endpoints])


@router.delete("/webhooks/{webhook_id}", response_model=Deleted, response_model_by_alias=True)
async def delete_webhook(
    webhook_id: str, webhooks: WebhooksDep, who: CallerDep, session: AsyncSession = SessionDep
) -> Deleted:
    endpoint_id = _webhook_id(webhook_id)
    await webhooks.delete(session, endpoint_id, who.actor)
    return Deleted(id=endpoint_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage, response_model_by_alias=True)
async def webhook_deliveries(
    webhook_id: str,
    webhooks: WebhooksDep,
    who: CallerDep,
    first: int = DEFAULT_PAGE,
    after: str | None = None,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI query default
    session: AsyncSession = SessionDep,
) -> DeliveryPage:
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be from 0 to {MAX_PAGE}", field="first")
    try:
        statuses = [DeliveryStatus(s) for value in status for s in value.split(",") if s]
    except ValueError:
        raise InvalidInput("status is one of PENDING, SENDING, DELIVERED, DEAD", field="status") from None
    page = await webhooks.deliveries(
        session, _webhook_id(webhook_id), who.actor, first=first, after=after, statuses=statuses
    )
    return DeliveryPage(
        items=[DeliveryOut.of(d, a) for d, a in page.items],
        total_count=page.total_count,
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
    )
