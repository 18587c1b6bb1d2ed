"""Live proposal events for browsers: one JetStream subscription per organisation, many subscribers.

Each organisation with at least one GraphQL subscriber has exactly one ordered (ephemeral, ack-less)
JetStream consumer on `<prefix>.<slug>.proposal.>` and `<prefix>.<slug>.vote.>`; every message is
fanned out to bounded per-subscriber queues. Guarantees to a subscriber:

- nothing published after it subscribed is lost: its start is the stream's last sequence when it
  joined, and a new consumer starts exactly there;
- events arrive in stream order (so in order per proposal), each once (duplicates dropped by stream
  sequence, e.g. after a consumer reset);
- a subscriber that cannot keep up is ended with an error rather than silently skipping events.

nats.py #510: an ordered consumer does not always come back after missed heartbeats (e.g. the server
restarted and forgot the ephemeral consumer). A watchdog checks the consumer and, when it is gone or
stuck, re-creates it from the last delivered stream sequence + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from kit import Conflict, Envelope, Messaging, Unavailable

log = logging.getLogger("gateway.fanout")


@dataclass(frozen=True, slots=True)
class ProposalEventMessage:
    """One event as delivered to subscribers (shared by all of them: never mutated)."""

    id: str
    type: str
    time: datetime
    subject: str
    organization: str
    aggregate: str
    event: str
    data: dict[str, Any]
    stream_sequence: int

    @property
    def proposal_id(self) -> str | None:
        value = self.data.get("proposalId")
        if value is None and self.subject.startswith("proposals/"):
            value = self.subject.split("/", 1)[1]
        return None if value is None else str(value)

    @property
    def proposal_status(self) -> str | None:
        value = self.data.get("status") if self.aggregate == "proposal" else self.data.get("proposalStatus")
        return None if value is None else str(value)

    @property
    def sequence(self) -> int | None:
        value = self.data.get("sequence")
        return None if value is None else int(value)


class SubscriberTooSlow(Conflict):
    """The subscriber's queue filled up; it must subscribe again (and re-read what it missed)."""


_OVERFLOW = object()


