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
from collections.abc import Callable, Sequence
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

# event families that are one aggregate for ordering: a review's operation continues the review
_SEQUENCE_FAMILY = {"operation": "review"}


def sequence_key(envelope: Envelope) -> str:
    """Events of one aggregate instance share a sequence (`operation.*` continue their `review`);
    votes count per proposal, separately from the proposal's own events."""
    return _SEQUENCE_FAMILY.get(envelope.aggregate, envelope.aggregate)


_NEXT_SEQUENCES = text(
    """
    INSERT INTO kit_event_sequences (aggregate, aggregate_id, last_sequence)
    SELECT * FROM unnest(CAST(:aggregates AS text[]), CAST(:ids AS text[]), CAST(:counts AS bigint[]))
    ON CONFLICT (aggregate, aggregate_id)
    DO UPDATE SET last_sequence = kit_event_sequences.last_sequence + EXCLUDED.last_sequence
    RETURNING aggregate, aggregate_id, last_sequence
    """
)
_INSERT_MANY = text(
    """
    INSERT INTO kit_outbox (id, subject, aggregate, aggregate_id, sequence, envelope, headers)
    SELECT id, subject, aggregate, aggregate_id, sequence, CAST(envelope AS jsonb), CAST(headers AS jsonb)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:subjects AS text[]), CAST(:aggregates AS text[]),
                CAST(:aggregate_ids AS text[]), CAST(:sequences AS bigint[]), CAST(:envelopes AS text[]),
                CAST(:headers AS text[])) WITH ORDINALITY
      AS t(id, subject, aggregate, aggregate_id, sequence, envelope, headers, n)
    ORDER BY n
    """
)


async def record_events(
    session: AsyncSession, envelopes: Sequence[Envelope], subject_prefix: str
) -> Sequence[Envelope]:
    """Append events to the outbox in the session's transaction, in two statements however many: each
    aggregate's events get the next sequences (filled into `data.sequence`) in the order given, and
    enter the outbox in that order."""
    if not envelopes:
        return envelopes
    counts: dict[tuple[str, str], int] = {}
    for envelope in envelopes:
        key = (sequence_key(envelope), envelope.aggregate_id)
        counts[key] = counts.get(key, 0) + 1
    # counter rows in one order, so that two batches never wait on each other crosswise
    ordered = sorted(counts)
    rows = (
        await session.execute(
            _NEXT_SEQUENCES,
            {
                "aggregates": [a for a, _ in ordered],
                "ids": [i for _, i in ordered],
                "counts": [counts[k] for k in ordered],
            },
        )
    ).all()
    next_of = {(a, i): last - counts[(a, i)] + 1 for a, i, last in rows}
    headers_extra = {REQUEST_ID_HEADER: rid} if (rid := current_request_id()) else {}
    columns: dict[str, list[Any]] = {
        k: [] for k in ("ids", "subjects", "aggregates", "aggregate_ids", "sequences", "envelopes", "headers")
    }
    for envelope in envelopes:
        key = (sequence_key(envelope), envelope.aggregate_id)
        seq = next_of[key]
        next_of[key] = seq + 1
        envelope.data["sequence"] = seq
        columns["ids"].append(envelope.id)
        columns["subjects"].append(envelope.nats_subject(subject_prefix))
        columns["aggregates"].append(key[0])
        columns["aggregate_ids"].append(key[1])
        columns["sequences"].append(seq)
        columns["envelopes"].append(json.dumps(envelope.to_cloudevent(), default=str))
        columns["headers"].append(json.dumps({"Nats-Msg-Id": envelope.id, **headers_extra}))
    await session.execute(_INSERT_MANY, columns)
    notify_on_commit(session, OUTBOX_CHANNEL)
    return envelopes


async def record_event(session: AsyncSession, envelope: Envelope, subject_prefix: str) -> Envelope:
    """Append `envelope` to the outbox in the session's transaction; fills `data.sequence`."""
    await record_events(session, [envelope], subject_prefix)
    return envelope


