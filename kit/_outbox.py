"""The transactional outbox: events are rows written with the change, then relayed to JetStream.

`record_event(session, envelope, subject_prefix)` appends an event inside the caller's transaction and
gives it the next `sequence` of its aggregate (the counter row is locked until commit, so per aggregate
the sequence order is the commit order is the outbox order).

`Relay` publishes unpublished rows in outbox order with `Nats-Msg-Id` = event id and marks them in the
same transaction. One relay per database holds a transaction-level advisory lock while it publishes,
so replicas never interleave (which would break order); the row locks (`FOR UPDATE SKIP LOCKED`) keep a
batch from being taken twice. A crash between publish and mark republishes the same ids, which
JetStream drops as duplicates within the duplicate window. While NATS is down the rows simply wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ._db import Database, Notifier, notify_on_commit
from ._events import Envelope
from ._logging import REQUEST_ID_HEADER, current_request_id
from ._messaging import Messaging

log = logging.getLogger("kit.outbox")

OUTBOX_CHANNEL = "kit_outbox"
_RELAY_LOCK = 72_430_002

_NEXT_SEQUENCE = text(
    """
    INSERT INTO kit_event_sequences (aggregate, aggregate_id, last_sequence)
    VALUES (:aggregate, :aggregate_id, 1)
    ON CONFLICT (aggregate, aggregate_id)
    DO UPDATE SET last_sequence = kit_event_sequences.last_sequence + 1
    RETURNING last_sequence
    """
)
_INSERT = text(
    """
    INSERT INTO kit_outbox (id, subject, aggregate, aggregate_id, sequence, envelope, headers)
    VALUES (:id, :subject, :aggregate, :aggregate_id, :sequence,
            CAST(:envelope AS jsonb), CAST(:headers AS jsonb))
    """
)


# event families that are one aggregate for ordering: a review's operation continues the review
_SEQUENCE_FAMILY = {"operation": "review"}


def sequence_key(envelope: Envelope) -> str:
    """Events of one aggregate instance share a sequence (`operation.*` continue their `review`);
    votes count per proposal, separately from the proposal's own events."""
    return _SEQUENCE_FAMILY.get(envelope.aggregate, envelope.aggregate)


async def record_event(session: AsyncSession, envelope: Envelope, subject_prefix: str) -> Envelope:
    """Append `envelope` to the outbox in the session's transaction; fills `data.sequence`."""
    seq = (
        await session.execute(
            _NEXT_SEQUENCE, {"aggregate": sequence_key(envelope), "aggregate_id": envelope.aggregate_id}
        )
    ).scalar_one()
    envelope.data["sequence"] = seq
    headers = {"Nats-Msg-Id": envelope.id}
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    await session.execute(
        _INSERT,
        {
            "id": envelope.id,
            "subject": envelope.nats_subject(subject_prefix),
            "aggregate": sequence_key(envelope),
            "aggregate_id": envelope.aggregate_id,
            "sequence": seq,
            "envelope": json.dumps(envelope.to_cloudevent(), default=str),
            "headers": json.dumps(headers),
        },
    )
    notify_on_commit(session, OUTBOX_CHANNEL)
    return envelope


class Outbox:
    """Bound to a service's subject prefix so use cases write `await outbox.add(session, event)`."""

    def __init__(self, subject_prefix: str) -> None:
        self.subject_prefix = subject_prefix

    async def add(self, session: AsyncSession, envelope: Envelope) -> Envelope:
        return await record_event(session, envelope, self.subject_prefix)


@dataclass(slots=True)
class OutboxStats:
    backlog: int
    oldest_age_seconds: float


async def outbox_stats(session: AsyncSession, now: datetime) -> OutboxStats:
    row = (
        await session.execute(
            text("SELECT count(*), min(created_at) FROM kit_outbox WHERE published_at IS NULL")
        )
    ).one()
    oldest = (now - row[1]).total_seconds() if row[1] is not None else 0.0
    return OutboxStats(backlog=int(row[0]), oldest_age_seconds=max(0.0, oldest))


class Relay:
    """Publishes the outbox to JetStream, woken by NOTIFY and polling as a fallback."""

    def __init__(
        self,
        db: Database,
        messaging: Messaging,
        notifier: Notifier | None,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.messaging = messaging
        self.notifier = notifier
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_published = on_published
        self.published_total = 0

    async def run(self) -> None:
        await self.messaging.wait_ready()
        wake = self.notifier.event(OUTBOX_CHANNEL) if self.notifier else asyncio.Event()
        while True:
            wake.clear()
            try:
                count = await self.publish_batch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay batch failed", extra={"error": repr(exc)})
                count = 0
                await asyncio.sleep(self.poll_interval)
            if count >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.poll_interval)

    async def publish_batch(self) -> int:
        """Publish up to one batch; answer how many rows were published and marked."""
        if not self.messaging.connected:
            return 0
        async with self.db.session() as session:
            locked = (
                await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
            ).scalar_one()
            if not locked:
                return 0
            rows = (
                await session.execute(
                    text(
                        """
                        SELECT position, id, subject, envelope, headers FROM kit_outbox
                        WHERE published_at IS NULL ORDER BY position
                        LIMIT :n FOR UPDATE SKIP LOCKED
                        """
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            if not rows:
                return 0
            published: list[int] = []
            for position, _id, subject, envelope, headers in rows:
                try:
                    await self._publish(subject, envelope, headers)
                except Exception as exc:
                    # keep order: stop at the first failure, retry from here next time
                    await session.execute(
                        text(
                            "UPDATE kit_outbox SET attempts = attempts + 1, last_error = :e "
                            "WHERE position = :p"
                        ),
                        {"e": repr(exc)[:500], "p": position},
                    )
                    log.warning("publish failed", extra={"subject": subject, "error": repr(exc)})
                    break
                published.append(position)
            await self._mark(session, published)
        self.published_total += len(published)
        if self.on_published:
            self.on_published(len(published))
        return len(published)

    async def _publish(self, subject: str, envelope: Any, headers: Any) -> None:
        payload = (envelope if isinstance(envelope, str) else json.dumps(envelope)).encode()
        hdrs = headers if isinstance(headers, dict) else json.loads(headers)
        await self.messaging.js.publish(subject, payload, headers=hdrs, timeout=5)

    async def _mark(self, session: AsyncSession, positions: list[int]) -> None:
        if positions:
            await session.execute(
                text("UPDATE kit_outbox SET published_at = now() WHERE position = ANY(:p)"),
                {"p": positions},
            )
