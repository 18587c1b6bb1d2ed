"""4. Deadlines: many optimistic reviews ending in the same second — the time until the timelock has
decided them all — and reviews ending spread over a minute — how late each is decided (lag).

The reviews are copies of a real pending review (a TLC proposal voted into IN_REVIEW through the API)
inserted straight into the timelock's database with their `review.ends` deadlines (see bench/seed.py).
The floor decides the same copies in a copy of the timelock's schema the most direct way: one SQL
statement per batch of 100 that takes the due deadlines (SKIP LOCKED), approves their reviews, appends
the `review.approved` events to the outbox and marks the deadlines fired.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.context import Run
from bench.loadgen import summarize_ms
from bench.seed import clone_reviews, copy_rows
from bench.waits import quiesce

FLOOR_BATCH = """
WITH due AS (
  SELECT key, (payload->>'reviewId')::uuid AS review_id FROM kit_deadlines
  WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= clock_timestamp()
  ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED
), decided AS (
  UPDATE reviews r SET status = 'APPROVED', decided_at = clock_timestamp()
  FROM due WHERE r.id = due.review_id AND r.status = 'PENDING'
  RETURNING r.id, r.proposal_id, r.organization_id, r.organization_slug, r.objection_weight
), sequences AS (
  INSERT INTO kit_event_sequences (aggregate, aggregate_id, last_sequence)
  SELECT 'review', id::text, 1 FROM decided
  ON CONFLICT (aggregate, aggregate_id) DO UPDATE SET last_sequence = kit_event_sequences.last_sequence + 1
  RETURNING aggregate_id, last_sequence
), events AS (
  INSERT INTO kit_outbox (id, subject, aggregate, aggregate_id, sequence, envelope)
  SELECT gen_random_uuid(), 'floor.' || d.organization_slug || '.review.approved', 'review', d.id::text,
         s.last_sequence,
         jsonb_build_object('specversion', '1.0', 'type', 'governance.review.approved.v1',
                            'subject', 'reviews/' || d.id, 'time', clock_timestamp(),
                            'data', jsonb_build_object('organization', d.organization_slug,
                                                       'organizationId', d.organization_id,
                                                       'proposalId', d.proposal_id, 'reviewId', d.id,
                                                       'objectionWeight', d.objection_weight,
                                                       'sequence', s.last_sequence))
  FROM decided d JOIN sequences s ON s.aggregate_id = d.id::text
  RETURNING 1
)
UPDATE kit_deadlines k SET fired_at = clock_timestamp(), attempts = k.attempts + 1
FROM due WHERE k.key = due.key
RETURNING k.key
"""

NEXT_DUE = "SELECT min(due_at) FROM kit_deadlines WHERE fired_at IS NULL AND cancelled_at IS NULL"


async def floor_scheduler(dsn: str, stop_when_idle: bool = True) -> int:
    """Fire every due deadline, sleeping until the next one; answers how many fired."""
    conn = await asyncpg.connect(dsn)
    fired = 0
    try:
        while True:
            async with conn.transaction():
                n = len(await conn.fetch(FLOOR_BATCH))
            fired += n
            if n >= 100:
                continue
            next_due = await conn.fetchval(NEXT_DUE)
            if next_due is None:
                if stop_when_idle:
                    return fired
                await asyncio.sleep(0.05)
                continue
            await asyncio.sleep(min(1.0, max(0.0, (next_due - datetime.now(UTC)).total_seconds())))
    finally:
        await conn.close()


async def make_template(run: Run) -> uuid.UUID:
    """A real pending review: a TLC proposal voted through by the core team, reviewed by the SHG."""
    org = run.orgs["small"]
    payload = await run.api.ok(
        "CreateProposal",
        org.core_team[0],
        input={
            "bodyId": org.tlc_id,
            "kind": "OPERATIONAL",
            "title": "Review template",
            "description": "Passes its vote, then waits for the Stakeholder Group's review.",
            "actions": [],
        },
    )
    pid = payload["proposal"]["id"]
    for member in org.core_team:
        await run.api.ok("CastVote", member, proposalId=pid, choice="FOR")
    conn = await asyncpg.connect(run.bench.dsn("timelock"))
    try:
        deadline = time.monotonic() + 30
        while (
            rid := await conn.fetchval("SELECT id FROM reviews WHERE proposal_id = $1", uuid.UUID(pid))
        ) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the timelock opened no review for the template proposal")
            await asyncio.sleep(0.1)
        return rid
    finally:
        await conn.close()


async def wait_decided(
    dsn: str, ids: list[uuid.UUID], within: float, *, relay: bool = True
) -> dict[str, Any]:
    """Until none of these reviews is PENDING (and, with a relay, the outbox is empty); the figures from
    the database's own timestamps (decided_at against each review's end)."""
    conn = await asyncpg.connect(dsn)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        while await conn.fetchval(
            "SELECT count(*) FROM reviews WHERE id = ANY($1::uuid[]) AND status = 'PENDING'", ids
        ):
            if loop.time() - start > within:
                break
            await asyncio.sleep(0.05)
        while relay and await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"):
            if loop.time() - start > within:
                break
            await asyncio.sleep(0.05)
        rows = await conn.fetch(
            "SELECT ends_at, decided_at, status FROM reviews WHERE id = ANY($1::uuid[])", ids
        )
        relayed = await conn.fetchval(
            "SELECT max(published_at) FROM kit_outbox WHERE aggregate_id = ANY($1::text[])",
            [str(i) for i in ids],
        )
    finally:
        await conn.close()
    decided = [r for r in rows if r["decided_at"] is not None]
    lags = [(r["decided_at"] - r["ends_at"]).total_seconds() for r in decided]
    last = max((r["decided_at"] for r in decided), default=None)
    first_due = min(r["ends_at"] for r in rows)
    return {
        "reviews": len(rows),
        "decided": len(decided),
        "approved": sum(r["status"] == "APPROVED" for r in rows),
        "allDecidedSeconds": round((last - first_due).total_seconds(), 3) if last else None,
        "allRelayedSeconds": round((relayed - first_due).total_seconds(), 3) if relayed else None,
        "lag": summarize_ms(lags),
    }


def due_times(n: int, start: datetime, spread_seconds: float) -> list[datetime]:
    if spread_seconds <= 0:
        return [start] * n
    return [start + timedelta(seconds=spread_seconds * i / n) for i in range(n)]


def lead(n: int) -> float:
    """Seconds to leave before the first deadline: enough to insert `n` reviews before it is due."""
    return 0.5 + n / 2500


def next_whole_second(after_seconds: float) -> datetime:
    t = datetime.now(UTC) + timedelta(seconds=after_seconds)
    return t.replace(microsecond=0) + timedelta(seconds=1)


async def run_deadlines(run: Run) -> dict[str, Any]:
    s = run.sizes
    tl, floor = run.bench.dsn("timelock"), run.bench.floor_dsn("timelock")
    with run.step("deadlines: a real review as the template"):
        template = await make_template(run)
        # the floor's copy of the schema needs the template to copy from
        await copy_rows(tl, floor, "reviews", "id = $1", template)
        await copy_rows(tl, floor, "reviewers", "review_id = $1", template)

    result: dict[str, Any] = {}
    with run.step(f"deadlines: {s.burst_deadlines} reviews ending in the same second"):
        due = next_whole_second(lead(s.burst_deadlines))
        cloned = await clone_reviews(tl, template, [due] * s.burst_deadlines, notify=True)
        with run.profiling("deadlinesBurst"):
            platform = await wait_decided(tl, cloned.review_ids, within=300)
        due = next_whole_second(lead(s.burst_deadlines))
        floor_cloned = await clone_reviews(floor, template, [due] * s.burst_deadlines, notify=False)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        await floor_scheduler(floor)
        floor_result = await wait_decided(floor, floor_cloned.review_ids, within=60, relay=False)
        result["burst"] = {"platform": platform, "floor": floor_result}

    with run.step("deadlines: the services catch up with the burst's events"):
        result["burst"]["quiesceSeconds"] = round(await quiesce(run), 1)
    with run.step(f"deadlines: {s.sparse_deadlines} reviews ending over {s.sparse_seconds:g}s"):
        start = next_whole_second(lead(s.sparse_deadlines))
        times = due_times(s.sparse_deadlines, start, s.sparse_seconds)
        cloned = await clone_reviews(tl, template, times, notify=True)
        floor_cloned = await clone_reviews(floor, template, times, notify=False)
        # both run at once (the load is light): the floor's loop beside the real scheduler
        floor_task = asyncio.create_task(floor_scheduler(floor))
        platform = await wait_decided(tl, cloned.review_ids, within=s.sparse_seconds + 120)
        await floor_task
        floor_result = await wait_decided(floor, floor_cloned.review_ids, within=30, relay=False)
        result["sparse"] = {"spreadSeconds": s.sparse_seconds, "platform": platform, "floor": floor_result}
    return result
