"""The stream keeps its events across a NATS restart (file storage), on a private nats-server restarted on
the same store directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from kit import ServiceSettings, ensure_stream, new_event
from kit.testing import fetch_events
from stack.infra import EmbeddedNats


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    embedded = EmbeddedNats(tmp_path / "jetstream")
    embedded.start()
    yield embedded
    embedded.stop()


def settings(url: str) -> ServiceSettings:
    return ServiceSettings(
        nats_url=url,
        events_stream="GOVERNANCE",
        events_subject_prefix="governance",
        events_stream_max_bytes=2**24,
    )


async def test_events_survive_a_nats_restart_in_order(server: EmbeddedNats) -> None:
    s = settings(server.url)
    events = [
        new_event(
            source="/services/proposals",
            organization="rp",
            organization_id="3f1c1b52-8a84-4a39-9a0e-8d2f8f6f1e01",
            aggregate="proposal",
            aggregate_id="6a0f1c52-8a84-4a39-9a0e-8d2f8f6f1e02",
            event="created",
            data={"sequence": n},
        )
        for n in range(1, 6)
    ]
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    await ensure_stream(js, s)
    for event in events:
        await js.publish(event.nats_subject("governance"), event.to_json(), headers={"Nats-Msg-Id": event.id})
    await nc.close()

    server.stop()
    server.start()

    back = await fetch_events(server.url, "GOVERNANCE", "governance.rp.>")
    assert [e.id for e in back] == [e.id for e in events]
    assert [e.sequence for e in back] == [1, 2, 3, 4, 5]


async def test_a_republished_event_is_still_dropped_as_a_duplicate_after_a_restart(
    server: EmbeddedNats,
) -> None:
    s = settings(server.url)
    event = new_event(
        source="/services/proposals",
        organization="rp",
        organization_id="3f1c1b52-8a84-4a39-9a0e-8d2f8f6f1e01",
        aggregate="proposal",
        aggregate_id="6a0f1c52-8a84-4a39-9a0e-8d2f8f6f1e02",
        event="created",
        data={"sequence": 1},
    )
    nc = await nats.connect(server.url)
    await ensure_stream(nc.jetstream(), s)
    first = await nc.jetstream().publish(
        "governance.rp.proposal.created", event.to_json(), headers={"Nats-Msg-Id": event.id}
    )
    await nc.close()

    server.stop()
    server.start()

    nc = await nats.connect(server.url)
    again = await nc.jetstream().publish(
        "governance.rp.proposal.created", event.to_json(), headers={"Nats-Msg-Id": event.id}
    )
    await nc.close()
    assert (again.duplicate, again.seq) == (True, first.seq)
