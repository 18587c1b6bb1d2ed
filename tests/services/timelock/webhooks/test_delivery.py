"""Deliveries to a real HTTP receiver on 127.0.0.1: signed, filtered, retried with backoff, dead after
the last attempt, and isolated per endpoint."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from kit.testing import eventually

from ..support import Org
from .conftest import Hooks
from .receiver import Receiver, serving, verify


async def test_a_receiver_gets_signed_deliveries_of_the_subjects_it_asked_for(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver()) as receiver:
        registered = (await hooks.register(org, receiver.url, ["proposal.>"])).json()
        created = hooks.event(org, "proposal.created", title="Fund the garden")
        vote = hooks.event(org, "vote.cast", choice="FOR")
        enacted = hooks.event(org, "proposal.enacted")
        for event in (created, vote, enacted):
            await hooks.publish(event)

        await eventually(lambda: len(receiver.received) >= 2, within=15)
        await asyncio.sleep(0.3)

        documents = [verify(registered["secret"], r.headers, r.body) for r in receiver.received]
        assert [d["id"] for d in documents] == [created.id, enacted.id]
        assert documents[0] == created.to_cloudevent()
        first = receiver.received[0].headers
        assert first["webhook-id"] == created.id
        assert first["content-type"].startswith("application/cloudevents+json")
        assert first["webhook-attempt"] == "1"


async def test_a_tampered_body_fails_verification(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver()) as receiver:
        registered = (await hooks.register(org, receiver.url)).json()
        await hooks.publish(hooks.event(org))
        await eventually(lambda: receiver.received, within=15)

        delivery = receiver.received[0]
        verify(registered["secret"], delivery.headers, delivery.body)
        tampered = delivery.body.replace(b'"proposal"', b'"Proposal"', 1) + b" "
        with pytest.raises(ValueError, match="bad signature"):
            verify(registered["secret"], delivery.headers, tampered)


async def test_a_failing_receiver_is_retried_with_backoff_then_the_delivery_is_dead(
    hooks: Hooks, org: Org
) -> None:
    await hooks.found(org)
    start = hooks.clock.now()
    async with serving(Receiver(status=500)) as receiver:
        webhook = (await hooks.register(org, receiver.url)).json()["webhook"]
        await hooks.publish(hooks.event(org))
        await eventually(lambda: len(receiver.received) == 1, within=15)
        page = await eventually(
            lambda: _with(hooks, webhook["id"], lambda d: d["attemptCount"] == 1 and d["status"] == "PENDING")
        )
        assert page["nextAttemptAt"] == at(start, 10)  # the base wait, 10 s

        await hooks.advance(9)
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1  # not before its time
        await hooks.advance(1)
        await eventually(lambda: len(receiver.received) == 2, within=15)
        page = await eventually(
            lambda: _with(hooks, webhook["id"], lambda d: d["attemptCount"] == 2 and d["status"] == "PENDING")
        )
        assert page["nextAttemptAt"] == at(start, 30)  # doubled: 20 s after the second

        await hooks.advance(20)
        dead = await eventually(
            lambda: _with(hooks, webhook["id"], lambda d: d["status"] == "DEAD"), within=15
        )

    assert len(receiver.received) == 3
    assert dead["attemptCount"] == 3
    assert dead["nextAttemptAt"] is None
    assert [(a["number"], a["statusCode"]) for a in dead["attempts"]] == [(1, 500), (2, 500), (3, 500)]
    assert dead["lastError"] == "HTTP 500: nope"
    assert {r.headers["webhook-attempt"] for r in receiver.received} == {"1", "2", "3"}
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


async def test_a_receiver_that_recovers_gets_the_delivery_on_a_later_attempt(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver(statuses=[503], status=200)) as receiver:
        webhook = (await hooks.register(org, receiver.url)).json()["webhook"]
        await hooks.publish(hooks.event(org))
        await eventually(
            lambda: _with(hooks, webhook["id"], lambda d: d["attemptCount"] == 1 and d["status"] == "PENDING")
        )
        await hooks.advance(10)
        delivered = await eventually(
            lambda: _with(hooks, webhook["id"], lambda d: d["status"] == "DELIVERED")
        )

    assert [a["statusCode"] for a in delivered["attempts"]] == [503, 200]
    assert delivered["finishedAt"] is not None


async def test_a_hanging_endpoint_neither_delays_another_endpoint_nor_the_service(
    hooks: Hooks, org: Org
) -> None:
    await hooks.found(org)
    async with serving(Receiver(hang=True)) as stuck, serving(Receiver()) as healthy:
        slow = (await hooks.register(org, stuck.url)).json()["webhook"]
        await hooks.register(org, healthy.url)
        events = [hooks.event(org) for _ in range(3)]
        for event in events:
            await hooks.publish(event)

        # the healthy endpoint has all three while the stuck one still waits on its first request
        await eventually(lambda: len(healthy.received) == 3, within=5)
        assert len(stuck.received) == 1
        async with hooks.as_member(None) as client:
            assert (await client.get("/healthz")).status_code == 200

        page = await eventually(
            lambda: _with(hooks, slow["id"], lambda d: d["lastError"] is not None), within=10
        )
        assert page["lastError"] == "no answer within 1 s"
        assert page["status"] == "PENDING"


async def test_an_endpoint_gets_one_request_at_a_time_in_the_order_of_the_events(
    hooks: Hooks, org: Org
) -> None:
    await hooks.found(org)
    async with serving(Receiver(delay=0.15)) as receiver:
        await hooks.register(org, receiver.url)
        events = [hooks.event(org) for _ in range(4)]
        for event in events:
            await hooks.publish(event)
        await eventually(lambda: len(receiver.received) == 4, within=15)

    assert [r.headers["webhook-id"] for r in receiver.received] == [e.id for e in events]
    assert receiver.most_in_flight == 1


async def test_deliveries_page_newest_first(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver()) as receiver:
        webhook = (await hooks.register(org, receiver.url)).json()["webhook"]
        events = [hooks.event(org) for _ in range(3)]
        for event in events:
            await hooks.publish(event)
        await eventually(lambda: len(receiver.received) == 3, within=15)

    first = await hooks.deliveries(webhook["id"], first=2)
    rest = await hooks.deliveries(webhook["id"], first=2, after=first["endCursor"])

    assert [d["eventId"] for d in first["items"] + rest["items"]] == [e.id for e in reversed(events)]
    assert (first["totalCount"], first["hasNextPage"], rest["hasNextPage"]) == (3, True, False)


async def test_an_event_published_twice_is_delivered_once_per_endpoint(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver()) as receiver:
        webhook = (await hooks.register(org, receiver.url)).json()["webhook"]
        event = hooks.event(org)
        await hooks.publish(event, msg_id="first")
        await hooks.publish(event, msg_id="second")  # past JetStream's duplicate window, say
        later = hooks.event(org)
        await hooks.publish(later)
        await eventually(lambda: len(receiver.received) >= 2, within=15)
        await asyncio.sleep(0.3)

    assert [r.headers["webhook-id"] for r in receiver.received] == [event.id, later.id]
    assert (await hooks.deliveries(webhook["id"]))["totalCount"] == 2


async def test_an_endpoint_gets_nothing_from_before_it_was_registered(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    old = hooks.event(org)
    hooks.clock.advance(3600)
    async with serving(Receiver()) as receiver:
        await hooks.register(org, receiver.url)
        new = hooks.event(org)
        await hooks.publish(old)
        await hooks.publish(new)
        await eventually(lambda: receiver.received, within=15)
        await asyncio.sleep(0.3)

    assert [r.headers["webhook-id"] for r in receiver.received] == [new.id]


async def test_a_deleted_endpoint_gets_no_more_deliveries(hooks: Hooks, org: Org) -> None:
    await hooks.found(org)
    async with serving(Receiver()) as receiver:
        webhook = (await hooks.register(org, receiver.url)).json()["webhook"]
        first = hooks.event(org)
        await hooks.publish(first)
        await eventually(lambda: receiver.received, within=15)
        async with hooks.as_member(1) as client:
            assert (await client.delete(f"/v1/webhooks/{webhook['id']}")).json() == {"id": webhook["id"]}
        await hooks.publish(hooks.event(org))
        marker = (await hooks.register(org, receiver.url, ["vote.cast"])).json()
        vote = hooks.event(org, "vote.cast")
        await hooks.publish(vote)
        await eventually(lambda: len(receiver.received) == 2, within=15)

    assert [r.headers["webhook-id"] for r in receiver.received] == [first.id, vote.id]
    assert marker["webhook"]["subjects"] == ["vote.cast"]


async def test_an_attempt_whose_sender_stopped_is_retried_when_its_lease_runs_out(
    hooks: Hooks, org: Org
) -> None:
    await hooks.found(org)

    async def stopped(*_args: object, **_kwargs: object) -> None:
        await asyncio.Event().wait()  # the process "died" with the request under way

    hooks.harness.runtime.extra["webhook_dispatcher"].send = stopped
    webhook = (await hooks.register(org, "http://127.0.0.1:9/unused")).json()["webhook"]
    await hooks.publish(hooks.event(org))
    await eventually(lambda: _with(hooks, webhook["id"], lambda d: d["status"] == "SENDING"), within=15)

    start = hooks.clock.now()
    await hooks.advance(1 + 5)  # the request's time limit and the lease margin
    page = await eventually(
        lambda: _with(hooks, webhook["id"], lambda d: d["status"] == "PENDING"), within=10
    )

    assert page["attempts"][0]["error"] == "the sender stopped before an answer was recorded"
    assert page["attemptCount"] == 1
    assert page["nextAttemptAt"] == at(start, 6 + 10)


# --- helpers ---------------------------------------------------------------------------------------


def at(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def _with(hooks: Hooks, webhook_id: str, check) -> dict | None:
    """The webhook's latest delivery once `check` holds for it."""
    page = await hooks.deliveries(webhook_id)
    if page["items"] and check(page["items"][0]):
        return page["items"][0]
    return None
