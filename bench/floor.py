"""The floor: the same work done the most direct way, to divide the platform's figures by.

A bare Starlette app under the same uvicorn as the services, one asyncpg pool per database, no ORM, no
GraphQL, no second hop:

- `GET /proposals?organization=<slug>&first=20` — the Proposals page: the same 20 rows with their body
  names and the total, in one query on the proposals database;
- `GET /proposal?id=<id>` — the Proposal screen: the row, its body, history and every vote, one query;
- `GET /tally?id=<id>` — one proposal's tally columns;
- `POST /vote` `{"proposalId", "voter", "choice"}` — CastVote's writes (lock the proposal, check the
  voter, upsert the vote, move the tally, append the event to the outbox) in one transaction on a copy
  of the proposals schema (`--write-dsn`), so the floor's rows never reach the real relay.

`python -m bench.floor --port P --proposals-dsn ... --write-dsn ...`
"""

from __future__ import annotations

import argparse
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# the organisation's id first (an init plan), so that the page walks the (organization_id, created_at
# DESC, id DESC) index and stops after `first + 1` rows, as the service's keyset query does
PAGE = """
WITH org AS (SELECT id FROM organizations WHERE slug = $1)
SELECT p.id, p.kind, p.status, p.title, p.created_at, b.id AS body_id, b.name AS body_name,
       (SELECT coalesce(sum(c.count), 0) FROM proposal_counts c
        WHERE c.organization_id = (SELECT id FROM org)) AS total
FROM proposals p
JOIN bodies b ON b.id = p.body_id
WHERE p.organization_id = (SELECT id FROM org)
ORDER BY p.created_at DESC, p.id DESC
LIMIT $2
"""

PROPOSAL = """
SELECT p.id, p.kind, p.status, p.title, p.description, p.created_at, p.voting_ends_at, p.proposer,
       b.id AS body_id, b.name AS body_name, b.kind AS body_kind,
       p.for_weight, p.against_weight, p.abstain_weight, p.eligible_weight,
       p.enact_after, p.failure_reason, p.history,
       (SELECT coalesce(json_agg(json_build_object('voter', v.voter, 'choice', v.choice,
                                                   'weight', v.weight, 'reason', v.reason)
                                 ORDER BY v.cast_at DESC, v.voter DESC), '[]'::json)
        FROM votes v WHERE v.proposal_id = p.id) AS votes
FROM proposals p JOIN bodies b ON b.id = p.body_id
WHERE p.id = $1
"""

TALLY = """
SELECT for_weight, against_weight, abstain_weight, eligible_weight FROM proposals WHERE id = $1
"""

VOTE_LOCK = "SELECT organization_id, organization_slug, status FROM proposals WHERE id = $1 FOR UPDATE"
VOTER = "SELECT weight FROM proposal_voters WHERE proposal_id = $1 AND address = $2"
PREVIOUS = "SELECT choice FROM votes WHERE proposal_id = $1 AND voter = $2"
UPSERT_VOTE = """
INSERT INTO votes (proposal_id, voter, choice, weight, reason, cast_at) VALUES ($1, $2, $3, $4, NULL, $5)
ON CONFLICT (proposal_id, voter) DO UPDATE SET choice = EXCLUDED.choice, cast_at = EXCLUDED.cast_at
"""
TALLY_UPDATE = """
UPDATE proposals SET
  for_weight = for_weight + CASE WHEN $2 = 'FOR' THEN $4::numeric ELSE 0 END
                          - CASE WHEN $3 = 'FOR' THEN $4::numeric ELSE 0 END,
  against_weight = against_weight + CASE WHEN $2 = 'AGAINST' THEN $4::numeric ELSE 0 END
                                  - CASE WHEN $3 = 'AGAINST' THEN $4::numeric ELSE 0 END,
  abstain_weight = abstain_weight + CASE WHEN $2 = 'ABSTAIN' THEN $4::numeric ELSE 0 END
                                  - CASE WHEN $3 = 'ABSTAIN' THEN $4::numeric ELSE 0 END,
  vote_count = vote_count + CASE WHEN $3 IS NULL THEN 1 ELSE 0 END,
  updated_at = $5
WHERE id = $1
RETURNING for_weight, against_weight, abstain_weight, eligible_weight
"""
NEXT_SEQUENCE = """
INSERT INTO kit_event_sequences (aggregate, aggregate_id, last_sequence) VALUES ('vote', $1, 1)
ON CONFLICT (aggregate, aggregate_id) DO UPDATE SET last_sequence = kit_event_sequences.last_sequence + 1
RETURNING last_sequence
"""
OUTBOX = """
INSERT INTO kit_outbox (id, subject, aggregate, aggregate_id, sequence, envelope, headers)
VALUES ($1, $2, 'vote', $3, $4, $5::jsonb, '{}'::jsonb)
"""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(type(value))


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, default=_default), status_code=status, media_type="application/json")


