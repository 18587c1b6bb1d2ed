"""Data for the scenarios.

Through the API (as a front-end would): members sign in, found organisations, make proposals and vote.
Directly in the services' databases, for what would take too long through the API:

- `clone_proposals` copies real template proposals (made through the API, voted to a final status) with
  asyncpg COPY: every column of the template's row, the voter snapshot and the votes, with fresh ids,
  titles and times, and adds them to the per (organisation, body, kind, status) counters, so the tables
  read exactly as if the service had written them. Not back-filled: the events those proposals would have
  published (outbox rows, stream) and their voting deadlines (closed proposals' deadlines are inert).
- `clone_reviews` copies a real pending review (a TLC proposal driven to IN_REVIEW through the API) with
  its reviewers' snapshot and its `review.ends` deadline, due when the scenario says.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.proposals.domain.lifecycle import iso
from tests.e2e.harness import Api, Wallet

# --- through the API -------------------------------------------------------------------------------


async def gather_limited(coros: Iterable[Any], limit: int = 8) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def sign_in_many(api: Api, n: int) -> list[Wallet]:
    return await gather_limited(api.sign_in(Wallet.create(f"member {i}")) for i in range(n))


@dataclass
class Org:
    id: str
    slug: str
    shg_id: str
    tlc_id: str
    stakeholders: list[Wallet]
    core_team: list[Wallet]


async def found(
    api: Api,
    slug: str,
    stakeholders: Sequence[Wallet],
    core_team: Sequence[Wallet],
    *,
    voting_seconds: int,
    review_seconds: int,
) -> Org:
    payload = await api.ok(
        "CreateOrganization",
        stakeholders[0],
        input={
            "slug": slug,
            "name": f"Bench {slug}",
            "purpose": "Measure the platform",
            "stakeholders": [{"address": w.address} for w in stakeholders],
            "topLevelCell": {
                "name": "TLC",
                "purpose": "Run the work",
                "coreTeam": [{"address": w.address} for w in core_team],
            },
            "policy": {"votingPeriodSeconds": voting_seconds, "reviewPeriodSeconds": review_seconds},
        },
    )
    o = payload["organization"]
    return Org(
        o["id"],
        o["slug"],
        o["stakeholderGroup"]["id"],
        o["topLevelCell"]["id"],
        list(stakeholders),
        list(core_team),
    )


async def wait_projected(dsns: dict[str, str], org: Org, within: float = 60) -> None:
    """Until proposals and timelock have projected every member of the organisation's two bodies."""
    expected = len(org.stakeholders) + len(org.core_team)
    queries = {
        "proposals": "SELECT count(*) FROM members WHERE body_id = ANY($1::uuid[])",
        "timelock": "SELECT count(*) FROM members WHERE body_id = ANY($1::uuid[]) AND active",
    }
    deadline = asyncio.get_running_loop().time() + within
    for service, query in queries.items():
        conn = await asyncpg.connect(dsns[service])
        try:
            while (n := await conn.fetchval(query, [org.shg_id, org.tlc_id])) < expected:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{service} projected {n} of {expected} members of {org.slug}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()


async def propose_many(api: Api, org: Org, n: int, *, title: str, limit: int = 8) -> list[str]:
    async def one(i: int) -> str:
        payload = await api.ok(
            "CreateProposal",
            org.stakeholders[i % len(org.stakeholders)],
            input={
                "bodyId": org.shg_id,
                "kind": "STAKEHOLDER",
                "title": f"{title} {i}",
                "description": f"{title} {i}: a signal for the Stakeholder Group, with no actions. " * 3,
                "actions": [],
            },
        )
        return str(payload["proposal"]["id"])

    return await gather_limited((one(i) for i in range(n)), limit)


async def vote_all(api: Api, proposal_id: str, voters: Sequence[Wallet], choices: Sequence[str]) -> None:
    """Every voter votes, one after the other (the last vote closes the proposal)."""
    for voter, choice in zip(voters, choices, strict=True):
        await api.ok("CastVote", voter, proposalId=proposal_id, choice=choice)


def open_pairs(proposal_ids: Sequence[str], voters: Sequence[Wallet]) -> list[tuple[str, Wallet, str]]:
    """(proposal, voter, choice) for all voters but the last of each proposal, alternating FOR and
    AGAINST: whatever order they arrive in, no proposal can close early (FOR never exceeds AGAINST plus
    the one voter who never votes, nor the reverse), so every vote is accepted. Ordered round-robin over
    the proposals so that concurrent votes rarely wait for the same proposal's row lock."""
    pairs = []
    for i, voter in enumerate(voters[:-1]):
        choice = "FOR" if i % 2 == 0 else "AGAINST"
        for pid in proposal_ids:
            pairs.append((pid, voter, choice))
    return pairs


# --- directly in the databases ---------------------------------------------------------------------


def _shift(value: Any, delta: timedelta) -> Any:
    return value + delta if isinstance(value, datetime) else value


def _history(raw: str | list[dict[str, Any]], delta: timedelta) -> str:
    entries = json.loads(raw) if isinstance(raw, str) else raw
    shifted = []
    for entry in entries:
        at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        shifted.append({**entry, "at": iso(at + delta)})
    return json.dumps(shifted)


