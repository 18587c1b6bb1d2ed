"""Duplicate and out-of-order deliveries injected into the consumers: the state equals the no-fault run.

The history is the suite's own stream (every fault test's events, plus membership churn made here: funds
committed and taken back on exit, a cell created by an enacted proposal, a contributor added and removed).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest

from kit import Envelope
from tests.e2e.harness import Wallet
from tests.faults.figures import report
from tests.faults.platform import SERVICES, FaultStack
from tests.faults.replay import Replay, dump, in_order, replay, with_faults
from tests.faults.support import Client, Ledger, Org, Store

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(150)]

# What a replica builds from other services' events and must build the same whatever the delivery order.
# Not compared under reordering: a review's reviewers and weights (a snapshot of the projection when the
# vote's close is applied, by design), and the proposals service's projection counter (how many changes
# it has seen since the organisation arrived: a pacing aid for voter snapshots, not governance state).
PROJECTIONS = {
    "proposals": (
        "organizations",
        "bodies",
        "members",
        "fund_commitment_entries",
        "fund_allocations",
        "policies",
    ),
    "timelock": ("bodies", "members", "cancelled_proposals", "kit_inbox"),
}
UNORDERED_COLUMNS = ("projection_version", "projection_updated_at")


@dataclass
class History:
    """The stream as recorded, where to replay it, and the replica built by in-order single delivery."""

    events: list[Envelope]
    database_url: str
    subject_prefix: str
    clean: Replay

    async def replay(self, *, reorder: bool) -> Replay:
        return await replay(
            self.database_url, with_faults(self.events, seed=11, reorder=reorder), self.subject_prefix
        )


async def ok(client: Client, name: str, who: Wallet, **variables) -> dict:
    outcome = await client.mutate(name, who, (name,), **variables)
    assert outcome.status == "ack", outcome
    return outcome.payload  # type: ignore[return-value]


async def enacted(client: Client, proposal_id: str, voters: list[Wallet], within: float = 20) -> None:
    for w in voters:
        await ok(client, "CastVote", w, proposalId=proposal_id, choice="FOR")
    deadline = time.monotonic() + within
    status = None
    while time.monotonic() < deadline:
        p = await client.status_of(proposal_id)
        status = p and p["status"]
        if status == "ENACTED":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"proposal {proposal_id} not enacted: {status}")


async def churn(client: Client, org: Org) -> None:
    """Membership changes of every kind the other services project."""
    leaver = org.shg[-1]
    await ok(client, "CommitFunds", leaver, organization=org.slug, cycle=0, amount="100")
    await ok(client, "CommitFunds", leaver, organization=org.slug, cycle=3, amount="40.5")
    crew = [await client.sign_in(Wallet.create(f"R{i}")) for i in range(2)]
    helper = await client.sign_in(Wallet.create("H"))
    cell = await ok(
        client,
        "CreateProposal",
        org.tlc[0],
        input={
            "bodyId": org.tlc_id,
            "kind": "OPERATIONAL",
            "title": "A research cell",
            "description": "churn",
            "actions": [
                {
                    "createCell": {
                        "parentId": org.tlc_id,
                        "name": f"Research {uuid.uuid4().hex[:4]}",
                        "purpose": "Find out",
                        "coreTeam": [{"address": w.address} for w in crew],
                    }
                }
            ],
        },
    )
    await enacted(client, cell["proposal"]["id"], org.tlc[:3])
    body = (await client.query("Body", id=org.tlc_id))["body"]  # type: ignore[index]
    research = [c["id"] for c in body["children"]][-1]
    for action in (
        {"addMember": {"bodyId": research, "address": helper.address, "role": "CONTRIBUTOR"}},
        {"removeMember": {"bodyId": research, "address": helper.address}},
    ):
        p = await ok(
            client,
            "CreateProposal",
            crew[0],
            input={
                "bodyId": research,
                "kind": "OPERATIONAL",
                "title": "Crew",
                "description": "c",
                "actions": [action],
            },
        )
        await enacted(client, p["proposal"]["id"], crew)
    await ok(client, "LeaveBody", leaver, bodyId=org.shg_id)
    await ok(client, "LeaveBody", org.tlc[-1], bodyId=org.tlc_id)


@pytest.fixture(scope="module")
async def history(stack: FaultStack, org: Org) -> AsyncIterator[History]:
    client = Client(stack.platform.graphql_url, Ledger())
    try:
        await churn(client, org)
    finally:
        await client.close()
    store = Store(stack)
    await store.settle()
    events = await store.events()
    clean = await replay(stack.postgres.url, in_order(events), stack.subject_prefix)
    return History(events, stack.postgres.url, stack.subject_prefix, clean)


def differences(a: Replay, b: Replay, tables: dict[str, tuple[str, ...]] | None = None) -> dict[str, int]:
    """Rows in one replica's table and not the other's, per table (all tables when none are named)."""
    out = {}
    for service, by_table in a.tables.items():
        for table in tables[service] if tables else by_table:
            left, right = set(by_table[table]), set(b.tables[service][table])
            if tables:
                left, right = {_without(row) for row in left}, {_without(row) for row in right}
            if left != right:
                out[f"{service}.{table}"] = len(left ^ right)
    return out


def _without(row: str) -> str:
    doc = json.loads(row)
    for column in UNORDERED_COLUMNS:
        doc.pop(column, None)
    return json.dumps(doc, sort_keys=True)


async def test_duplicate_deliveries_leave_every_table_exactly_as_single_delivery_does(history: History):
    faulty = await history.replay(reorder=False)
    diff = differences(history.clean, faulty)
    report(
        "faults.duplicates",
        events=len(history.events),
        deliveries=faulty.applied + faulty.duplicates,
        applied=faulty.applied,
        duplicates_ignored=faulty.duplicates,
        tables_differing=len(diff),
    )
    assert history.clean.given_up == faulty.given_up == []
    assert faulty.applied == history.clean.applied
    assert diff == {}


async def test_out_of_order_and_duplicate_deliveries_build_the_same_projections_as_in_order_delivery(
    history: History,
):
    faulty = await history.replay(reorder=True)
    diff = differences(history.clean, faulty, PROJECTIONS)
    report(
        "faults.out_of_order",
        events=len(history.events),
        deliveries=faulty.applied + faulty.duplicates + faulty.redelivered,
        redelivered_after_failure=faulty.redelivered,
        duplicates_ignored=faulty.duplicates,
        tables_differing=len(diff),
    )
    assert faulty.given_up == []
    assert faulty.applied == history.clean.applied
    assert diff == {}, dict(diff.items())


async def test_every_event_delivered_again_to_the_running_services_changes_nothing(
    stack: FaultStack, org: Org
):
    store = Store(stack)
    await store.settle()
    before = {s: await dump(stack.dsn(s)) for s in SERVICES}
    events = await store.events()
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        for event in reversed(events):
            # a new message id gets past the stream's own deduplication: only the consumers' inbox is left
            await js.publish(
                event.nats_subject(stack.subject_prefix),
                event.to_json(),
                headers={"Nats-Msg-Id": f"again-{event.id}"},
            )
        await drained(js, stack.stream, within=60)
    finally:
        await nc.close()
    await store.settle()
    after = {s: await dump(stack.dsn(s)) for s in SERVICES}
    changed = {f"{s}.{t}" for s in SERVICES for t in before[s] if before[s][t] != after[s].get(t)}
    report(
        "faults.redelivered_to_running_services",
        events_delivered_again=len(events),
        tables_changed=len(changed),
    )
    assert changed == set()


async def drained(js, stream: str, within: float) -> None:
    """Wait until every durable consumer of the stream has acknowledged everything."""
    deadline = time.monotonic() + within
    pending = None
    while time.monotonic() < deadline:
        infos = await js.consumers_info(stream)
        durable = [c for c in infos if c.config.durable_name]
        pending = {c.name: c.num_pending + c.num_ack_pending for c in durable}
        if durable and not any(pending.values()):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"consumers did not drain within {within}s: {pending}")
