"""Webhook use cases: register, list, delete; fan an event out into deliveries; lease, record and retry
attempts. Nothing here commits (the HTTP session, the consumer, the schedulers and the sender own the
transactions) and nothing here makes an HTTP request (`sender.py` does, outside any transaction).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit import (
    Clock,
    Conflict,
    Deadline,
    Envelope,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    cancel_deadline,
    lock_deadlines,
    schedule_deadline,
)

from . import repository as repo
from .crypto import SecretBox, new_secret
from .domain import (
    ATTEMPT_KIND,
    LEASE_KIND,
    LEASE_MARGIN_SECONDS,
    MAX_ENDPOINTS_PER_ORGANIZATION,
    REGISTERED_BEFORE_EVENT_TOLERANCE_SECONDS,
    DeliveryStatus,
    after_attempt,
    ip_literal,
    matches,
    parse_filters,
    parse_url,
    refuse_unless_public,
    signature,
)
from .sender import Request, Resolver, Result, resolve


def attempt_key(delivery_id: uuid.UUID, attempt: int) -> str:
    return f"webhook:{delivery_id}:{attempt}"


def lease_key(delivery_id: uuid.UUID, attempt: int) -> str:
    return f"webhook:{delivery_id}:{attempt}:lease"


@dataclass(frozen=True)
class Page:
    items: list[tuple[repo.Delivery, list[repo.Attempt]]]
    total_count: int
    end_cursor: str | None
    has_next_page: bool


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode().rstrip("=")


def _before(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["p"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput("after is not a cursor from this API", field="after") from exc


@dataclass
class Webhooks:
    clock: Clock
    box: SecretBox
    timeout_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    allow_private_addresses: bool = False
    require_https: bool = True
    resolver: Resolver = resolve

    # --- who may --------------------------------------------------------------------------------------

    async def _organization(self, session: AsyncSession, slug: str) -> repo.Organization:
        org = await repo.organization_by_slug(session, slug)
        if org is None:
            raise NotFound(f"no organisation {slug!r}", field="organization")
        return org

    async def _require_manager(self, session: AsyncSession, org: repo.Organization, actor: str | None) -> str:
        """Webhooks are the organisation's: its Stakeholder Group members and TLC core team manage them."""
        if actor is None:
            raise Unauthenticated("sign in first")
        if not await repo.is_manager(session, org, actor.lower()):
            raise Forbidden(
                "only the organisation's Stakeholder Group members and Top Level Cell core team "
                "manage its webhooks"
            )
        return actor.lower()

    async def _owned_endpoint(
        self, session: AsyncSession, endpoint_id: uuid.UUID, actor: str | None
    ) -> repo.Endpoint:
        endpoint = await repo.get_endpoint(session, endpoint_id)
        org = None if endpoint is None else await repo.organization_by_id(session, endpoint.organization_id)
        if endpoint is None or org is None:
            raise NotFound("no such webhook", field="id")
        try:
            await self._require_manager(session, org, actor)
        except Forbidden:
            # someone else's webhook is not there for them
            raise NotFound("no such webhook", field="id") from None
        return endpoint

    # --- endpoints ------------------------------------------------------------------------------------

    async def register(
        self, session: AsyncSession, slug: str, actor: str | None, url: str, subjects: list[str] | None
    ) -> tuple[repo.Organization, repo.Endpoint, str]:
        """A new endpoint and its signing secret, which is shown this once."""
        org = await self._organization(session, slug)
        who = await self._require_manager(session, org, actor)
        target = parse_url(url, require_https=self.require_https)
        filters = parse_filters(subjects)
        literal = ip_literal(target.host)
        try:
            addresses = [literal] if literal else await self.resolver(target.host, target.port)
        except OSError:
            addresses = []
        refuse_unless_public(addresses, allow_private=self.allow_private_addresses)
        await repo.lock_organization_endpoints(session, org.id)
        if await repo.count_endpoints(session, org.id) >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise Conflict(f"an organisation has at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhooks")
        secret = new_secret()
        endpoint = repo.Endpoint(
            id=uuid.uuid4(),
            organization_id=org.id,
            url=target.url,
            subjects=filters,
            secret_ciphertext=self.box.encrypt(secret),
            created_by=who,
            created_at=self.clock.now(),
        )
        await repo.insert_endpoint(session, endpoint)
        return org, endpoint, secret

    async def list(
        self, session: AsyncSession, slug: str, actor: str | None
    ) -> tuple[repo.Organization, list[repo.Endpoint], dict[uuid.UUID, dict[str, int]]]:
        org = await self._organization(session, slug)
        await self._require_manager(session, org, actor)
        found = await repo.endpoints_of(session, org.id)
        return org, found, await repo.delivery_counts(session, [e.id for e in found])

    async def delete(self, session: AsyncSession, endpoint_id: uuid.UUID, actor: str | None) -> None:
        endpoint = await self._owned_endpoint(session, endpoint_id, actor)
        await repo.delete_endpoint(session, endpoint.id)

    async def deliveries(
        self,
        session: AsyncSession,
        endpoint_id: uuid.UUID,
        actor: str | None,
        *,
        first: int,
        after: str | None,
        statuses: Sequence[DeliveryStatus] = (),
    ) -> Page:
        endpoint = await self._owned_endpoint(session, endpoint_id, actor)
        found, total = await repo.deliveries_page(
            session, endpoint.id, first=first + 1, before=_before(after), statuses=list(statuses)
        )
        page, more = found[:first], len(found) > first
        tries = await repo.attempts_of(session, [d.id for _, d in page])
        return Page(
            items=[(d, tries[d.id]) for _, d in page],
            total_count=total,
            end_cursor=_cursor(page[-1][0]) if page else None,
            has_next_page=more,
        )

    # --- events → deliveries --------------------------------------------------------------------------

    async def on_event(self, session: AsyncSession, envelope: Envelope) -> int:
        """One event from the stream: a delivery (and its first attempt, due now) for every endpoint of
        the organisation whose filters match; answers how many."""
        data = envelope.data
        if envelope.aggregate == "organization" and envelope.event == "created":
            await repo.upsert_organization(
                session,
                repo.Organization(
                    id=uuid.UUID(str(data["organizationId"])),
                    slug=str(data["slug"]),
                    stakeholder_group_id=uuid.UUID(str(data["stakeholderGroupId"])),
                    top_level_cell_id=uuid.UUID(str(data["topLevelCellId"])),
                ),
            )
        try:
            organization_id = uuid.UUID(str(data.get("organizationId")))
        except ValueError:
            return 0
        now = self.clock.now()
        tail = f"{envelope.aggregate}.{envelope.event}"
        oldest = envelope.time + timedelta(seconds=REGISTERED_BEFORE_EVENT_TOLERANCE_SECONDS)
        body = envelope.to_json().decode()
        count = 0
        for endpoint in await repo.endpoints_of(session, organization_id):
            if endpoint.created_at > oldest or not matches(endpoint.subjects, tail):
                continue
            delivery = repo.Delivery(
                id=uuid.uuid4(),
                endpoint_id=endpoint.id,
                event_id=envelope.id,
                event_type=envelope.type,
                subject=tail,
                body=body,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                lease_until=None,
                last_status_code=None,
                last_error=None,
                created_at=now,
                finished_at=None,
            )
            if await repo.insert_delivery(session, delivery):
                await self._schedule_attempt(session, delivery.id, endpoint.id, 1, now)
                count += 1
        return count

    async def _schedule_attempt(
        self,
        session: AsyncSession,
        delivery_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        attempt: int,
        at: datetime,
    ) -> None:
        payload = {"deliveryId": str(delivery_id), "endpointId": str(endpoint_id), "attempt": attempt}
        await schedule_deadline(session, attempt_key(delivery_id, attempt), ATTEMPT_KIND, at, payload)

    # --- attempts -------------------------------------------------------------------------------------

    async def on_deadline(self, session: AsyncSession, deadline: Deadline) -> None:
        """Fired by the webhook scheduler (deadline row locked).

        An attempt's deadline only says "due now": its delivery is already PENDING with that
        `next_attempt_at`, and the scheduler's after-commit hook wakes the endpoint's sender, which
        claims it. A lease's deadline gives back an attempt whose sender stopped before recording a result.
        """
        if deadline.kind != LEASE_KIND:
            return
        delivery_id = uuid.UUID(str(deadline.payload["deliveryId"]))
        attempt = int(deadline.payload["attempt"])
        delivery = await repo.get_delivery(session, delivery_id, for_update=True)
        if (
            delivery is not None
            and delivery.status is DeliveryStatus.SENDING
            and delivery.attempts == attempt
        ):
            lost = Result(None, "the sender stopped before an answer was recorded", 0)
            await self._settle(session, delivery, attempt, lost, self.clock.now(), firing=deadline.key)

    async def claim(self, session: AsyncSession, endpoint_id: uuid.UUID) -> Request | None:
        """The endpoint's next due delivery, leased to the caller for one attempt, as a signed request;
        None when nothing of this endpoint is due."""
        now = self.clock.now()
        delivery = await repo.claim_due(session, endpoint_id, now)
        endpoint = None if delivery is None else await repo.get_endpoint(session, endpoint_id)
        if delivery is None or endpoint is None:
            return None
        attempt = delivery.attempts + 1
        lease_until = now + timedelta(seconds=self.timeout_seconds + LEASE_MARGIN_SECONDS)
        await repo.update_delivery(
            session,
            delivery.id,
            status=DeliveryStatus.SENDING,
            attempts=attempt,
            lease_until=lease_until,
            next_attempt_at=None,
        )
        payload = {"deliveryId": str(delivery.id), "endpointId": str(endpoint_id), "attempt": attempt}
        await schedule_deadline(session, lease_key(delivery.id, attempt), LEASE_KIND, lease_until, payload)
        body = delivery.body.encode()
        # the receiver checks this against its own clock: wall time, not the service's (injectable) one
        timestamp = int(time.time())
        return Request(
            delivery_id=delivery.id,
            attempt=attempt,
            url=endpoint.url,
            body=body,
            headers={
                "Content-Type": "application/cloudevents+json; charset=utf-8",
                "Webhook-Id": delivery.event_id,
                "Webhook-Timestamp": str(timestamp),
                "Webhook-Signature": signature(self.box.decrypt(endpoint.secret_ciphertext), timestamp, body),
                "Webhook-Attempt": str(attempt),
                "Webhook-Delivery": str(delivery.id),
            },
        )

    async def due_endpoints(self, session: AsyncSession) -> list[uuid.UUID]:
        """Endpoints with a delivery due (the sweep that wakes senders a lost wake-up left idle)."""
        return await repo.endpoints_with_due_deliveries(session, self.clock.now())

    async def record(
        self, session: AsyncSession, delivery_id: uuid.UUID, attempt: int, result: Result
    ) -> None:
        """What an attempt's request came to: delivered, retried after a backoff, or dead."""
        # the lease deadline's row first, as the scheduler takes them: a lease running out meanwhile waits
        await lock_deadlines(session, [lease_key(delivery_id, attempt)])
        delivery = await repo.get_delivery(session, delivery_id, for_update=True)
        if delivery is None:
            return
        await self._settle(session, delivery, attempt, result, self.clock.now())

    async def _settle(
        self,
        session: AsyncSession,
        delivery: repo.Delivery,
        attempt: int,
        result: Result,
        now: datetime,
        *,
        firing: str | None = None,
    ) -> None:
        await repo.add_attempt(
            session,
            delivery.id,
            repo.Attempt(attempt, now, result.status_code, result.error, result.duration_ms),
        )
        if delivery.status is not DeliveryStatus.SENDING or delivery.attempts != attempt:
            return  # the lease ran out first and the attempt was already settled
        if firing != lease_key(delivery.id, attempt):
            await cancel_deadline(session, lease_key(delivery.id, attempt))
        outcome = after_attempt(
            attempt,
            result.status_code,
            now=now,
            max_attempts=self.max_attempts,
            base=self.retry_base_seconds,
            cap=self.retry_max_seconds,
        )
        values: dict[str, Any] = {
            "status": outcome.status,
            "lease_until": None,
            "next_attempt_at": outcome.retry_at,
            "last_status_code": result.status_code,
            "last_error": result.error,
        }
        if outcome.status in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD):
            values["finished_at"] = now
        await repo.update_delivery(session, delivery.id, **values)
        if outcome.retry_at is not None:
            await self._schedule_attempt(
                session, delivery.id, delivery.endpoint_id, attempt + 1, outcome.retry_at
            )

    # --- housekeeping and status ----------------------------------------------------------------------

    async def purge(self, session: AsyncSession, retention_seconds: int) -> int:
        return await repo.delete_finished_before(
            session, self.clock.now() - timedelta(seconds=retention_seconds)
        )

    async def status_details(self, session: AsyncSession) -> dict[str, Any]:
        stats = await repo.webhook_stats(session)
        return {
            "webhookEndpoints": stats["endpoints"],
            "webhookUndelivered": stats["undelivered"],
            "webhookDead": stats["dead"],
        }
