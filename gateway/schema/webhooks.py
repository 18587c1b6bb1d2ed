"""Webhooks: an organisation's signed HTTP deliveries of its events (docs/events.md, "Webhooks").

The timelock service keeps the endpoints and sends the deliveries; these fields only call it, on behalf
of the signed-in member (its Stakeholder Group members and Top Level Cell core team may manage them).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.clients import models as m
from gateway.context import Context
from gateway.schema import pagination
from gateway.schema.errors import UserError, guarded, refusals
from gateway.schema.pagination import Connection, connection
from gateway.schema.types import Member
from gateway.schema.validation import is_slug, is_uuid
from kit import NotFound


@strawberry.enum(description="Where one delivery of one event to one webhook stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for its next attempt.")
    SENDING = strawberry.enum_value("SENDING", description="An attempt is under way.")
    DELIVERED = strawberry.enum_value("DELIVERED", description="The endpoint answered 2xx.")
    DEAD = strawberry.enum_value("DEAD", description="Every attempt allowed failed; no more are made.")


@strawberry.type(description="One HTTP request of a delivery and how it went.")
class WebhookAttempt:
    number: int = strawberry.field(description="1 for the first attempt, then 2, 3, …")
    at: datetime = strawberry.field(description="When the attempt's result was recorded.")
    status_code: int | None = strawberry.field(description="The endpoint's HTTP status; null if none came.")
    error: str | None = strawberry.field(
        description="Why it failed (a status and the start of the answer, a timeout, a refused connection)."
    )
    duration_ms: int = strawberry.field(description="How long the request took, in milliseconds.")


@strawberry.type(description="One event sent (or being sent) to one webhook.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery (header `Webhook-Delivery`).")
    event_id: str = strawberry.field(description="The CloudEvents `id` (header `Webhook-Id`).")
    event_type: str = strawberry.field(
        description="The CloudEvents `type`, e.g. governance.proposal.enacted.v1."
    )
    subject: str = strawberry.field(description="`<aggregate>.<event>`, e.g. proposal.enacted.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempt_count: int = strawberry.field(description="Attempts made so far.")
    last_status_code: int | None = strawberry.field(description="The last attempt's HTTP status, if any.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed; null if it did not.")
    next_attempt_at: datetime | None = strawberry.field(description="When the next attempt is due, if any.")
    created_at: datetime = strawberry.field(description="When the event was taken for this webhook.")
    finished_at: datetime | None = strawberry.field(description="When it was delivered or given up.")
    attempts: list[WebhookAttempt] = strawberry.field(description="Every attempt, first to last.")

    @classmethod
    def from_wire(cls, d: m.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(d.id),
            event_id=d.event_id,
            event_type=d.event_type,
            subject=d.subject,
            status=WebhookDeliveryStatus(d.status),
            attempt_count=d.attempt_count,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempts=[
                WebhookAttempt(
                    number=a.number,
                    at=a.at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in d.attempts
            ],
        )


@strawberry.type(description="An HTTPS endpoint that receives an organisation's events, signed.")
class Webhook:
    id: strawberry.ID = strawberry.field(description="The webhook.")
    organization: str = strawberry.field(description="The organisation's slug.")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    subjects: list[str] = strawberry.field(
        description="Which events: `<aggregate>.<event>` filters with `*` and `>` (e.g. proposal.>)."
    )
    created_at: datetime = strawberry.field(description="When it was registered.")
    created_by: Member = strawberry.field(description="Who registered it.")
    pending_count: int = strawberry.field(description="Deliveries waiting for an attempt or in one.")
    delivered_count: int = strawberry.field(
        description="Deliveries the endpoint accepted (kept for a retention period)."
    )
    dead_count: int = strawberry.field(
        description="Deliveries given up after the last attempt (kept for a retention period)."
    )

    @classmethod
    def from_wire(cls, w: m.Webhook) -> Webhook:
        counts = w.deliveries
        return cls(
            id=strawberry.ID(w.id),
            organization=w.organization,
            url=w.url,
            subjects=list(w.subjects),
            created_at=w.created_at,
            created_by=Member.of(w.created_by),
            pending_count=counts.get("PENDING", 0) + counts.get("SENDING", 0),
            delivered_count=counts.get("DELIVERED", 0),
            dead_count=counts.get("DEAD", 0),
        )

    @strawberry.field(description="Its deliveries, newest first, a page at a time.")
    async def deliveries(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
        status: Annotated[
            list[WebhookDeliveryStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
    ) -> Connection[WebhookDelivery]:
        client = info.context.timelock
        statuses = [s.value for s in status or []]
        w = await pagination.window(
            lambda n, a: client.webhook_deliveries(str(self.id), first=n, after=a, statuses=statuses),
            first,
            after,
        )
        return connection(
            w, [WebhookDelivery.from_wire(m.WebhookDelivery.model_validate(i)) for i in w.items]
        )


@strawberry.type(description="The result of registering a webhook.")
class RegisterWebhookPayload:
    webhook: Webhook | None = strawberry.field(default=None, description="The new webhook.")
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, shown this once only: keep it to verify `Webhook-Signature`.",
    )
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of deleting a webhook.")
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The webhook deleted.")
    user_errors: list[UserError] = refusals()


def _slug(organization: str) -> str:
    if not is_slug(organization):
        raise NotFound(f"no organisation {organization!r}", field="organization")
    return organization


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="An organisation's webhooks (its Stakeholder Group members and TLC core team only)."
    )
    async def webhooks(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
    ) -> list[Webhook]:
        info.context.require_actor()
        found = await info.context.timelock.webhooks(_slug(organization))
        return [Webhook.from_wire(w) for w in found]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description=(
            "Register an HTTPS endpoint for an organisation's events (its Stakeholder Group members and "
            "TLC core team); the answer carries the signing secret, once."
        )
    )
    async def register_webhook(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        url: Annotated[str, strawberry.argument(description="An https:// URL on a public address.")],
        subjects: Annotated[
            list[str] | None,
            strawberry.argument(
                description="Filters like proposal.>, vote.cast or *.created (default: every event)."
            ),
        ] = None,
    ) -> RegisterWebhookPayload:
        async def run() -> RegisterWebhookPayload:
            info.context.require_actor()
            webhook, secret = await info.context.timelock.register_webhook(_slug(organization), url, subjects)
            return RegisterWebhookPayload(webhook=Webhook.from_wire(webhook), secret=secret)

        return await guarded(RegisterWebhookPayload, run)

    @strawberry.mutation(description="Delete a webhook: no more deliveries, its history goes with it.")
    async def delete_webhook(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The webhook.")],
    ) -> DeleteWebhookPayload:
        async def run() -> DeleteWebhookPayload:
            info.context.require_actor()
            if not is_uuid(id):
                raise NotFound("no such webhook", field="id")
            await info.context.timelock.delete_webhook(str(id))
            return DeleteWebhookPayload(deleted_id=id)

        return await guarded(DeleteWebhookPayload, run)
