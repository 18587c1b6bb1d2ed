"""The outbox relays every event to JetStream exactly once per id, in order per aggregate."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from kit import Database, Messaging, Relay, migrate, record_events
from kit.testing import fetch_events
from tests.kit.sample import MIGRATIONS, SampleSettings, note_event


async def _setup(isolation):
    settings = isolation.settings(SampleSettings)
    await migrate(settings, MIGRATIONS)
    db = Database(settings.sqlalchemy_url)
    messaging = Messaging(settings, "test")
    messaging.start()
    await asyncio.wait_for(messaging.wait_ready(), 10)
    return settings, db, messaging


async def _write(db: Database, settings: SampleSettings, note_id: str, n: int) -> None:
    async with db.session() as session:
        from kit import record_event

        await record_event(session, note_event(note_id, "x", n), settings.events_subject_prefix)


async def _published_ids(settings: SampleSettings) -> list[str]:
    events = await fetch_events(
        settings.nats_url, settings.events_stream, f"{settings.events_subject_prefix}.>"
    )
    return [e.id for e in events]


class CrashAfterPublish(Relay):
    """A relay that dies after publishing, before marking: the worst moment."""

    async def _mark(self, session, positions):
        raise RuntimeError("crashed before marking")


async def test_relay_crash_between_publish_and_mark_publishes_each_event_once(isolation):
    settings, db, messaging = await _setup(isolation)
    try:
        for n in range(5):
            await _write(db, settings, "note-1", n)
        crashing = CrashAfterPublish(db, messaging, None)
        with pytest.raises(RuntimeError, match="crashed before marking"):
            await crashing.publish_batch()
        async with db.session() as s:
            unpublished = (
                await s.execute(text("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"))
            ).scalar_one()
        assert unpublished == 5  # the crash rolled the marks back
        assert await Relay(db, messaging, None).publish_batch() == 5
        ids = await _published_ids(settings)
        assert len(ids) == 5
        assert len(set(ids)) == 5
    finally:
        await messaging.close()
        await db.dispose()


async def test_two_relays_racing_publish_each_event_once_in_aggregate_order(isolation):
    settings, db, messaging = await _setup(isolation)
    try:
        writers = [_write(db, settings, f"note-{i % 4}", i) for i in range(120)]
        relays = [Relay(db, messaging, None, batch_size=7) for _ in range(2)]

        async def drain(relay: Relay) -> None:
            for _ in range(200):
                await relay.publish_batch()
                await asyncio.sleep(0)

        await asyncio.gather(*writers, *(drain(r) for r in relays))
        while await relays[0].publish_batch():
            pass
        events = await fetch_events(
            settings.nats_url, settings.events_stream, f"{settings.events_subject_prefix}.>"
        )
        assert len(events) == 120
        assert len({e.id for e in events}) == 120
        for note in range(4):
            seqs = [e.sequence for e in events if e.aggregate_id == f"note-{note}"]
            assert seqs == list(range(1, 31))
        assert relays[0].published_total + relays[1].published_total == 120
    finally:
        await messaging.close()
        await db.dispose()


async def test_writes_succeed_while_nats_is_down_and_the_backlog_drains_after(isolation, tmp_path):
    from stack.infra import EmbeddedNats

    own_nats = EmbeddedNats(tmp_path / "nats")
    own_nats.start()
    settings = isolation.settings(SampleSettings, nats_url=own_nats.url)
    await migrate(settings, MIGRATIONS)
    db = Database(settings.sqlalchemy_url)
    messaging = Messaging(settings, "test")
    messaging.start()
    await asyncio.wait_for(messaging.wait_ready(), 10)
    relay = Relay(db, messaging, None, poll_interval=0.05)
    task = asyncio.create_task(relay.run())
    try:
        own_nats.stop()
        for n in range(10):
            await _write(db, settings, "note-down", n)  # accepted with NATS down
        await asyncio.sleep(0.3)
        assert relay.published_total == 0
        own_nats.start()  # same port, same store
        for _ in range(200):
            if relay.published_total == 10:
                break
            await asyncio.sleep(0.05)
        assert relay.published_total == 10
        events = await fetch_events(
            own_nats.url, settings.events_stream, f"{settings.events_subject_prefix}.>"
        )
        assert [e.sequence for e in events] == list(range(1, 11))
    finally:
        task.cancel()
        await messaging.close()
        await db.dispose()
        own_nats.stop()


async def test_events_recorded_together_continue_each_aggregates_sequence_in_the_order_given(isolation):
    settings, db, messaging = await _setup(isolation)
    try:
        await _write(db, settings, "note-a", 0)
        batch = [note_event(f"note-{x}", "x", n) for n, x in enumerate("abab")] + [
            note_event("note-c", "x", 9)
        ]
        async with db.session() as session:
            await record_events(session, batch, settings.events_subject_prefix)
        assert [e.data["sequence"] for e in batch] == [2, 1, 3, 2, 1]
        while await Relay(db, messaging, None).publish_batch():
            pass
        events = await fetch_events(
            settings.nats_url, settings.events_stream, f"{settings.events_subject_prefix}.>"
        )
        assert [(e.aggregate_id, e.sequence, e.data["n"]) for e in events] == [
            ("note-a", 1, 0),
            ("note-a", 2, 0),
            ("note-b", 1, 1),
            ("note-a", 3, 2),
            ("note-b", 2, 3),
            ("note-c", 1, 9),
        ]
    finally:
        await messaging.close()
        await db.dispose()


async def test_a_refused_publish_stops_the_batch_there_and_keeps_the_rest_for_later(isolation):
    settings, db, messaging = await _setup(isolation)
    try:
        for n in range(3):
            await _write(db, settings, "note-1", n)
        async with db.session() as s:
            # the second row's subject is outside the stream: JetStream has no one to store it
            await s.execute(
                text(
                    "UPDATE kit_outbox SET subject = 'nowhere.at.all' "
                    "WHERE position = (SELECT min(position) + 1 FROM kit_outbox)"
                )
            )
        relay = Relay(db, messaging, None, ack_timeout=2)
        assert await relay.publish_batch() == 1
        async with db.session() as s:
            rows = (
                await s.execute(
                    text(
                        "SELECT published_at IS NOT NULL, attempts, last_error "
                        "FROM kit_outbox ORDER BY position"
                    )
                )
            ).all()
        assert [(r[0], r[1]) for r in rows] == [(True, 0), (False, 1), (False, 0)]
        assert rows[1][2]  # the reason is kept
        events = await fetch_events(
            settings.nats_url, settings.events_stream, f"{settings.events_subject_prefix}.>"
        )
        assert [e.sequence for e in events] == [1]
    finally:
        await messaging.close()
        await db.dispose()
