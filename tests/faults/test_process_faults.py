"""The real processes broken for real under load: kill -9, NATS stopped, Postgres restarted, a hung service.

One private platform for the fault suite (its own Postgres and NATS), one organisation with fast deadlines
(votes close in 3 s, reviews in 2 s), three clients proposing, voting, raising concerns and objecting
through the gateway while each fault happens. After each fault the platform is left to settle and then
everything the clients were told is checked against the databases and the stream (`checks.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.harness import OPERATIONS, Subscription
from tests.faults.checks import check_no_loss
from tests.faults.figures import report
from tests.faults.platform import SERVICES, FaultStack
from tests.faults.support import Client, Ledger, Org, Store, by_type, drive

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(150)]


@contextlib.asynccontextmanager
async def load(client: Client, org: Org, workers: int = 3) -> AsyncIterator[asyncio.Event]:
    """Clients drive governance for the duration of the block (and finish their current step after)."""
    stop = asyncio.Event()
    task = asyncio.create_task(drive(client, org, stop, workers=workers))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def test_kill_9_of_each_process_under_load_loses_no_acknowledged_mutation_and_no_deadline(
    stack: FaultStack, org: Org, client: Client
):
    store = Store(stack)
    async with load(client, org):
        for name in (*SERVICES, "gateway"):
            await asyncio.sleep(1.0)
            stack.platform.kill(name)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(stack.platform.restart, name)
        await asyncio.sleep(1.5)
    await store.settle()
    figures = await check_no_loss(store, client.ledger)
    report("faults.kill9", **figures)
    assert figures["acknowledged"] > 30
    assert figures["deadlines_due"] > 5


async def test_nats_stopped_under_load_writes_succeed_and_projections_and_subscribers_catch_up_in_order(
    stack: FaultStack, org: Org, client: Client
):
    store = Store(stack)
    await store.settle()
    start = await store.stream_last_sequence()
    async with Subscription(
        stack.platform.graphql_url, OPERATIONS["ProposalEvents"], {"organization": org.slug}
    ) as sub:
        async with load(client, org):
            await asyncio.sleep(1.0)
            await asyncio.to_thread(stack.nats.stop)
            down_at = time.monotonic()
            # beside the load: a proposal made and passed while the events cannot flow
            passed_while_down = await propose_and_pass(client, org)
            await asyncio.sleep(1.5)
            up_at = time.monotonic()
            await asyncio.to_thread(stack.nats.start)
            await asyncio.sleep(2.0)
        await store.settle()
        events = await store.events()
        expected = [
            e.id for e in events[start:] if e.organization == org.slug and e.aggregate in ("proposal", "vote")
        ]
        received = await collect(sub, set(expected), within=30)
    during = [o for o in client.ledger.outcomes if o.status == "ack" and down_at <= o.at < up_at]
    unique = list(dict.fromkeys(received))
    position = {event_id: i for i, event_id in enumerate(expected)}
    figures = await check_no_loss(store, client.ledger)
    report(
        "faults.nats_down",
        acknowledged_while_down=len(during),
        subscription_expected=len(expected),
        subscription_received=len(set(received) & set(expected)),
        subscription_duplicates=len(received) - len(unique),
        **figures,
    )
    assert len(during) >= 4, "writes stopped while NATS was down"
    opened = [e for e in by_type(events, "review", "started") if e.data["proposalId"] == passed_while_down]
    assert len(opened) == 1, "the timelock never opened the review of the proposal passed while NATS was down"
    assert set(unique) == set(expected)
    assert [position[i] for i in unique] == sorted(position[i] for i in unique), "events out of stream order"


async def propose_and_pass(client: Client, org: Org) -> str:
    """A TLC proposal and three votes for it (closing its vote early), each acknowledged."""
    created = await client.mutate(
        "CreateProposal",
        org.tlc[0],
        ("proposal",),
        input={"bodyId": org.tlc_id, "kind": "OPERATIONAL", "title": "Made offline", "description": "d"},
    )
    assert created.status == "ack", created
    pid = created.payload["proposal"]["id"]  # type: ignore[index]
    for voter in org.tlc[:3]:
        vote = await client.mutate(
            "CastVote", voter, ("vote", pid, voter.address.lower(), "FOR"), proposalId=pid, choice="FOR"
        )
        assert vote.status == "ack", vote
    return pid


async def collect(sub: Subscription, expected: set[str], within: float) -> list[str]:
    """Event ids a subscriber receives until it has seen all of `expected` (or `within` runs out)."""
    received: list[str] = []
    deadline = time.monotonic() + within
    while not expected <= set(received) and time.monotonic() < deadline:
        try:
            payload = await sub.next(within=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        assert "protocol" not in payload, payload
        received.append(payload["data"]["proposalEvents"]["id"])
    return received


async def readiness(stack: FaultStack) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=3) as http:
        out = {}
        for name in SERVICES:
            try:
                out[name] = (await http.get(f"{stack.platform.url(name)}/readyz")).status_code
            except httpx.HTTPError:
                out[name] = 0
        return out


async def wait_readiness(stack: FaultStack, code: int, within: float) -> float:
    """Seconds until every service's /readyz answers `code`; fails after `within`."""
    started = time.monotonic()
    last: dict[str, int] = {}
    while time.monotonic() - started < within:
        last = await readiness(stack)
        if set(last.values()) == {code}:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"services not all {code} within {within}s: {last}")


