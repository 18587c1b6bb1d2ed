"""Consumers apply each event id once, ack after commit and park poison messages."""

from __future__ import annotations

from sqlalchemy import text

from kit import Envelope
from kit.testing import eventually, running_app
from tests.kit.sample import SampleSettings, create_app, note_event


async def _seen(app, note_id: str) -> int | None:
    async with app.state.runtime.db.session() as s:
        return (await s.execute(text("SELECT seen FROM notes WHERE id = :id"), {"id": note_id})).scalar()


async def test_a_written_note_reaches_the_consumer_through_nats_once(isolation):
    app = create_app(isolation.settings(SampleSettings))
    async with running_app(app) as client:
        async with client.as_actor("0xabc") as c:
            assert (await c.post("/v1/notes/n1")).status_code == 200
        await eventually(lambda: _seen(app, "n1"))
        assert await _seen(app, "n1") == 1


async def test_a_duplicated_or_redelivered_event_changes_the_projection_once(isolation):
    settings = isolation.settings(SampleSettings)
    app = create_app(settings)
    async with running_app(app) as client:
        async with client.as_actor("0xabc") as c:
            await c.post("/v1/notes/n2")
        await eventually(lambda: _seen(app, "n2"))
        runner = app.state.runtime.consumers[0]
        # the same event published again under another message id (a replay from the stream start)
        async with app.state.runtime.db.session() as s:
            raw = (await s.execute(text("SELECT envelope FROM kit_outbox LIMIT 1"))).scalar_one()
        envelope = Envelope.from_json(raw if isinstance(raw, str) else __import__("json").dumps(raw))
        nc = app.state.runtime.messaging.js
        subject = envelope.nats_subject(settings.events_subject_prefix)
        await nc.publish(subject, envelope.to_json(), headers={"Nats-Msg-Id": "replayed-1"})
        await eventually(lambda: runner.consumer.duplicates >= 1)
        assert await runner.apply(envelope, subject) is False  # and once more, directly
        assert await _seen(app, "n2") == 1


async def test_a_poison_event_is_parked_after_bounded_redeliveries(isolation):
    settings = isolation.settings(SampleSettings, consumer_max_deliver=2)
    app = create_app(settings)
    async with running_app(app) as client:
        async with app.state.runtime.db.session() as s:
            await s.execute(text("INSERT INTO notes (id, body) VALUES ('p1', 'poison'), ('ok', 'fine')"))
        poison = note_event("p1", "poison")
        fine = note_event("ok", "fine")
        js = app.state.runtime.messaging.js
        await app.state.runtime.messaging.wait_ready()
        for e in (poison, fine):
            await js.publish(e.nats_subject(settings.events_subject_prefix), e.to_json())
        runner = app.state.runtime.consumers[0]
        await eventually(lambda: runner.consumer.parked == 1, within=15)
        await eventually(lambda: _seen(app, "ok"))
        async with app.state.runtime.db.session() as s:
            parked = (await s.execute(text("SELECT event_id, deliveries FROM kit_parked"))).all()
        assert parked == [(poison.id, 2)]
        status = (await client.get("/status")).json()
        assert status["details"]["consumers"][0]["parked"] == 1
        assert await _seen(app, "p1") == 0
