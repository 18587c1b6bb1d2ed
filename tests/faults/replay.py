"""Feed a recorded event history to fresh copies of the services' consumers, in any delivery order.

A replica of a service runs in-process on new databases of the fault suite's Postgres, with a frozen clock
(set before the first event, so no deadline of the replay ever falls due and no timer races the deliveries)
and a NATS address nobody listens on (its relay keeps what it would publish in the outbox, where it is
compared). Each delivery goes through the consumer's own `apply` (inbox row and handler in one
transaction), exactly as JetStream would hand it over; a delivery whose handler fails is delivered again
later, as a `nak` would have it, a bounded number of times.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from kit import Envelope, drop_databases
from kit.testing import FakeClock, unique_suffix
from services.proposals.app import create_app as create_proposals
from services.proposals.config import Settings as ProposalsSettings
from services.timelock.app import create_app as create_timelock
from services.timelock.config import Settings as TimelockSettings
from stack.infra import free_port

REPLICAS = {
    "proposals": (create_proposals, ProposalsSettings),
    "timelock": (create_timelock, TimelockSettings),
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REDELIVERIES = 6


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcards: `*` is one token, `>` the rest."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def in_order(events: Sequence[Envelope]) -> list[Envelope]:
    return list(events)


def with_faults(events: Sequence[Envelope], seed: int, *, reorder: bool) -> list[Envelope]:
    """Every event delivered once more (a lost ack) at a later position. With `reorder`, events also held
    back behind later ones (a `nak` and its redelivery): a third of them by up to 60 places, and half of
    the events that have a successor of the same aggregate instance (same member's join and exit, same
    proposal's steps) delivered right after that successor, the case sequences exist for."""
    rng = random.Random(seed)
    first: dict[int, float] = {}
    if reorder:
        following: dict[str, int] = {}
        for i in range(len(events) - 1, -1, -1):
            key = f"{events[i].aggregate}:{events[i].subject}"
            successor = following.get(key)
            following[key] = i
            if successor is not None and rng.random() < 0.5:
                first[i] = successor + 0.5
            elif rng.random() < 0.3:
                first[i] = i + rng.uniform(0, 60)
    keyed: list[tuple[float, Envelope]] = []
    for i, event in enumerate(events):
        at = first.get(i, float(i))
        keyed.append((at, event))
        keyed.append((at + rng.uniform(0.5, 30), event))
    keyed.sort(key=lambda k: k[0])
    return [event for _, event in keyed]


@dataclass
class Replay:
    """What a replica holds after the deliveries: rows of every table, with generated ids masked."""

    tables: dict[str, dict[str, list[str]]]
    applied: int
    duplicates: int
    redelivered: int
    given_up: list[str]


async def replay(database_url: str, deliveries: Sequence[Envelope], subject_prefix: str) -> Replay:
    known = {m for e in deliveries for m in UUID.findall(json.dumps(e.data) + e.subject)}
    clock = FakeClock(min(e.time for e in deliveries) - timedelta(days=1))
    suffix = unique_suffix()
    shared: dict[str, Any] = {
        "database_url": database_url,
        "database_prefix": f"r{suffix}",
        "nats_url": f"nats://127.0.0.1:{free_port()}",
        # the same names for every replica (they never reach NATS), so their outboxes compare
        "events_stream": "REPLAY",
        "events_subject_prefix": "replay",
        "internal_auth_secret": f"internal-secret-replay-{suffix}-0123456789",
    }
    tables: dict[str, dict[str, list[str]]] = {}
    applied = duplicates = redelivered = 0
    given_up: list[str] = []
    try:
        for name, (create, settings_cls) in REPLICAS.items():
            settings = settings_cls.model_validate(shared)
            app = create(settings, clock=clock)
            async with app.router.lifespan_context(app):
                runners = app.state.runtime.consumers
                queue = [(e, 0) for e in deliveries]
                while queue:
                    retry: list[tuple[Envelope, int]] = []
                    for event, tries in queue:
                        subject = event.nats_subject(subject_prefix)
                        tail = subject.removeprefix(f"{subject_prefix}.")
                        for runner in runners:
                            if not any(subject_matches(p, tail) for p in runner.consumer.subjects):
                                continue
                            try:
                                if await runner.apply(event, subject):
                                    applied += 1
                                else:
                                    duplicates += 1
                            except Exception as exc:
                                if tries + 1 >= REDELIVERIES:
                                    given_up.append(f"{name} {tail} {event.id}: {exc!r}"[:300])
                                else:
                                    retry.append((event, tries + 1))
                    redelivered += len(retry)
                    queue = retry
                tables[name] = await dump(settings.service_dsn, known)
    finally:
        with contextlib.suppress(Exception):
            await drop_databases(database_url, [f"r{suffix}_{name}" for name in REPLICAS])
    return Replay(tables, applied, duplicates, redelivered, given_up)


# columns the database fills with its own clock, not the service's
_DB_TIMES = ("created_at", "processed_at", "parked_at")


async def dump(dsn: str, known: set[str] | None = None) -> dict[str, list[str]]:
    """Every table's rows as sorted JSON lines. With `known`, ids that are not in it (ones a replica
    generated itself) are masked, since two replicas never draw the same random ids."""
    conn = await asyncpg.connect(dsn)
    try:
        names = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        out = {}
        for table in names:
            rows = await conn.fetch(f'SELECT to_jsonb(t) AS row FROM "{table}" t')
            lines = []
            for r in rows:
                row = json.loads(r["row"])
                row.pop("published_at", None)  # the relay's progress, not state
                if table.startswith("kit_"):
                    for column in _DB_TIMES:
                        row.pop(column, None)
                if known is not None:
                    row.pop("position", None)  # outbox insertion order differs between replicas
                line = json.dumps(row, sort_keys=True)
                if known is not None:
                    line = UUID.sub(lambda m: m.group(0) if m.group(0) in known else "<new>", line)
                lines.append(line)
            out[table] = sorted(lines)
        return out
    finally:
        await conn.close()