async def test_postgres_restarted_under_load_services_go_not_ready_and_recover_and_the_gateway_fails_fast(
    stack: FaultStack, org: Org, client: Client
):
    store = Store(stack)
    probes = Client(stack.platform.graphql_url, Ledger(), timeout=20)
    try:
        async with load(client, org):
            await asyncio.sleep(1.0)
            await asyncio.to_thread(stack.postgres.stop)
            went_down = await wait_readiness(stack, 503, within=10)
            answers = []
            for _ in range(3):
                started = time.monotonic()
                read = await probes.send("Organization", None, {"slug": org.slug})
                write = await probes.mutate(
                    "CreateProposal",
                    org.tlc[0],
                    ("proposal",),
                    input={"bodyId": org.tlc_id, "kind": "OPERATIONAL", "title": "t", "description": "d"},
                )
                answers.append((time.monotonic() - started, read, write))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(stack.postgres.start)
            recovered = await wait_readiness(stack, 200, within=40)
            await asyncio.sleep(1.5)
        await store.settle()
        figures = await check_no_loss(store, client.ledger)
    finally:
        await probes.close()
    report(
        "faults.postgres_restart",
        not_ready_after_s=round(went_down, 1),
        recovered_after_s=round(recovered, 1),
        slowest_answer_while_down_s=round(max(a[0] for a in answers), 1),
        **figures,
    )
    for seconds, read, write in answers:
        assert seconds < 8, "the gateway took too long to say the database is down"
        assert read["errors"][0]["extensions"]["code"] == "UNAVAILABLE", read
        assert (write.status, write.code) == ("unknown", "UNAVAILABLE"), write
    assert figures["acknowledged"] > 5


async def test_a_hung_service_makes_the_gateway_time_out_cleanly_while_it_keeps_serving_the_others(
    stack: FaultStack, org: Org, client: Client
):
    store = Store(stack)
    listing = await client.query("Proposals", organization=org.slug, status=["BLOCKED", "ENACTED"], first=1)
    assert listing is not None
    assert listing["proposals"]["edges"], "the earlier tests left no reviewed proposal"
    pid = listing["proposals"]["edges"][0]["node"]["id"]
    timelock = stack.platform.children["timelock"]
    assert timelock.pid is not None
    os.kill(timelock.pid, signal.SIGSTOP)
    try:
        hung_write = asyncio.create_task(
            client.mutate("RaiseConcern", org.shg[1], ("concern", pid, "late"), proposalId=pid, reason="late")
        )
        hung_read = asyncio.create_task(timed(client.send("Proposal", None, {"id": pid})))
        others: list[float] = []
        while not (hung_write.done() and hung_read.done()):
            seconds, data = await timed(client.query("Organization", slug=org.slug))
            assert data is not None
            assert data["organization"]["slug"] == org.slug
            others.append(seconds)
            seconds, data = await timed(client.query("Proposals", organization=org.slug, first=5))
            assert data is not None
            assert data["proposals"]["totalCount"] > 0
            others.append(seconds)
        write = await hung_write
        read_seconds, read = await hung_read
    finally:
        os.kill(timelock.pid, signal.SIGCONT)
    recovered = None
    for _ in range(50):
        recovered = await client.status_of(pid)
        if recovered is not None:
            break
        await asyncio.sleep(0.2)
    await store.settle()
    figures = await check_no_loss(store, client.ledger)
    report(
        "faults.hung_service",
        write_timed_out_after_s=round(write.seconds, 1),
        read_timed_out_after_s=round(read_seconds, 1),
        other_requests=len(others),
        slowest_other_s=round(max(others), 2),
        **figures,
    )
    assert write.status == "unknown"
    assert write.code == "UNAVAILABLE"
    assert write.seconds < 5
    assert read_seconds < 8
    assert read["data"]["proposal"]["id"] == pid, "the parts that did not need the hung service were lost"
    assert {e["extensions"]["code"] for e in read["errors"]} == {"UNAVAILABLE"}
    assert len(others) >= 4
    assert max(others) < 1.5
    assert recovered is not None
    assert recovered["review"] is not None, "the gateway did not use the service once it answered"


async def timed(awaitable):
    started = time.monotonic()
    result = await awaitable
    return time.monotonic() - started, result