class Outbox:
    """Bound to a service's subject prefix so use cases write `await outbox.add(session, event)`."""

    def __init__(self, subject_prefix: str) -> None:
        self.subject_prefix = subject_prefix

    async def add(self, session: AsyncSession, envelope: Envelope) -> Envelope:
        return await record_event(session, envelope, self.subject_prefix)

    async def add_many(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> Sequence[Envelope]:
        return await record_events(session, envelopes, self.subject_prefix)


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
        ack_timeout: float = 5.0,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.ack_timeout = ack_timeout
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
                        SELECT position, subject, aggregate, aggregate_id, envelope, headers
                        FROM kit_outbox
                        WHERE published_at IS NULL ORDER BY position
                        LIMIT :n FOR UPDATE SKIP LOCKED
                        """
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            if not rows:
                return 0
            published = await self._publish_in_order(session, rows)
            await self._mark(session, published)
        self.published_total += len(published)
        if self.on_published:
            self.on_published(len(published))
        return len(published)

    async def _publish_in_order(self, session: AsyncSession, rows: Sequence[Any]) -> list[int]:
        """Send without waiting for each ack, in windows holding at most one event per aggregate
        instance: the window is acknowledged before the instance's next event is sent, so a failed
        publish can never let a later event of the same instance reach the stream before it (the only
        order the contract promises). Stops at the first failure; what was acknowledged is marked, the
        rest is sent again next time (JetStream drops what it already stored as duplicates)."""
        js = self.messaging.js
        published: list[int] = []
        window: list[tuple[int, str, asyncio.Future[Any]]] = []
        in_window: set[tuple[str, str]] = set()
        failure: tuple[int, str, BaseException] | None = None
        for position, subject, aggregate, aggregate_id, envelope, headers in rows:
            if (aggregate, aggregate_id) in in_window:
                failure = await self._await_acks(window, published)
                window, in_window = [], set()
                if failure is not None:
                    break
            payload = (envelope if isinstance(envelope, str) else json.dumps(envelope)).encode()
            hdrs = headers if isinstance(headers, dict) else json.loads(headers)
            try:
                future = await js.publish_async(subject, payload, headers=hdrs, wait_stall=self.ack_timeout)
            except Exception as exc:
                failure = (position, subject, exc)
                break
            window.append((position, subject, future))
            in_window.add((aggregate, aggregate_id))
        if window:
            failure = await self._await_acks(window, published) or failure
        if failure is not None:
            position, subject, exc = failure
            await session.execute(
                text("UPDATE kit_outbox SET attempts = attempts + 1, last_error = :e WHERE position = :p"),
                {"e": repr(exc)[:500], "p": position},
            )
            log.warning("publish failed", extra={"subject": subject, "error": repr(exc)})
        return published

    async def _await_acks(
        self, window: list[tuple[int, str, asyncio.Future[Any]]], published: list[int]
    ) -> tuple[int, str, BaseException] | None:
        """Wait for the window's acks; add the acknowledged positions; answer the first failure."""
        await asyncio.wait([f for _, _, f in window], timeout=self.ack_timeout)
        failure: tuple[int, str, BaseException] | None = None
        for position, subject, future in window:
            if future.done() and not future.cancelled() and future.exception() is None:
                published.append(position)
                continue
            if not future.done():
                future.cancel()
                error: BaseException = TimeoutError(f"no ack within {self.ack_timeout}s")
            elif future.cancelled():
                error = asyncio.CancelledError("the publish was cancelled")
            else:
                error = future.exception() or RuntimeError("no ack")
            failure = failure or (position, subject, error)
        return failure

    async def _mark(self, session: AsyncSession, positions: list[int]) -> None:
        if positions:
            await session.execute(
                text("UPDATE kit_outbox SET published_at = now() WHERE position = ANY(:p)"),
                {"p": positions},
            )
