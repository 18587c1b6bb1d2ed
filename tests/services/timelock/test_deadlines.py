"""Durable deadlines: restarts, several scheduler replicas, and cancellation racing a deadline."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import text

from kit import Database, Scheduler
from kit.testing import FakeClock
from services.timelock.config import Settings
from services.timelock.consumers import build_handler
from services.timelock.scheduler import build_scheduler
from services.timelock.service import DEADLINE_KINDS

from .support import DAY, Harness, Org, due_unfired, proposal_event, service, stop_tasks, voting_closed


async def _statuses(harness: Harness) -> Counter[str]:
    async with harness.runtime.db.session() as session:
        rows = (await session.execute(text("SELECT status FROM reviews"))).scalars().all()
    return Counter(rows)


async def test_deadlines_passed_while_down_are_all_decided_once_on_restart(
    settings_for: Any, clock: FakeClock, org: Org
) -> None:
    settings = settings_for(Settings, events_stream_max_bytes=64 * 1024**2)
    proposals = []
    async with service(settings, clock) as first:
        await first.found_org(org, [1] * 3)
        for hours in range(1, 31):
            proposals.append(await first.open_review(org, window=hours * 3600, delay=DAY if hours % 2 else 0))
        await first.advance(3600)  # the first one is decided while up
        assert len(await first.events("review.approved")) == 1
    clock.advance(2 * DAY)  # down for two days: 29 deadlines pass unseen
    async with service(settings, clock) as second:
        await second.advance(0)
        approved = await second.events("review.approved")
        assert sorted(e["data"]["proposalId"] for e in approved) == sorted(map(str, proposals))
        assert await _statuses(second) == Counter({"APPROVED": 30})
        assert len(await second.events("operation.queued")) == 15
        # delays run from the verdict actually given: only the operation queued before the downtime is ready
        ready = await second.events("operation.ready")
        assert [e["data"]["proposalId"] for e in ready] == [str(proposals[0])]
        await second.advance(DAY)
        assert len(await second.events("operation.ready")) == 15


async def test_two_scheduler_replicas_decide_a_thousand_due_reviews_exactly_once(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1, 1, 1])
    handle = build_handler(timelock.timelock)
    async with timelock.runtime.db.session() as session:
        for _ in range(1000):
            await handle(session, voting_closed(org, uuid.uuid4(), window=3600))
    timelock.clock.advance(3600)
    # Two more replicas, each with its own connection pool, next to the app's own scheduler loop.
    databases = [Database(timelock.settings.sqlalchemy_url, pool_size=2) for _ in range(2)]
    replicas = [build_scheduler(db, timelock.clock, timelock.timelock, batch_size=50) for db in databases]
    tasks = [asyncio.create_task(replica.run()) for replica in replicas]
    try:
        async with asyncio.timeout(60):
            while await due_unfired(timelock.runtime):  # noqa: ASYNC110 - the rows live in Postgres
                await asyncio.sleep(0.05)
    finally:
        await stop_tasks(tasks)
        for db in databases:
            await db.dispose()
    approved = await timelock.events("review.approved")
    assert len(approved) == 1000
    assert len({e["data"]["reviewId"] for e in approved}) == 1000
    assert await _statuses(timelock) == Counter({"APPROVED": 1000})
    assert all(replica.fired_total > 0 for replica in replicas)  # both replicas took part


async def test_cancellation_racing_the_deadline_has_exactly_one_outcome(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1, 1, 1])
    proposals = [await timelock.open_review(org, window=3600) for _ in range(20)]
    timelock.clock.advance(3600)
    assert timelock.runtime.scheduler is not None

    async def fire() -> None:
        while await timelock.runtime.scheduler.fire_due():
            pass

    cancellations = [
        timelock.deliver(proposal_event(org, p, "cancelled", {"status": "CANCELLED", "cancelledBy": "0x1"}))
        for p in proposals
    ]
    await asyncio.gather(fire(), *cancellations)
    await timelock.advance(0)
    outcomes: Counter[str] = Counter()
    for event in await timelock.events():
        if event["type"] in ("governance.review.approved.v1", "governance.review.cancelled.v1"):
            outcomes[event["data"]["proposalId"]] += 1
    assert outcomes == Counter({str(p): 1 for p in proposals})
    statuses = await _statuses(timelock)
    assert statuses["APPROVED"] + statuses["CANCELLED"] == 20
    assert statuses["APPROVED"] == len(await timelock.events("review.approved"))


async def test_deadline_moved_by_a_concern_fires_only_at_its_new_time(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1, 1, 1])
    proposal = await timelock.open_review(org, window=DAY, extension=DAY)
    await timelock.concern(1, proposal, "needs a closer look")
    await timelock.advance(DAY)
    assert (await timelock.review(proposal))["status"] == "PENDING"
    await timelock.advance(DAY)
    assert (await timelock.review(proposal))["status"] == "APPROVED"
    assert len(await timelock.events("review.approved")) == 1


async def test_verdict_lost_with_a_crashed_transaction_is_decided_again_once(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1, 1, 1])
    proposal = await timelock.open_review(org, window=3600)
    scheduler_task = next(t for t in timelock.runtime.tasks if t.get_name() == "timelock-scheduler")
    await stop_tasks([scheduler_task])

    async def crash_after_deciding(session: Any, deadline: Any) -> None:
        await timelock.timelock.on_deadline(session, deadline)
        raise RuntimeError("the process died before commit")

    crashing = Scheduler(
        timelock.runtime.db, timelock.clock, dict.fromkeys(DEADLINE_KINDS, crash_after_deciding)
    )
    timelock.clock.advance(3600)
    assert await crashing.fire_due() == 0
    assert (await timelock.review(proposal))["status"] == "PENDING"
    assert await timelock.events("review.approved") == []
    await timelock.advance(60)  # the failed deadline is retried a little later
    assert (await timelock.review(proposal))["status"] == "APPROVED"
    assert len(await timelock.events("review.approved")) == 1


async def test_reviews_ending_in_one_batch_are_decided_in_the_order_they_ended(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1, 1, 1])
    # review ids are random: their order says nothing about which window ends first
    proposals = [await timelock.open_review(org, window=60 + n) for n in range(12)]
    await timelock.advance(120)  # all twelve are due in the same scheduler pass
    approved = await timelock.events("review.approved")
    assert [e["data"]["proposalId"] for e in approved] == [str(p) for p in proposals]
