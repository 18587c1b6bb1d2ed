"""Idempotent event consumers: durable JetStream pull consumers with an inbox.

A handler runs inside a transaction that also inserts `(consumer, event id)` into `kit_inbox`; an event
already there is skipped, so a redelivered or duplicated event changes state once. The message is acked
only after commit. A handler that keeps failing is retried with backoff up to `max_deliver` times, then
parked in `kit_parked` (counted in /status) and terminated so it stops blocking the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ._db import Database
from ._events import Envelope
from ._logging import REQUEST_ID_HEADER, request_id_var
from ._messaging import Messaging

log = logging.getLogger("kit.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


def _raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass
class Consumer:
    """A named durable consumer of `subjects` (relative to the events subject prefix, e.g.
    `*.proposal.>`), calling `handler(session, envelope)` once per event id."""

    name: str
    subjects: Sequence[str]
    handler: Handler
    batch: int = 50
    processed: int = 0
    duplicates: int = 0
    parked: int = 0
    pending: int = field(default=0)


class ConsumerRunner:
    def __init__(self, db: Database, messaging: Messaging, consumer: Consumer, *, max_deliver: int) -> None:
        self.db = db
        self.messaging = messaging
        self.consumer = consumer
        self.max_deliver = max_deliver
        self._sub = None

    @property
    def durable(self) -> str:
        return self.consumer.name

    def _filters(self) -> list[str]:
        prefix = self.messaging.settings.events_subject_prefix
        return [f"{prefix}.{s}" for s in self.consumer.subjects]

    async def _subscribe(self) -> None:
        js = self.messaging.js
        stream = self.messaging.settings.events_stream
        config = ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,
            filter_subjects=self._filters(),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=self.max_deliver,
            max_ack_pending=1000,
        )
        try:
            # creates, or updates the editable fields of, the durable consumer
            await js.add_consumer(stream, config=config)
        except BadRequestError:
            # exists with a config that cannot be edited in place: start it again; the inbox makes the
            # redelivery from the stream start harmless
            log.warning("recreating consumer with a new config", extra={"consumer": self.durable})
            await js.delete_consumer(stream, self.durable)
            await js.add_consumer(stream, config=config)
        self._sub = await js.pull_subscribe_bind(durable=self.durable, stream=stream)

    async def run(self) -> None:
        await self.messaging.wait_ready()
        while True:
            try:
                if self._sub is None:
                    await self._subscribe()
                try:
                    msgs = await self._sub.fetch(self.consumer.batch, timeout=1)
                except TimeoutError:
                    # nats-py can turn a cancellation during fetch into a timeout: honour it
                    _raise_if_cancelling()
                    continue
                for msg in msgs:
                    await self.handle(msg)
            except asyncio.CancelledError:
                # unsubscribe now, so the connection's drain does not wait on a pending pull
                if self._sub is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self._sub.unsubscribe()), 1)
                raise
            except Exception as exc:
                _raise_if_cancelling()
                log.warning("consumer loop error", extra={"consumer": self.durable, "error": repr(exc)})
                self._sub = None
                await asyncio.sleep(1)

    async def handle(self, msg: Msg) -> None:
        token = request_id_var.set((msg.headers or {}).get(REQUEST_ID_HEADER))
        try:
            try:
                envelope = Envelope.from_json(msg.data)
            except ValueError as exc:
                await self._park(msg, None, f"undecodable: {exc}")
                return
            try:
                applied = await self.apply(envelope, msg.subject)
            except Exception as exc:
                deliveries = msg.metadata.num_delivered if msg.metadata else 1
                log.warning(
                    "handler failed",
                    extra={"consumer": self.durable, "event_id": envelope.id, "error": repr(exc)},
                )
                if deliveries >= self.max_deliver:
                    await self._park(msg, envelope.id, repr(exc))
                else:
                    await msg.nak(delay=min(30.0, 0.2 * 2**deliveries))
                return
            if applied:
                self.consumer.processed += 1
            else:
                self.consumer.duplicates += 1
            await msg.ack()
        finally:
            request_id_var.reset(token)

    async def apply(self, envelope: Envelope, subject: str) -> bool:
        """Apply one event once; answers False when it had already been applied."""
        async with self.db.session() as session:
            inserted = (
                await session.execute(
                    text(
                        "INSERT INTO kit_inbox (consumer, event_id, subject) VALUES (:c, :e, :s) "
                        "ON CONFLICT DO NOTHING RETURNING 1"
                    ),
                    {"c": self.durable, "e": envelope.id, "s": subject},
                )
            ).scalar_one_or_none()
            if inserted is None:
                return False
            await self.consumer.handler(session, envelope)
        return True

    async def _park(self, msg: Msg, event_id: str | None, error: str) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        async with self.db.session() as session:
            await session.execute(
                text(
                    "INSERT INTO kit_parked (consumer, event_id, subject, payload, error, deliveries) "
                    "VALUES (:c, :e, :s, :p, :err, :d)"
                ),
                {
                    "c": self.durable,
                    "e": event_id,
                    "s": msg.subject,
                    "p": msg.data.decode(errors="replace"),
                    "err": error[:2000],
                    "d": deliveries,
                },
            )
        self.consumer.parked += 1
        log.error("event parked", extra={"consumer": self.durable, "event_id": event_id, "error": error})
        await msg.term()

    async def lag(self) -> int | None:
        """Messages not yet delivered plus delivered-but-unacked, from the server's view."""
        if not self.messaging.connected:
            return None
        with contextlib.suppress(Exception):
            info = await self.messaging.js.consumer_info(self.messaging.settings.events_stream, self.durable)
            return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return None
