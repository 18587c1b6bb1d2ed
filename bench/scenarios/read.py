"""1. Read: the contract's `Proposals` page (20 nodes with their bodies) and `Proposal` (with every vote)
through the gateway at 1, 8 and 64 concurrent clients, each beside the floor's single asyncpg query."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from bench.context import Run
from bench.loadgen import Connection, RunResult, closed_loop, fixed, graphql_body, status_ok
from bench.seed import propose_many, vote_all


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def compare(platform: RunResult, floor: RunResult) -> dict[str, Any]:
    p, f = platform.as_dict(), floor.as_dict()
    return {
        "concurrency": platform.concurrency,
        "platform": p,
        "floor": f,
        # the platform's share of the floor's throughput (1 = as fast as the floor)
        "throughputRatio": ratio(platform.throughput, floor.throughput),
        # how many times the floor's latency
        "p50Ratio": ratio(p["p50Ms"], f["p50Ms"]),
        "p99Ratio": ratio(p["p99Ms"], f["p99Ms"]),
    }


async def measure_pair(
    run: Run, gateway_body: bytes, floor_path: str, concurrency: int, seconds: float, label: str
) -> dict[str, Any]:
    """The same read through the gateway and from the floor, one after the other at one concurrency."""
    with run.profiling(label) if concurrency == 8 else contextlib.nullcontext():
        gw = await run.measured(
            closed_loop(
                run.bench.gateway_url,
                fixed("POST", "/graphql", gateway_body),
                concurrency=concurrency,
                seconds=seconds,
                warmup=run.sizes.warmup_seconds,
            )
        )
    fl = await run.measured(
        closed_loop(
            run.bench.floor_url,
            fixed("GET", floor_path),
            concurrency=concurrency,
            seconds=seconds,
            warmup=run.sizes.warmup_seconds,
            check=status_ok,
        )
    )
    return compare(gw, fl)


async def fetch_json(url: str, method: str, path: str, body: bytes = b"") -> Any:
    conn = Connection(url)
    try:
        status, payload = await conn.request(method, path, body)
    finally:
        await conn.close()
    if status != 200:
        raise AssertionError(f"{method} {path}: {status} {payload[:300]!r}")
    return json.loads(payload)


async def run_read(run: Run) -> dict[str, Any]:
    org = run.orgs["main"]
    sizes = run.sizes
    with run.step(f"read: {sizes.read_proposals} proposals, one with {len(org.stakeholders)} votes"):
        ids = await propose_many(run.api, org, sizes.read_proposals, title="Read proposal")
        target = ids[0]
        choices = ["FOR" if i % 2 == 0 else "AGAINST" for i in range(len(org.stakeholders))]
        await vote_all(run.api, target, org.stakeholders, choices)

    page_body = graphql_body(run.op("Proposals"), {"organization": org.slug, "first": 20})
    proposal_body = graphql_body(run.op("Proposal"), {"id": target})
    page_path = f"/proposals?organization={org.slug}&first=20"
    proposal_path = f"/proposal?id={target}"

    # both sides answer the same rows before anything is timed
    page = (await fetch_json(run.bench.gateway_url, "POST", "/graphql", page_body))["data"]["proposals"]
    floor_page = await fetch_json(run.bench.floor_url, "GET", page_path)
    assert len(page["edges"]) == 20, page
    assert all(e["node"]["body"]["name"] for e in page["edges"]), page
    assert [e["node"]["id"] for e in page["edges"]] == [e["node"]["id"] for e in floor_page["edges"]]
    proposal = (await fetch_json(run.bench.gateway_url, "POST", "/graphql", proposal_body))["data"][
        "proposal"
    ]
    floor_proposal = (await fetch_json(run.bench.floor_url, "GET", proposal_path))["proposal"]
    assert len(proposal["votes"]) == len(org.stakeholders) == len(floor_proposal["votes"]), proposal

    result: dict[str, Any] = {
        "proposalsPage": {"nodes": len(page["edges"]), "totalCount": page["totalCount"], "levels": []},
        "proposal": {"votes": len(proposal["votes"]), "levels": []},
    }
    for concurrency in sizes.read_concurrency:
        with run.step(f"read at {concurrency} clients"):
            result["proposalsPage"]["levels"].append(
                await measure_pair(run, page_body, page_path, concurrency, sizes.read_seconds, "read-page")
            )
            result["proposal"]["levels"].append(
                await measure_pair(
                    run, proposal_body, proposal_path, concurrency, sizes.read_seconds, "read-proposal"
                )
            )
    return result