async def clone_proposals(
    dsn: str,
    template_ids: Sequence[str],
    count: int,
    *,
    start_index: int,
    oldest_first: datetime,
    step: timedelta,
) -> int:
    """Add `count` proposals cloned round-robin from the templates, clone k created at
    `oldest_first - (start_index + k) * step` (so older than the templates), with their voters and votes.
    Answers how many votes were added."""
    conn = await asyncpg.connect(dsn)
    try:
        templates = [
            await conn.fetchrow("SELECT * FROM proposals WHERE id = $1", uuid.UUID(t)) for t in template_ids
        ]
        columns = list(templates[0].keys())
        voters = {
            t["id"]: await conn.fetch(
                "SELECT * FROM proposal_voters WHERE proposal_id = $1 ORDER BY address", t["id"]
            )
            for t in templates
        }
        votes = {
            t["id"]: await conn.fetch("SELECT * FROM votes WHERE proposal_id = $1 ORDER BY voter", t["id"])
            for t in templates
        }
        voter_columns = list(next(iter(voters.values()))[0].keys())
        vote_columns = list(next(iter(votes.values()))[0].keys())
        counts: dict[tuple[Any, ...], int] = {}
        added_votes = 0
        chunk = 5000
        for base in range(0, count, chunk):
            rows, voter_rows, vote_rows = [], [], []
            for k in range(base, min(count, base + chunk)):
                t = templates[k % len(templates)]
                new_id = uuid.uuid4()
                created = oldest_first - (start_index + k) * step
                delta = created - t["created_at"]
                row = []
                for name in columns:
                    value = t[name]
                    if name == "id":
                        value = new_id
                    elif name == "title":
                        value = f"Scale proposal {start_index + k}"
                    elif name == "history":
                        value = _history(value, delta)
                    else:
                        value = _shift(value, delta)
                    row.append(value)
                rows.append(row)
                for v in voters[t["id"]]:
                    voter_rows.append([new_id if c == "proposal_id" else v[c] for c in voter_columns])
                for v in votes[t["id"]]:
                    vote_rows.append(
                        [new_id if c == "proposal_id" else _shift(v[c], delta) for c in vote_columns]
                    )
                key = (t["organization_id"], t["body_id"], t["kind"], t["status"])
                counts[key] = counts.get(key, 0) + 1
            async with conn.transaction():
                await conn.copy_records_to_table("proposals", records=rows, columns=columns)
                await conn.copy_records_to_table("proposal_voters", records=voter_rows, columns=voter_columns)
                await conn.copy_records_to_table("votes", records=vote_rows, columns=vote_columns)
            added_votes += len(vote_rows)
        async with conn.transaction():
            for (org_id, body_id, kind, status), n in counts.items():
                await conn.execute(
                    """
                    INSERT INTO proposal_counts (organization_id, body_id, kind, status, count)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (organization_id, body_id, kind, status)
                    DO UPDATE SET count = proposal_counts.count + EXCLUDED.count
                    """,
                    org_id,
                    body_id,
                    kind,
                    status,
                    n,
                )
        await conn.execute("ANALYZE proposals, proposal_voters, votes, proposal_counts")
        return added_votes
    finally:
        await conn.close()


@dataclass
class ClonedReviews:
    review_ids: list[uuid.UUID]
    due: list[datetime]


def _review_rows(
    template: asyncpg.Record, reviewers: Sequence[asyncpg.Record], due: Sequence[datetime]
) -> Iterator[tuple[list[Any], list[list[Any]], tuple[str, str, datetime, str]]]:
    columns = list(template.keys())
    reviewer_columns = list(reviewers[0].keys()) if reviewers else []
    for ends_at in due:
        review_id, proposal_id = uuid.uuid4(), uuid.uuid4()
        delta = ends_at - template["ends_at"]
        row = []
        for name in columns:
            value = template[name]
            if name == "id":
                value = review_id
            elif name == "proposal_id":
                value = proposal_id
            else:
                value = _shift(value, delta)
            row.append(value)
        children = [[review_id if c == "review_id" else r[c] for c in reviewer_columns] for r in reviewers]
        deadline = (
            f"review:{review_id}:review.ends",
            "review.ends",
            ends_at,
            json.dumps({"reviewId": str(review_id)}),
        )
        yield row, children, deadline


async def clone_reviews(
    dsn: str, template_review_id: uuid.UUID, due: Sequence[datetime], *, notify: bool
) -> ClonedReviews:
    """Copy the template review once per due time (its window ending then), with its reviewers and its
    `review.ends` deadline; NOTIFY the scheduler as `kit.schedule_deadline` does on commit."""
    conn = await asyncpg.connect(dsn)
    try:
        template = await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", template_review_id)
        reviewers = await conn.fetch("SELECT * FROM reviewers WHERE review_id = $1", template_review_id)
        columns = list(template.keys())
        reviewer_columns = list(reviewers[0].keys()) if reviewers else []
        rows, children, deadlines, ids = [], [], [], []
        for row, kids, deadline in _review_rows(template, reviewers, due):
            rows.append(row)
            children.extend(kids)
            deadlines.append(deadline)
            ids.append(row[columns.index("id")])
        async with conn.transaction():
            await conn.copy_records_to_table("reviews", records=rows, columns=columns)
            if children:
                await conn.copy_records_to_table("reviewers", records=children, columns=reviewer_columns)
            await conn.copy_records_to_table(
                "kit_deadlines", records=deadlines, columns=["key", "kind", "due_at", "payload"]
            )
            if notify:
                await conn.execute("SELECT pg_notify('kit_deadlines', '')")
        return ClonedReviews(ids, list(due))
    finally:
        await conn.close()


async def copy_rows(source_dsn: str, target_dsn: str, table: str, where: str, *args: Any) -> int:
    """Copy the rows of `table` matching `where` from one database to the same table in another."""
    src, dst = await asyncpg.connect(source_dsn), await asyncpg.connect(target_dsn)
    try:
        rows = await src.fetch(f"SELECT * FROM {table} WHERE {where}", *args)
        if rows:
            await dst.copy_records_to_table(
                table, records=[tuple(r.values()) for r in rows], columns=list(rows[0].keys())
            )
        return len(rows)
    finally:
        await src.close()
        await dst.close()
