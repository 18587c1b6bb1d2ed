"""Two replicas of every process on the same databases and stream: nothing is published, applied or
decided twice. Each replica set has its own gateway; the client alternates between them, and both sets'
relays, consumers and schedulers compete for the same rows and messages."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import asyncpg
import pytest

from kit.testing import fetch_events
from stack.infra import free_port
from tests.e2e.harness import Api, Wallet, isolated_env, start_platform

PROCESSES = ("membership", "proposals", "timelock", "gateway")


@pytest.fixture(scope="module")
def replicas(infra, tmp_path_factory):
    env = isolated_env(infra.database_url, infra.nats_url)
    first = start_platform(env, tmp_path_factory.mktemp("a"), {p: free_port() for p in PROCESSES})
    second = start_platform(env, tmp_path_factory.mktemp("b"), {p: free_port() for p in PROCESSES})
    yield env, first, second
    second.stop()
    first.stop()


async def _rows(env: dict[str, str], service: str, query: str) -> list[asyncpg.Record]:
    dsn = env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{env['DATABASE_PREFIX']}_{service}"
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_two_replicas_of_every_process_never_double_publish_apply_or_decide(replicas):
    env, first, second = replicas
    apis = [Api(first.graphql_url), Api(second.graphql_url)]
    try:
        shg = [await apis[i % 2].sign_in(Wallet.create()) for i in range(3)]
        tlc = [await apis[i % 2].sign_in(Wallet.create()) for i in range(3)]
        org = (
            await apis[0].ok(
                "CreateOrganization",
                shg[0],
                input={
                    "slug": f"twins-{uuid.uuid4().hex[:8]}",
                    "name": "Twins",
                    "purpose": "Run everything twice",
                    "stakeholders": [{"address": w.address} for w in shg],
                    "topLevelCell": {
                        "name": "TLC",
                        "purpose": "Coordinate",
                        "coreTeam": [{"address": w.address} for w in tlc],
                    },
                    "policy": {
                        "reviewPeriodSeconds": 3,
                        "votingPeriodSeconds": 60,
                        "vetoThresholdPercent": 50,
                    },
                },
            )
        )["organization"]
        tlc_id = org["topLevelCell"]["id"]

        async def one_proposal(n: int) -> tuple[str, str]:
            api = apis[n % 2]
            blocked = n % 3 == 0
            crew = [Wallet.create() for _ in range(2)]
            created = await api.ok(
                "CreateProposal",
                tlc[n % 3],
                input={
                    "bodyId": tlc_id,
                    "kind": "OPERATIONAL",
                    "title": f"Cell {n}",
                    "description": "Start a cell",
                    "actions": [
                        {
                            "createCell": {
                                "parentId": tlc_id,
                                "name": f"Cell {n}",
                                "purpose": "Work",
                                "coreTeam": [{"address": w.address} for w in crew],
                            }
                        }
                    ],
                },
            )
            pid = created["proposal"]["id"]
            for i, w in enumerate(tlc[:2]):
                await apis[(n + i) % 2].ok("CastVote", w, proposalId=pid, choice="FOR")
            await api.wait_status(pid, "IN_REVIEW")
            if blocked:
                for i, w in enumerate(shg[:2]):
                    await apis[(n + i) % 2].ok("ObjectToProposal", w, proposalId=pid)
                return pid, "BLOCKED"
            return pid, "ENACTED"

        outcomes = await asyncio.gather(*(one_proposal(n) for n in range(6)))
        for pid, expected in outcomes:
            await apis[0].wait_status(pid, expected, within=40)
        enacted = [pid for pid, expected in outcomes if expected == "ENACTED"]

        # let relays drain, then compare every database with the stream
        await asyncio.sleep(2)
        events = await fetch_events(
            env["NATS_URL"], env["EVENTS_STREAM"], f"{env['EVENTS_SUBJECT_PREFIX']}.>"
        )
        stream_ids = Counter(e.id for e in events)
        assert max(stream_ids.values()) == 1
        for service in ("membership", "proposals", "timelock"):
            rows = await _rows(env, service, "SELECT id::text, published_at FROM kit_outbox")
            assert all(r["published_at"] is not None for r in rows), f"{service}: unpublished events"
            assert {r["id"] for r in rows} <= set(stream_ids), f"{service}: events missing from the stream"

        by_type = Counter((e.type, e.data.get("proposalId")) for e in events)
        for pid, expected in outcomes:
            assert by_type[("governance.proposal.voting_closed.v1", pid)] == 1  # decided once
            assert by_type[("governance.review.started.v1", pid)] == 1
            verdict = "blocked" if expected == "BLOCKED" else "approved"
            assert by_type[(f"governance.review.{verdict}.v1", pid)] == 1
            other = "approved" if expected == "BLOCKED" else "blocked"
            assert by_type[(f"governance.review.{other}.v1", pid)] == 0
        for pid in enacted:
            assert by_type[("governance.organization.actions_applied.v1", pid)] == 1  # applied once
            assert by_type[("governance.proposal.enacted.v1", pid)] == 1
        cells = await _rows(env, "membership", "SELECT name FROM bodies WHERE parent_id IS NOT NULL")
        names = Counter(r["name"] for r in cells)
        assert sorted(names) == sorted(f"Cell {n}" for n in range(6) if n % 3 != 0)
        assert max(names.values()) == 1
        # both replicas did take part: their consumers shared the events between them
        for service in ("membership", "proposals", "timelock"):
            processed = []
            for platform in (first, second):
                status = (await apis[0].http.get(f"{platform.url(service)}/status", timeout=5)).json()
                processed.append(sum(c["processed"] for c in status["details"]["consumers"]))
            assert all(n > 0 for n in processed), f"{service}: one replica applied nothing {processed}"
    finally:
        for api in apis:
            await api.http.aclose()
