"""What dashboards see on /status, and the app's own scheduler loop at work."""

from __future__ import annotations

import asyncio

from .support import DAY, WEEK, Harness, Org, settle, stop_tasks


async def test_status_reports_reviews_operations_and_deadlines(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    await timelock.open_review(org, window=3600)
    await timelock.open_review(org, window=WEEK)
    scheduler_task = next(t for t in timelock.runtime.tasks if t.get_name() == "timelock-scheduler")
    await stop_tasks([scheduler_task])  # a stalled scheduler: the deadline goes overdue
    timelock.clock.advance(2 * 3600)
    details = (await timelock.client.get("/status")).json()["details"]
    assert details["pendingReviews"] == 2
    assert details["queuedOperations"] == 0
    assert details["nextDeadline"] == "2030-01-01T01:00:00Z"
    assert details["oldestOverdueSeconds"] == 3600
    assert details["verdictsLastMinute"] == 0
    await settle(timelock.runtime)
    details = (await timelock.client.get("/status")).json()["details"]
    assert (details["pendingReviews"], details["oldestOverdueSeconds"], details["verdictsLastMinute"]) == (
        1,
        0,
        1,
    )
    assert details["nextDeadline"] == "2030-01-08T00:00:00Z"


async def test_running_scheduler_decides_a_due_review_by_itself(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org, window=DAY)
    timelock.clock.advance(DAY)
    assert timelock.runtime.scheduler is not None
    timelock.runtime.scheduler.wake()
    async with asyncio.timeout(10):
        while not await timelock.events("review.approved"):  # noqa: ASYNC110 - polling Postgres
            await asyncio.sleep(0.05)
    assert (await timelock.review(proposal))["status"] == "APPROVED"
