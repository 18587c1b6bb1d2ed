"""5. Scale: the `Proposals` page and a tally read with 1k proposals (10k votes) and again with 100k
proposals (1M votes) in the same organisation; the ratio of the two should stay near 1 (keyset
pagination, indexes, counters and incremental tallies make neither depend on the table sizes).

Two template proposals go through the API (one passed, one defeated, every stakeholder voting); the
rest are copies made with COPY (bench/seed.py). Both sizes are read through the gateway and from the
floor.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.context import TALLY_QUERY, Run
from bench.loadgen import closed_loop, fixed, graphql_body, status_ok
from bench.scenarios.read import compare, fetch_json, ratio
from bench.seed import clone_proposals, propose_many, vote_all


async def _ids(dsn: str, organization_id: str, sample: int) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id FROM proposals WHERE organization_id = $1 ORDER BY random() LIMIT $2",
            uuid.UUID(organization_id),
            sample,
        )
        return [str(r["id"]) for r in rows]
    finally:
        await conn.close()


async def measure(run: Run, ids: list[str]) -> dict[str, Any]:
    org = run.orgs["small"]
    s = run.sizes
    page_body = graphql_body(run.op("Proposals"), {"organization": org.slug, "first": 20})
    page_path = f"/proposals?organization={org.slug}&first=20"
    tally_bodies = [graphql_body(TALLY_QUERY, {"id": i}) for i in ids]
    tally_paths = [f"/tally?id={i}" for i in ids]
    page = (await fetch_json(run.bench.gateway_url, "POST", "/graphql", page_body))["data"]["proposals"]
    assert len(page["edges"]) == 20, page
    out: dict[str, Any] = {"totalCount": page["totalCount"]}
    warm = s.warmup_seconds
    gw = await run.measured(
        closed_loop(
            run.bench.gateway_url,
            fixed("POST", "/graphql", page_body),
            concurrency=s.scale_concurrency,
            seconds=s.scale_seconds,
            warmup=warm,
        )
    )
    fl = await run.measured(
        closed_loop(
            run.bench.floor_url,
            fixed("GET", page_path),
            concurrency=s.scale_concurrency,
            seconds=s.scale_seconds,
            warmup=warm,
            check=status_ok,
        )
    )
    out["proposalsPage"] = compare(gw, fl)
    gw = await run.measured(
        closed_loop(
            run.bench.gateway_url,
            lambda n: ("POST", "/graphql", tally_bodies[n % len(tally_bodies)], {}),
            concurrency=s.scale_concurrency,
            seconds=s.scale_seconds,
            warmup=warm,
        )
    )
    fl = await run.measured(
        closed_loop(
            run.bench.floor_url,
            lambda n: ("GET", tally_paths[n % len(tally_paths)], b"", {}),
            concurrency=s.scale_concurrency,
            seconds=s.scale_seconds,
            warmup=warm,
            check=status_ok,
        )
    )
    out["tally"] = compare(gw, fl)
    return out


def growth(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """How much slower the large size is: throughput small/large and p50 large/small (1 = no change)."""
    out = {}
    for read in ("proposalsPage", "tally"):
        a, b = small[read], large[read]
        out[read] = {
            "platformThroughputRatio": ratio(
                a["platform"]["throughputPerSecond"], b["platform"]["throughputPerSecond"]
            ),
            "platformP50Ratio": ratio(b["platform"]["p50Ms"], a["platform"]["p50Ms"]),
            "floorThroughputRatio": ratio(
                a["floor"]["throughputPerSecond"], b["floor"]["throughputPerSecond"]
            ),
            "floorP50Ratio": ratio(b["floor"]["p50Ms"], a["floor"]["p50Ms"]),
            # the machine's other load moves throughput between the two measurements (the floor's own
            # ratio shows by how much); CPU per request hardly moves with it
            "platformCpuRatio": ratio(cpu_total(b["platform"]), cpu_total(a["platform"])),
            "floorCpuRatio": ratio(cpu_total(b["floor"]), cpu_total(a["floor"])),
        }
    return out


def cpu_total(side: dict[str, Any]) -> float | None:
    """CPU ms per request of everything serving it (not the load generator)."""
    cpu = side.get("cpuMsPerRequest") or {}
    return round(sum(v for k, v in cpu.items() if k != "loadgen"), 3) if cpu else None


async def run_scale(run: Run) -> dict[str, Any]:
    org = run.orgs["small"]
    s = run.sizes
    dsn = run.bench.dsn("proposals")
    n = len(org.stakeholders)
    with run.step("scale: two template proposals through the API"):
        passed, defeated = await propose_many(run.api, org, 2, title="Scale template")
        # alternating choices never decide early, so every stakeholder's vote counts; the last decides
        alternate = ["FOR" if i % 2 == 0 else "AGAINST" for i in range(n - 1)]
        await vote_all(run.api, passed, org.stakeholders, [*alternate, "FOR"])
        await vote_all(run.api, defeated, org.stakeholders, [*alternate, "AGAINST"])
    oldest = datetime.now(UTC) - timedelta(seconds=10)
    step = timedelta(seconds=30)
    result: dict[str, Any] = {"votesPerProposal": n}
    with run.step(f"scale: copy to {s.scale_small} proposals"):
        votes = await clone_proposals(
            dsn, [passed, defeated], s.scale_small - 2, start_index=0, oldest_first=oldest, step=step
        )
        result["small"] = {"proposals": s.scale_small, "votes": votes + 2 * n}
    with run.step(f"scale: measure at {s.scale_small}"):
        result["small"].update(await measure(run, await _ids(dsn, org.id, 200)))
    with run.step(f"scale: copy to {s.scale_large} proposals"):
        more = await clone_proposals(
            dsn,
            [passed, defeated],
            s.scale_large - s.scale_small,
            start_index=s.scale_small - 2,
            oldest_first=oldest,
            step=step,
        )
        result["large"] = {"proposals": s.scale_large, "votes": result["small"]["votes"] + more}
    with run.step(f"scale: measure at {s.scale_large}"):
        ids = await _ids(dsn, org.id, 200)
        random.shuffle(ids)
        result["large"].update(await measure(run, ids))
    result["growth"] = growth(result["small"], result["large"])
    return result
