"""Durable deadlines: a table of due times and a loop that fires each exactly once.

`schedule(session, key, kind, due_at, payload)` stores (or moves) a deadline in the caller's transaction;
`cancel(session, key)` withdraws it. The scheduler takes due rows with `FOR UPDATE SKIP LOCKED` in
batches, calls the handler registered for the row's kind inside a savepoint of the same transaction (a
`FireInBatches` handler gets all the batch's deadlines of its kinds at once, in the order due), and
marks the rows fired in that transaction: the handlers' effects and the marks commit together or not at
all, several replicas never take the same row, and a crash leaves the row due for whoever runs next
(catch-up after downtime is the same query). It sleeps until the next due time, woken by NOTIFY when an
earlier deadline is scheduled, and polls as a fallback. A handler that raises is retried with backoff;
the error is kept.

A handler must not re-schedule the key that is firing (the row is marked fired after it returns):
schedule the next step under a new key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ._clock import Clock
from ._db import Database, Notifier, notify_on_commit

log = logging.getLogger("kit.deadlines")

DEADLINES_CHANNEL = "kit_deadlines"


@dataclass(frozen=True, slots=True)
class Deadline:
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]


FireHandler = Callable[[AsyncSession, Deadline], Awaitable[None]]
BatchFire = Callable[[AsyncSession, Sequence[Deadline]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FireInBatches:
    """A handler that decides many deadlines at once (set-based SQL instead of a round trip per
    deadline). The scheduler gives it each batch's deadlines of its kinds, in the order due, in one
    savepoint; if that raises, it falls back to one deadline per savepoint, so one bad deadline never
    holds up the rest."""

    fire_many: BatchFire

    async def __call__(self, session: AsyncSession, deadline: Deadline) -> None:
        await self.fire_many(session, [deadline])


async def schedule_many(
    session: AsyncSession, deadlines: Sequence[tuple[str, str, datetime, Mapping[str, Any] | None]]
) -> None:
    """Create or move many deadlines (key, kind, due_at, payload) in one statement; one that has
    fired stays as it was."""
    if not deadlines:
        return
    await session.execute(
        text(
            """
            INSERT INTO kit_deadlines (key, kind, due_at, payload)
            SELECT key, kind, due_at, CAST(payload AS jsonb)
            FROM unnest(CAST(:keys AS text[]), CAST(:kinds AS text[]), CAST(:due AS timestamptz[]),
                        CAST(:payloads AS text[])) AS t(key, kind, due_at, payload)
            ON CONFLICT (key) DO UPDATE
              SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, cancelled_at = NULL
              WHERE kit_deadlines.fired_at IS NULL
            """
        ),
        {
            "keys": [d[0] for d in deadlines],
            "kinds": [d[1] for d in deadlines],
            "due": [d[2] for d in deadlines],
            "payloads": [json.dumps(dict(d[3] or {}), default=str) for d in deadlines],
        },
    )
    notify_on_commit(session, DEADLINES_CHANNEL)


async def cancel_many(session: AsyncSession, keys: Sequence[str]) -> None:
    """`cancel` for many keys in one statement."""
    if keys:
        await session.execute(
            text(
                "UPDATE kit_deadlines SET cancelled_at = now() "
                "WHERE key = ANY(:keys) AND fired_at IS NULL AND cancelled_at IS NULL"
            ),
            {"keys": list(keys)},
        )


async def schedule(
    session: AsyncSession, key: str, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> None:
    """Create the deadline `key`, or move it if it has not fired yet."""
    await schedule_many(session, [(key, kind, due_at, payload)])


async def lock(session: AsyncSession, keys: list[str]) -> None:
    """Row-lock these deadlines (in key order, as the scheduler meets them) for this transaction.

    A use case that changes what a pending deadline will decide (e.g. an objection racing the end of a
    review) takes this lock first, so it and the firing are serialised instead of deadlocking."""
    if keys:
        await session.execute(
            text("SELECT key FROM kit_deadlines WHERE key = ANY(:keys) ORDER BY key FOR UPDATE"),
            {"keys": sorted(keys)},
        )


async def cancel(session: AsyncSession, key: str) -> bool:
    """Withdraw a pending deadline; answers whether one was pending."""
    result = await session.execute(
        text(
            "UPDATE kit_deadlines SET cancelled_at = now() "
            "WHERE key = :key AND fired_at IS NULL AND cancelled_at IS NULL RETURNING 1"
        ),
        {"key": key},
    )
    return result.scalar_one_or_none() is not None


@dataclass(slots=True)
class DeadlineStats:
    pending: int
    next_due_at: datetime | None
    oldest_overdue_seconds: float
    fired_last_minute: int


async def deadline_stats(session: AsyncSession, now: datetime) -> DeadlineStats:
    row = (
        await session.execute(
            text(
                """
                SELECT count(*) FILTER (WHERE fired_at IS NULL AND cancelled_at IS NULL),
                       min(due_at) FILTER (WHERE fired_at IS NULL AND cancelled_at IS NULL),
                       count(*) FILTER (WHERE fired_at >= :since)
                FROM kit_deadlines
                """
            ),
            {"since": now - timedelta(minutes=1)},
        )
    ).one()
    next_due = row[1]
    overdue = max(0.0, (now - next_due).total_seconds()) if next_due is not None else 0.0
    return DeadlineStats(
        pending=int(row[0]),
        next_due_at=next_due,
        oldest_overdue_seconds=overdue,
        fired_last_minute=int(row[2]),
    )


class Scheduler:
    """Fires due deadlines by kind. `handlers` maps a kind to `async def fire(session, deadline)`."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        handlers: Mapping[str, FireHandler],
        notifier: Notifier | None = None,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        on_fired: Callable[[Deadline, float], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self.notifier = notifier
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_fired = on_fired
        self.fired_total = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look again now (tests call this after moving a fake clock)."""
        self._wake.set()

    async def run(self) -> None:
        notified = self.notifier.event(DEADLINES_CHANNEL) if self.notifier else asyncio.Event()
        while True:
            self._wake.clear()
            notified.clear()
            try:
                fired = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduler pass failed", extra={"error": repr(exc)})
                fired = 0
            if fired >= self.batch_size:
                continue
            delay = self.poll_interval
            with contextlib.suppress(Exception):
                next_due = await self._next_due()
                if next_due is not None:
                    delay = min(delay, max(0.0, (next_due - self.clock.now()).total_seconds()))
            if delay <= 0:
                if fired:
                    continue
                # due but nothing fired: another replica holds those rows; do not spin on them
                delay = 0.05
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(notified.wait())]
            try:
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    async def _next_due(self) -> datetime | None:
        async with self.db.session() as session:
            return (
                await session.execute(
                    text(
                        "SELECT min(due_at) FROM kit_deadlines "
                        "WHERE fired_at IS NULL AND cancelled_at IS NULL AND kind = ANY(:kinds)"
                    ),
                    {"kinds": list(self.handlers)},
                )
            ).scalar_one()

    async def fire_due(self) -> int:
        """Fire one batch of due deadlines; answers how many fired."""
        now = self.clock.now()
        fired: list[tuple[Deadline, float]] = []
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    text(
                        """
                        SELECT key, kind, due_at, payload FROM kit_deadlines
                        WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= :now
                          AND kind = ANY(:kinds)
                        ORDER BY due_at, key LIMIT :n FOR UPDATE SKIP LOCKED
                        """
                    ),
                    {"now": now, "n": self.batch_size, "kinds": list(self.handlers)},
                )
            ).all()
            # one group per handler (a handler may serve several kinds), each in the order due
            groups: dict[int, tuple[FireHandler, list[Deadline]]] = {}
            for key, kind, due_at, payload in rows:
                handler = self.handlers[kind]
                groups.setdefault(id(handler), (handler, []))[1].append(
                    Deadline(key, kind, due_at, payload if isinstance(payload, dict) else json.loads(payload))
                )
            done: list[Deadline] = []
            for handler, deadlines in groups.values():
                done += await self._fire_group(session, handler, deadlines, now)
            if done:
                # the mark commits with the handlers' effects (same transaction) or not at all
                await session.execute(
                    text(
                        "UPDATE kit_deadlines SET fired_at = :now, attempts = attempts + 1 "
                        "WHERE key = ANY(:keys)"
                    ),
                    {"now": self.clock.now(), "keys": [d.key for d in done]},
                )
            fired = [(d, (self.clock.now() - d.due_at).total_seconds()) for d in done]
        self.fired_total += len(fired)
        if self.on_fired:
            for deadline, lag in fired:
                self.on_fired(deadline, lag)
        return len(fired)

    async def _fire_group(
        self, session: AsyncSession, handler: FireHandler, deadlines: list[Deadline], now: datetime
    ) -> list[Deadline]:
        if isinstance(handler, FireInBatches) and len(deadlines) > 1:
            try:
                async with session.begin_nested():
                    await handler.fire_many(session, deadlines)
                return deadlines
            except Exception as exc:
                log.warning(
                    "deadline batch failed; firing one at a time",
                    extra={
                        "kinds": sorted({d.kind for d in deadlines}),
                        "count": len(deadlines),
                        "error": repr(exc),
                    },
                )
        done: list[Deadline] = []
        for deadline in deadlines:
            try:
                async with session.begin_nested():
                    await handler(session, deadline)
            except Exception as exc:
                log.exception("deadline handler failed", extra={"key": deadline.key, "kind": deadline.kind})
                # try again a little later rather than spinning on it
                await session.execute(
                    text(
                        "UPDATE kit_deadlines SET attempts = attempts + 1, last_error = :e, "
                        "due_at = :retry WHERE key = :k"
                    ),
                    {"e": repr(exc)[:500], "retry": now + timedelta(seconds=5), "k": deadline.key},
                )
                continue
            done.append(deadline)
        return done