class Subscriber:
    def __init__(self, start_sequence: int, queue_size: int) -> None:
        self.start_sequence = start_sequence
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size + 1)
        self._capacity = queue_size
        self.overflowed = False

    def offer(self, event: ProposalEventMessage) -> None:
        if self.overflowed or event.stream_sequence < self.start_sequence:
            return
        if self._queue.qsize() >= self._capacity:
            self.overflowed = True
            self._queue.put_nowait(_OVERFLOW)
            return
        self._queue.put_nowait(event)

    def fail(self) -> None:
        """The feed is gone for good (gateway shutting down): end the stream."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[ProposalEventMessage]:
        return self._events()

    async def _events(self) -> AsyncIterator[ProposalEventMessage]:
        while True:
            item = await self._queue.get()
            if item is None:
                raise Unavailable("the event feed stopped; subscribe again")
            if item is _OVERFLOW:
                raise SubscriberTooSlow("this subscriber fell behind the event feed; subscribe again")
            yield item


@dataclass
class _Feed:
    slug: str
    subscribers: set[Subscriber] = field(default_factory=set)
    last_sequence: int = 0
    subscription: Any = None
    watchdog: asyncio.Task[None] | None = None
    resets: int = 0


class EventHub:
    """The process's fan-out of proposal events; `subscribe(slug)` is what a GraphQL subscription uses."""

    def __init__(
        self,
        messaging: Messaging,
        *,
        stream: str,
        subject_prefix: str,
        queue_size: int = 256,
        watchdog_seconds: float = 5.0,
        idle_heartbeat_seconds: float = 5.0,
    ) -> None:
        self._messaging = messaging
        self._stream = stream
        self._prefix = subject_prefix
        self._queue_size = queue_size
        self._watchdog_seconds = watchdog_seconds
        self._idle_heartbeat = idle_heartbeat_seconds
        self._feeds: dict[str, _Feed] = {}
        # one lock per organisation: starting one feed never waits for another's NATS round trips
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def nats_subscriptions(self) -> int:
        """How many JetStream subscriptions this process holds (one per organisation with subscribers)."""
        return sum(1 for feed in self._feeds.values() if feed.subscription is not None)

    @property
    def total_subscribers(self) -> int:
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    def subscriber_count(self, slug: str) -> int:
        feed = self._feeds.get(slug)
        return len(feed.subscribers) if feed else 0

    def subjects(self, slug: str) -> list[str]:
        return [f"{self._prefix}.{slug}.proposal.>", f"{self._prefix}.{slug}.vote.>"]

    @contextlib.asynccontextmanager
    async def subscribe(self, slug: str) -> AsyncIterator[Subscriber]:
        subscriber = await self._join(slug)
        try:
            yield subscriber
        finally:
            await self._leave(slug, subscriber)

    async def _join(self, slug: str) -> Subscriber:
        if not self._messaging.connected:
            raise Unavailable("live events are unavailable right now")
        js = self._messaging.js
        async with self._locks[slug]:
            try:
                info = await js.stream_info(self._stream)
            except Exception as exc:
                raise Unavailable("live events are unavailable right now") from exc
            subscriber = Subscriber(info.state.last_seq + 1, self._queue_size)
            feed = self._feeds.get(slug)
            if feed is None:
                feed = _Feed(slug=slug, last_sequence=info.state.last_seq)
                try:
                    await self._start(feed)
                except Exception as exc:
                    raise Unavailable("live events are unavailable right now") from exc
                feed.watchdog = asyncio.create_task(self._watch(feed), name=f"fanout-watchdog-{slug}")
                self._feeds[slug] = feed
            feed.subscribers.add(subscriber)
            return subscriber

    async def _leave(self, slug: str, subscriber: Subscriber) -> None:
        async with self._locks[slug]:
            feed = self._feeds.get(slug)
            if feed is None:
                return
            feed.subscribers.discard(subscriber)
            if not feed.subscribers:
                del self._feeds[slug]
                await self._stop(feed)

    async def _start(self, feed: _Feed) -> None:
        """A fresh ordered consumer delivering from just after the last sequence this feed has seen."""
        config = ConsumerConfig(
            filter_subjects=self.subjects(feed.slug),
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=feed.last_sequence + 1,
            inactive_threshold=max(30.0, self._idle_heartbeat * 6),
        )

        async def on_message(msg: Msg) -> None:
            # no await in here: messages are handled one at a time, in the order they arrive
            self._dispatch(feed, msg)

        feed.subscription = await self._messaging.js.subscribe(
            self.subjects(feed.slug)[0],
            stream=self._stream,
            cb=on_message,
            ordered_consumer=True,
            idle_heartbeat=self._idle_heartbeat,
            config=config,
        )

    async def _stop(self, feed: _Feed) -> None:
        if feed.watchdog is not None:
            feed.watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed.watchdog
        await self._unsubscribe(feed)

    async def _unsubscribe(self, feed: _Feed) -> None:
        subscription, feed.subscription = feed.subscription, None
        if subscription is None:
            return
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        # the server would reap the ephemeral consumer after inactive_threshold; do not make it wait
        with contextlib.suppress(Exception):
            await self._messaging.js.delete_consumer(self._stream, subscription._consumer)

    def _dispatch(self, feed: _Feed, msg: Msg) -> None:
        try:
            sequence = msg.metadata.sequence.stream
        except Exception:
            return
        if sequence <= feed.last_sequence:
            return
        feed.last_sequence = sequence
        try:
            envelope = Envelope.from_json(msg.data)
        except ValueError:
            log.warning("skipping a malformed event", extra={"subject": msg.subject, "sequence": sequence})
            return
        event = ProposalEventMessage(
            id=envelope.id,
            type=envelope.type,
            time=envelope.time,
            subject=envelope.subject,
            organization=envelope.organization or feed.slug,
            aggregate=envelope.aggregate,
            event=envelope.event,
            data=envelope.data,
            stream_sequence=sequence,
        )
        for subscriber in list(feed.subscribers):
            subscriber.offer(event)

    async def _watch(self, feed: _Feed) -> None:
        stalled_at: tuple[int, int] | None = None
        while True:
            await asyncio.sleep(self._watchdog_seconds)
            if not self._messaging.connected or feed.subscription is None:
                continue
            try:
                info = await feed.subscription.consumer_info()
            except nats.js.errors.NotFoundError:
                await self._reset(feed, "the consumer is gone")
                stalled_at = None
                continue
            except Exception as exc:
                log.info("fan-out watchdog could not check its consumer", extra={"error": repr(exc)})
                continue
            progress = (feed.last_sequence, info.delivered.stream_seq if info.delivered else 0)
            if info.num_pending and stalled_at == progress:
                await self._reset(feed, "the consumer stopped delivering")
                stalled_at = None
            else:
                stalled_at = progress if info.num_pending else None

    async def _reset(self, feed: _Feed, reason: str) -> None:
        log.warning("re-creating the fan-out consumer", extra={"organization": feed.slug, "reason": reason})
        feed.resets += 1
        await self._unsubscribe(feed)
        try:
            await self._start(feed)
        except Exception as exc:
            # the next watchdog round tries again; meanwhile nothing is lost, the start sequence stays
            log.warning("fan-out consumer re-creation failed", extra={"error": repr(exc)})

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            for subscriber in feed.subscribers:
                subscriber.fail()
            await self._stop(feed)