def create_app(proposals_dsn: str, write_dsn: str | None = None) -> Starlette:
    pools: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # the services' pools: 10 connections and as many again under load
        pools["read"] = await asyncpg.create_pool(proposals_dsn, min_size=2, max_size=20)
        if write_dsn:
            pools["write"] = await asyncpg.create_pool(write_dsn, min_size=2, max_size=20)
        try:
            yield
        finally:
            for pool in pools.values():
                await pool.close()

    async def page(request: Request) -> Response:
        first = int(request.query_params.get("first", "20"))
        rows = await pools["read"].fetch(PAGE, request.query_params["organization"], first + 1)
        nodes = [
            {
                "id": r["id"],
                "kind": r["kind"],
                "status": r["status"],
                "title": r["title"],
                "createdAt": r["created_at"],
                "body": {"id": r["body_id"], "name": r["body_name"]},
            }
            for r in rows[:first]
        ]
        return _json(
            {
                "totalCount": rows[0]["total"] if rows else 0,
                "hasNextPage": len(rows) > first,
                "edges": [{"node": n} for n in nodes],
            }
        )

    async def proposal(request: Request) -> Response:
        row = await pools["read"].fetchrow(PROPOSAL, uuid.UUID(request.query_params["id"]))
        if row is None:
            return _json({"error": "not found"}, 404)
        doc = dict(row)
        doc["history"] = json.loads(doc["history"])
        doc["votes"] = json.loads(doc["votes"])
        return _json({"proposal": doc})

    async def tally(request: Request) -> Response:
        row = await pools["read"].fetchrow(TALLY, uuid.UUID(request.query_params["id"]))
        return _json({"tally": dict(row) if row else None})

    async def vote(request: Request) -> Response:
        body = await request.json()
        pid = uuid.UUID(body["proposalId"])
        voter, choice = str(body["voter"]).lower(), str(body["choice"])
        now = datetime.now(UTC)
        async with pools["write"].acquire() as conn, conn.transaction():
            proposal = await conn.fetchrow(VOTE_LOCK, pid)
            if proposal is None or proposal["status"] != "VOTING":
                return _json({"error": "VOTING_CLOSED"}, 409)
            weight = await conn.fetchval(VOTER, pid, voter)
            if weight is None:
                return _json({"error": "FORBIDDEN"}, 403)
            previous = await conn.fetchval(PREVIOUS, pid, voter)
            await conn.execute(UPSERT_VOTE, pid, voter, choice, weight, now)
            t = await conn.fetchrow(TALLY_UPDATE, pid, choice, previous, weight, now)
            sequence = await conn.fetchval(NEXT_SEQUENCE, str(pid))
            event_id = uuid.uuid4()
            envelope = {
                "specversion": "1.0",
                "id": str(event_id),
                "source": "/bench/floor",
                "type": "governance.vote.cast.v1",
                "subject": f"proposals/{pid}",
                "time": now.isoformat(),
                "datacontenttype": "application/json",
                "data": {
                    "organization": proposal["organization_slug"],
                    "organizationId": str(proposal["organization_id"]),
                    "sequence": sequence,
                    "proposalId": str(pid),
                    "voter": voter,
                    "choice": choice,
                    "weight": str(weight),
                    "changed": previous is not None,
                    "tally": {k: str(v) for k, v in t.items()},
                },
            }
            await conn.execute(
                OUTBOX,
                event_id,
                f"floor.{proposal['organization_slug']}.vote.cast",
                str(pid),
                sequence,
                json.dumps(envelope),
            )
        return _json({"vote": {"choice": choice, "weight": weight}, "tally": dict(t)})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/proposals", page),
            Route("/proposal", proposal),
            Route("/tally", tally),
            Route("/vote", vote, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--proposals-dsn", required=True)
    parser.add_argument("--write-dsn")
    args = parser.parse_args()
    # the same server settings as kit.serve runs the services with
    uvicorn.run(
        create_app(args.proposals_dsn, args.write_dsn),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
