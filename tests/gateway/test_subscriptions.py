"""Live proposal events over graphql-transport-ws, fed from real JetStream through one shared
subscription per organisation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.config import Settings
from gateway.fanout import EventHub, SubscriberTooSlow
from kit import Messaging, new_event
from kit.testing import eventually
from tests.gateway.conftest import token_for
from tests.gateway.fakes import FakeServices

SUBSCRIPTION = """
subscription ProposalEvents($organization: String!) {
  proposalEvents(organization: $organization) { id type time proposal { id status } }
}
"""


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, within=10)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live(gateway_settings: Settings, fake: FakeServices) -> AsyncIterator[tuple[str, FastAPI]]:
    app = create_app(gateway_settings, transports=fake.transports())
    async with serving(app) as host:
        await asyncio.wait_for(app.state.messaging.wait_ready(), 10)
        yield host, app


@pytest.fixture
async def js(gateway_settings: Settings) -> AsyncIterator[Any]:
    nc = await nats.connect(gateway_settings.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def publish(
    js: Any, settings: Settings, slug: str, proposal_id: str, event: str, status: str, sequence: int
) -> str:
    aggregate, name = event.split(".")
    data: dict[str, Any] = {"proposalId": proposal_id, "sequence": sequence}
    data["proposalStatus" if aggregate == "vote" else "status"] = status
    envelope = new_event(
        source="/services/proposals",
        organization=slug,
        organization_id=str(uuid.uuid4()),
        aggregate=aggregate,
        aggregate_id=proposal_id,
        event=name,
        data=data,
    )
    await js.publish(
        envelope.nats_subject(settings.events_subject_prefix),
        envelope.to_json(),
        headers={"Nats-Msg-Id": envelope.id},
    )
    return envelope.id


async def open_socket(host: str, payload: dict[str, Any] | None = None) -> ClientConnection:
    ws = await connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    return ws


async def subscribe(ws: ClientConnection, slug: str, op_id: str = "1") -> None:
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"organization": slug}},
            }
        )
    )


async def next_events(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["type"] == "next", message
        out.append(message["payload"]["data"]["proposalEvents"])
    return out


async def test_two_clients_share_one_nats_subscription_and_both_get_every_event_in_order(
    live: tuple[str, FastAPI], fake: FakeServices, js: Any, gateway_settings: Settings
) -> None:
    host, app = live
    fake.add_organization("rp-live")
    hub: EventHub = app.state.gateway.hub
    first, second = await open_socket(host), await open_socket(host)
    await subscribe(first, "rp-live")
    await subscribe(second, "rp-live")
    await eventually(lambda: hub.subscriber_count("rp-live") == 2)

    p1, p2 = str(uuid.uuid4()), str(uuid.uuid4())
    steps = [
        (p1, "proposal.created", "VOTING"),
        (p2, "proposal.created", "VOTING"),
        (p1, "vote.cast", "VOTING"),
        (p1, "proposal.voting_closed", "IN_REVIEW"),
        (p2, "proposal.cancelled", "CANCELLED"),
        (p1, "proposal.enacted", "ENACTED"),
    ]
    ids = [
        await publish(js, gateway_settings, "rp-live", p, e, s, i + 1) for i, (p, e, s) in enumerate(steps)
    ]

    for ws in (first, second):
        events = await next_events(ws, len(steps))
        assert [e["id"] for e in events] == ids
        assert [(e["proposal"]["id"], e["proposal"]["status"]) for e in events] == [
            (p, s) for p, _, s in steps
        ]
        assert events[2]["type"] == "governance.vote.cast.v1"
    assert hub.nats_subscriptions == 1
    # the status came from the events themselves: no service call per event
    assert {c.path for c in fake.calls} == {"/v1/organizations/rp-live"}
    await first.close()
    await second.close()
    await eventually(lambda: hub.nats_subscriptions == 0)


async def test_events_of_other_organisations_and_aggregates_are_not_delivered(
    live: tuple[str, FastAPI], fake: FakeServices, js: Any, gateway_settings: Settings
) -> None:
    host, app = live
    fake.add_organization("rp-mine")
    ws = await open_socket(host)
    await subscribe(ws, "rp-mine")
    await eventually(lambda: app.state.gateway.hub.subscriber_count("rp-mine") == 1)

    await publish(js, gateway_settings, "rp-other", str(uuid.uuid4()), "proposal.created", "VOTING", 1)
    await publish(js, gateway_settings, "rp-mine", str(uuid.uuid4()), "review.started", "IN_REVIEW", 1)
    mine = await publish(js, gateway_settings, "rp-mine", str(uuid.uuid4()), "proposal.created", "VOTING", 1)

    assert [e["id"] for e in await next_events(ws, 1)] == [mine]
    await ws.close()


async def test_a_subscription_to_an_unknown_organisation_ends_with_not_found(
    live: tuple[str, FastAPI], fake: FakeServices
) -> None:
    host, app = live
    ws = await open_socket(host)
    await subscribe(ws, "rp-nothing")
    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert message["type"] == "next"
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    await eventually(lambda: app.state.gateway.hub.nats_subscriptions == 0)
    await ws.close()


async def test_a_websocket_with_a_bad_token_is_rejected_in_connection_init(live: tuple[str, FastAPI]) -> None:
    host, _ = live
    ws = await open_socket(host, {"authorization": "Bearer forged"})
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_websocket_with_a_good_token_is_acknowledged(
    live: tuple[str, FastAPI], fake: FakeServices
) -> None:
    host, _ = live
    ws = await open_socket(host, {"authorization": f"Bearer {token_for(fake, fake.address('a'))}"})
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    await ws.close()


# --- the hub itself, on real NATS -------------------------------------------------------------------


@pytest.fixture
async def hub(gateway_settings: Settings) -> AsyncIterator[EventHub]:
    messaging = Messaging(gateway_settings, "gateway-test")
    messaging.start()
    await asyncio.wait_for(messaging.wait_ready(), 10)
    hub = EventHub(
        messaging,
        stream=gateway_settings.events_stream,
        subject_prefix=gateway_settings.events_subject_prefix,
        queue_size=3,
        watchdog_seconds=0.3,
        idle_heartbeat_seconds=1.0,
    )
    try:
        yield hub
    finally:
        await hub.close()
        await messaging.close()


async def take(subscriber: Any, n: int) -> list[Any]:
    out = []
    iterator = aiter(subscriber)
    while len(out) < n:
        out.append(await asyncio.wait_for(anext(iterator), 10))
    return out


async def test_a_subscriber_gets_what_is_published_from_its_joining_on_and_nothing_before(
    hub: EventHub, js: Any, gateway_settings: Settings
) -> None:
    await publish(js, gateway_settings, "rp-hub", str(uuid.uuid4()), "proposal.created", "VOTING", 1)
    async with hub.subscribe("rp-hub") as subscriber:
        after = await publish(
            js, gateway_settings, "rp-hub", str(uuid.uuid4()), "proposal.created", "VOTING", 1
        )
        assert [e.id for e in await take(subscriber, 1)] == [after]


async def test_a_new_subscriber_on_a_running_feed_misses_nothing_published_after_it_joined(
    hub: EventHub, js: Any, gateway_settings: Settings
) -> None:
    async with hub.subscribe("rp-join") as early:
        await publish(js, gateway_settings, "rp-join", str(uuid.uuid4()), "proposal.created", "VOTING", 1)
        async with hub.subscribe("rp-join") as late:
            ids = [
                await publish(
                    js, gateway_settings, "rp-join", str(uuid.uuid4()), "proposal.created", "VOTING", 1
                )
                for _ in range(2)
            ]
            assert [e.id for e in await take(late, 2)] == ids
            assert len(await take(early, 3)) == 3
            assert hub.nats_subscriptions == 1


async def test_the_feed_recovers_when_its_consumer_vanishes_without_loss_or_duplicates(
    hub: EventHub, js: Any, gateway_settings: Settings
) -> None:
    async with hub.subscribe("rp-reset") as subscriber:
        first = await publish(
            js, gateway_settings, "rp-reset", str(uuid.uuid4()), "proposal.created", "VOTING", 1
        )
        assert [e.id for e in await take(subscriber, 1)] == [first]
        feed = hub._feeds["rp-reset"]
        # what a server restart does to an ephemeral consumer (nats.py #510: the client does not notice)
        await js.delete_consumer(gateway_settings.events_stream, feed.subscription._consumer)
        later = [
            await publish(
                js, gateway_settings, "rp-reset", str(uuid.uuid4()), "proposal.created", "VOTING", 1
            )
            for _ in range(2)
        ]
        assert [e.id for e in await take(subscriber, 2)] == later
        await eventually(lambda: feed.resets >= 1)


async def test_a_subscriber_that_falls_behind_is_ended_rather_than_skipping_events(
    hub: EventHub, js: Any, gateway_settings: Settings
) -> None:
    async with hub.subscribe("rp-slow") as subscriber:
        for _ in range(5):
            await publish(js, gateway_settings, "rp-slow", str(uuid.uuid4()), "proposal.created", "VOTING", 1)
        await eventually(lambda: subscriber.overflowed)
        with pytest.raises(SubscriberTooSlow):
            await take(subscriber, 5)


async def test_each_organisation_has_its_own_feed_and_it_stops_with_its_last_subscriber(
    hub: EventHub,
) -> None:
    async with hub.subscribe("rp-a"), hub.subscribe("rp-b"), hub.subscribe("rp-b"):
        assert hub.nats_subscriptions == 2
        assert hub.subscriber_count("rp-b") == 2
    assert hub.nats_subscriptions == 0
