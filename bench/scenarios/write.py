"""2. Vote write: `CastVote` end to end at a fixed number of concurrent clients — sustained votes/s and
p99 — then the count of votes persisted and of `vote.cast` events published (each must equal the
acknowledged votes); beside the floor doing the same writes in one asyncpg transaction. Also samples
the processes' RSS for scenario 6."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from typing import Any

import asyncpg

from bench.context import Run
from bench.loadgen import auth, closed_loop, graphql_body
from bench.scenarios.read import ratio
from bench.seed import copy_rows, open_pairs, propose_many
from bench.waits import read_events, stream_last_sequence, wait_outbox_drained


class RssSampler:
    """Samples every process's RSS while running; keeps the peak of each."""

    def __init__(self, run: Run, interval: float = 0.25) -> None:
        self.run, self.interval = run, interval
        self.peak: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            for name, mb in self.run.bench.rss().items():
                if mb is not None:
                    self.peak[name] = max(self.peak.get(name, 0.0), mb)
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._loop())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()


async def run_write(run: Run) -> dict[str, Any]:
    org = run.orgs["main"]
    sizes = run.sizes
    wanted = int(sizes.write_max_rate * sizes.write_seconds)
    n_proposals = math.ceil(wanted / (len(org.stakeholders) - 1))
    with run.step(f"vote write: {n_proposals} proposals open for {wanted} votes"):
        ids = await propose_many(run.api, org, n_proposals, title="Write proposal")
        pairs = open_pairs(ids, org.stakeholders)
        uuids = [uuid.UUID(i) for i in ids]
        # the floor votes on copies of the same proposals and snapshots, in its own database
        await copy_rows(
            run.bench.dsn("proposals"),
            run.bench.floor_dsn("proposals"),
            "proposals",
            "id = ANY($1::uuid[])",
            uuids,
        )
        await copy_rows(
            run.bench.dsn("proposals"),
            run.bench.floor_dsn("proposals"),
            "proposal_voters",
            "proposal_id = ANY($1::uuid[])",
            uuids,
        )
        await wait_outbox_drained(run.bench.dsn("proposals"))
        start_sequence = await stream_last_sequence(run.bench.nats_url, run.bench.stream)

    cast = run.op("CastVote")
    requests = [
        ("POST", "/graphql", graphql_body(cast, {"proposalId": pid, "choice": choice}), auth(voter.token))
        for pid, voter, choice in pairs
    ]
    acked: list[int] = []

    def vote_ok(status: int, body: bytes) -> bool:
        if status != 200:
            return False
        payload = (json.loads(body).get("data") or {}).get("castVote") or {}
        ok = payload.get("vote") is not None and not payload.get("userErrors")
        if ok:
            acked.append(1)
        return ok

    with (
        run.step(f"vote write: {sizes.write_concurrency} clients for {sizes.write_seconds:g}s"),
        RssSampler(run) as rss,
        run.profiling("voteWrite"),
    ):
        platform = await run.measured(
            closed_loop(
                run.bench.gateway_url,
                lambda n: requests[n] if n < len(requests) else None,
                concurrency=sizes.write_concurrency,
                seconds=sizes.write_seconds,
                warmup=sizes.warmup_seconds,
                warmup_requests=len(requests) // 10,
                check=vote_ok,
            )
        )
        drain_seconds = await wait_outbox_drained(run.bench.dsn("proposals"))
    run.shared["rss_under_write"] = dict(rss.peak)
    run.shared["write_throughput"] = platform.throughput

    conn = await asyncpg.connect(run.bench.dsn("proposals"))
    try:
        persisted = await conn.fetchval(
            "SELECT count(*) FROM votes WHERE proposal_id = ANY($1::uuid[])", uuids
        )
    finally:
        await conn.close()
    subject = f"{run.bench.subject_prefix}.{org.slug}.vote.cast"
    events = await read_events(run.bench.nats_url, run.bench.stream, subject, start_sequence)
    id_set = set(ids)
    published = len({e["id"] for e in events if e["data"]["proposalId"] in id_set})

    floor_acked: list[int] = []
    floor_requests = [
        (
            "POST",
            "/vote",
            json.dumps({"proposalId": pid, "voter": voter.address, "choice": choice}).encode(),
            {},
        )
        for pid, voter, choice in pairs
    ]

    def floor_ok(status: int, _body: bytes) -> bool:
        if status == 200:
            floor_acked.append(1)
        return status == 200

    with run.step("vote write: the floor"), RssSampler(run) as floor_rss:
        floor = await run.measured(
            closed_loop(
                run.bench.floor_url,
                lambda n: floor_requests[n] if n < len(floor_requests) else None,
                concurrency=sizes.write_concurrency,
                seconds=sizes.write_seconds,
                warmup=sizes.warmup_seconds,
                warmup_requests=len(floor_requests) // 10,
                check=floor_ok,
            )
        )
    run.shared["rss_under_write"]["floor"] = floor_rss.peak.get("floor")
    conn = await asyncpg.connect(run.bench.floor_dsn("proposals"))
    try:
        floor_persisted = await conn.fetchval(
            "SELECT count(*) FROM votes WHERE proposal_id = ANY($1::uuid[])", uuids
        )
    finally:
        await conn.close()

    p, f = platform.as_dict(), floor.as_dict()
    return {
        "concurrency": sizes.write_concurrency,
        "preparedVotes": len(pairs),
        "platform": {
            **p,
            "acknowledged": len(acked),
            "persisted": persisted,
            "published": published,
            "consistent": len(acked) == persisted == published,
            "outboxDrainedSecondsAfterRun": round(drain_seconds, 2),
        },
        "floor": {**f, "acknowledged": len(floor_acked), "persisted": floor_persisted},
        "throughputRatio": ratio(platform.throughput, floor.throughput),
        "p99Ratio": ratio(p["p99Ms"], f["p99Ms"]),
    }
