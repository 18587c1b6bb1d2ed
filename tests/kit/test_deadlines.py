"""Durable deadlines fire exactly once, after restarts and with several schedulers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from kit import (
    Database,
    FireInBatches,
    Scheduler,
    cancel_deadline,
    cancel_deadlines,
    migrate,
    schedule_deadline,
    schedule_deadlines,
)
from kit.testing import FakeClock
from tests.kit.sample import MIGRATIONS, SampleSettings


async def _db(isolation) -> Database:
    settings = isolation.settings(SampleSettings)
    await migrate(settings, MIGRATIONS)
    return Database(settings.sqlalchemy_url)


def _recording_handler():
    async def fire(session, deadline):
        await session.execute(
            text("INSERT INTO notes (id, body) VALUES (:id, 'fired')"), {"id": deadline.key}
        )  # a primary key: firing twice would fail loudly

    return fire


async def _fired_keys(db: Database) -> list[str]:
    async with db.session() as s:
        return [r[0] for r in (await s.execute(text("SELECT id FROM notes ORDER BY id"))).all()]


async def test_two_schedulers_fire_a_thousand_simultaneous_deadlines_exactly_once(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    try:
        async with db.session() as s:
            for i in range(1000):
                await schedule_deadline(s, f"d{i:04}", "close", clock.now() + timedelta(seconds=5))
        clock.advance(10)
        schedulers = [Scheduler(db, clock, {"close": _recording_handler()}, batch_size=50) for _ in range(2)]

        async def drain(sch: Scheduler) -> None:
            while await sch.fire_due():
                pass

        await asyncio.gather(*(drain(s) for s in schedulers))
        keys = await _fired_keys(db)
        assert len(keys) == 1000
        assert sum(s.fired_total for s in schedulers) == 1000
        assert all(s.fired_total > 0 for s in schedulers)  # both took part
    finally:
        await db.dispose()


async def test_deadlines_missed_while_down_fire_once_on_restart_and_future_ones_wait(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    try:
        async with db.session() as s:
            await schedule_deadline(s, "past-1", "close", clock.now() - timedelta(hours=2))
            await schedule_deadline(s, "past-2", "close", clock.now() - timedelta(minutes=1))
            await schedule_deadline(s, "future", "close", clock.now() + timedelta(minutes=1))
        restarted = Scheduler(db, clock, {"close": _recording_handler()})
        assert await restarted.fire_due() == 2
        assert await restarted.fire_due() == 0
        assert await _fired_keys(db) == ["past-1", "past-2"]
        clock.advance(61)
        assert await restarted.fire_due() == 1
    finally:
        await db.dispose()


async def test_a_cancelled_deadline_never_fires_and_a_moved_one_fires_at_its_new_time(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    try:
        async with db.session() as s:
            await schedule_deadline(s, "cancelled", "close", clock.now() + timedelta(seconds=1))
            await schedule_deadline(s, "moved", "close", clock.now() + timedelta(seconds=1))
        async with db.session() as s:
            assert await cancel_deadline(s, "cancelled") is True
            await schedule_deadline(s, "moved", "close", clock.now() + timedelta(seconds=100))
        clock.advance(50)
        sch = Scheduler(db, clock, {"close": _recording_handler()})
        assert await sch.fire_due() == 0
        clock.advance(60)
        assert await sch.fire_due() == 1
        assert await _fired_keys(db) == ["moved"]
    finally:
        await db.dispose()


async def test_a_failing_handler_leaves_its_deadline_pending_and_others_fire(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    calls = {"n": 0}

    async def flaky(session, deadline):
        if deadline.key == "bad":
            calls["n"] += 1
            raise RuntimeError("boom")
        await _recording_handler()(session, deadline)

    try:
        async with db.session() as s:
            await schedule_deadline(s, "bad", "close", clock.now())
            await schedule_deadline(s, "good", "close", clock.now())
        sch = Scheduler(db, clock, {"close": flaky})
        assert await sch.fire_due() == 1
        assert await _fired_keys(db) == ["good"]
        async with db.session() as s:
            row = (
                await s.execute(
                    text("SELECT fired_at, attempts, last_error FROM kit_deadlines WHERE key='bad'")
                )
            ).one()
        assert row[0] is None
        assert row[1] == 1
        assert "boom" in row[2]
    finally:
        await db.dispose()


async def test_the_running_scheduler_wakes_for_a_newly_scheduled_near_deadline(isolation):
    from kit import Notifier

    settings = isolation.settings(SampleSettings)
    await migrate(settings, MIGRATIONS)
    db = Database(settings.sqlalchemy_url)
    from kit.testing import eventually

    notifier = Notifier(settings.service_dsn, ["kit_deadlines"])
    from datetime import UTC, datetime

    class Real:
        def now(self):
            return datetime.now(UTC)

    sch = Scheduler(db, Real(), {"close": _recording_handler()}, notifier, poll_interval=30)
    tasks = [asyncio.create_task(notifier.run()), asyncio.create_task(sch.run())]
    try:
        await eventually(lambda: notifier.connected)
        await asyncio.sleep(0.1)
        async with db.session() as s:
            await schedule_deadline(s, "soon", "close", datetime.now(UTC) + timedelta(milliseconds=200))
        # the scheduler was asleep for up to 30 s: only the NOTIFY can make this fire in time
        await eventually(lambda: _fired_keys(db), within=5)
    finally:
        for t in tasks:
            t.cancel()
        await db.dispose()


def _recording_batch(batches: list[list[str]], bad: str | None = None) -> FireInBatches:
    async def fire_many(session, deadlines):
        batches.append([d.key for d in deadlines])
        if any(d.key == bad for d in deadlines):
            raise RuntimeError("bad deadline")
        for deadline in deadlines:
            await _recording_handler()(session, deadline)

    return FireInBatches(fire_many)


async def test_a_batch_handler_gets_the_due_deadlines_of_its_kind_together_and_each_fires_once(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    batches: list[list[str]] = []
    try:
        async with db.session() as s:
            await schedule_deadlines(
                s, [(f"b{i:02}", "close", clock.now() + timedelta(seconds=i), {"i": i}) for i in range(25)]
            )
            await schedule_deadline(s, "single", "open", clock.now())
        clock.advance(30)
        sch = Scheduler(
            db, clock, {"close": _recording_batch(batches), "open": _recording_handler()}, batch_size=10
        )
        assert [await sch.fire_due() for _ in range(4)] == [10, 10, 6, 0]
        # the earliest (`single`, of the other kind) shares the first batch of 10
        assert [len(b) for b in batches] == [9, 10, 6]
        assert await _fired_keys(db) == sorted([f"b{i:02}" for i in range(25)] + ["single"])
    finally:
        await db.dispose()


async def test_a_failing_batch_falls_back_to_one_deadline_at_a_time(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    batches: list[list[str]] = []
    try:
        async with db.session() as s:
            await schedule_deadlines(s, [(k, "close", clock.now(), None) for k in ("a", "bad", "c")])
        sch = Scheduler(db, clock, {"close": _recording_batch(batches, bad="bad")})
        assert await sch.fire_due() == 2
        assert batches[0] == ["a", "bad", "c"]  # the whole batch first, rolled back
        assert sorted(batches[1:]) == [["a"], ["bad"], ["c"]]
        assert await _fired_keys(db) == ["a", "c"]
        async with db.session() as s:
            pending = (
                await s.execute(text("SELECT key, attempts FROM kit_deadlines WHERE fired_at IS NULL"))
            ).all()
        assert [tuple(r) for r in pending] == [("bad", 1)]
    finally:
        await db.dispose()


async def test_deadlines_cancelled_together_never_fire(isolation):
    db = await _db(isolation)
    clock = FakeClock()
    try:
        async with db.session() as s:
            await schedule_deadlines(s, [(k, "close", clock.now(), None) for k in ("x", "y", "z")])
        async with db.session() as s:
            await cancel_deadlines(s, ["x", "z"])
        sch = Scheduler(db, clock, {"close": _recording_handler()})
        assert await sch.fire_due() == 1
        assert await _fired_keys(db) == ["y"]
    finally:
        await db.dispose()
