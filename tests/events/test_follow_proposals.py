"""examples/follow_proposals.py, run as another DAO would run it, follows an organisation through a NATS
restart, its own stop and restart, and a republished event, and outputs every event exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from kit.testing import FakeClock, eventually, fetch_events
from stack.infra import EmbeddedNats
from tests.events.platform import Services, address, running_services

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "follow_proposals.py"
STAKEHOLDERS = [address(n) for n in (1, 2, 3)]
CORE = [address(n) for n in (11, 12, 13)]


@dataclass
class Follower:
    """The example as a subprocess; its stdout (one JSON line per event) goes to a file."""

    args: list[str]
    out: Path
    err: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.proc = subprocess.Popen([sys.executable, str(EXAMPLE), *self.args], stdout=out, stderr=err)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(20) == 0, self.err.read_text()[-2000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def lines(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A NATS of this test's own, which it stops and starts again."""
    server = EmbeddedNats(tmp_path / "nats" / "jetstream")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def services(infra: Any, private_nats: EmbeddedNats) -> AsyncIterator[Services]:
    async with running_services(
        infra.database_url, private_nats.url, FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    ) as s:
        yield s


async def found(s: Services, slug: str) -> dict[str, Any]:
    return await s.call(
        "membership",
        "POST",
        "/v1/organizations",
        STAKEHOLDERS[0],
        {
            "slug": slug,
            "name": slug,
            "purpose": "Be followed",
            "stakeholders": [{"address": a} for a in STAKEHOLDERS],
            "topLevelCell": {"name": "TLC", "purpose": "Work", "coreTeam": [{"address": a} for a in CORE]},
            "policy": {"votingPeriodSeconds": 3600, "reviewPeriodSeconds": 3600},
        },
    )


async def decide(s: Services, org: dict[str, Any], choice: str) -> None:
    """A TLC proposal decided by two votes (closing early): created, votes, voting_closed, …"""
    proposal = await s.call(
        "proposals",
        "POST",
        "/v1/proposals",
        CORE[0],
        {
            "bodyId": org["topLevelCellId"],
            "kind": "OPERATIONAL",
            "title": "Do it",
            "description": "",
            "actions": [],
        },
    )
    for voter in CORE[:2]:
        await s.call("proposals", "POST", f"/v1/proposals/{proposal['id']}/votes", voter, {"choice": choice})


async def stream_ids(s: Services, slug: str) -> list[str]:
    return [e.id for e in await fetch_events(s.nats_url, s.stream, f"{s.prefix}.{slug}.>", wait_seconds=0.3)]


async def caught_up(follower: Follower, s: Services, slug: str) -> bool:
    await s.settled()
    expected = set(await stream_ids(s, slug))
    return bool(expected) and expected <= {line["id"] for line in follower.lines()}


async def test_the_example_follower_gets_every_event_once_through_restarts(
    services: Services, private_nats: EmbeddedNats, tmp_path: Path
) -> None:
    s = services
    org = await found(s, "followed")
    other = await found(s, "not-followed")
    follower = Follower(
        [
            "--nats-url", s.nats_url,
            "--stream", s.stream,
            "--prefix", s.prefix,
            "--organization", "followed",
            "--durable", "partner-dao",
            "--store", str(tmp_path / "follower.db"),
        ],
        tmp_path / "follower.out",
        tmp_path / "follower.err",
    )  # fmt: skip
    try:
        follower.start()
        await decide(s, org, "FOR")
        await decide(s, other, "FOR")
        await eventually(lambda: caught_up(follower, s, "followed"), within=30)

        # NATS goes away for a while; the platform keeps taking decisions meanwhile
        private_nats.stop()
        await decide(s, org, "AGAINST")
        await asyncio.sleep(2)
        private_nats.start()
        await eventually(lambda: caught_up(follower, s, "followed"), within=60)

        # the follower goes away for a while
        follower.stop()
        await decide(s, org, "FOR")
        await asyncio.sleep(1)
        follower.start()
        await eventually(lambda: caught_up(follower, s, "followed"), within=30)

        # an event relayed again after JetStream's duplicate window: same CloudEvents id, new message
        nc = await nats.connect(s.nats_url)
        try:
            js = nc.jetstream()
            first = (await fetch_events(s.nats_url, s.stream, f"{s.prefix}.followed.proposal.created"))[0]
            await js.publish(
                first.nats_subject(s.prefix), first.to_json(), headers={"Nats-Msg-Id": f"{first.id}-again"}
            )
        finally:
            await nc.close()
        await decide(s, org, "FOR")
        await eventually(lambda: caught_up(follower, s, "followed"), within=30)
        follower.stop()
    finally:
        follower.kill()

    lines = follower.lines()
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)), "an event was output twice"
    assert set(ids) == set(await stream_ids(s, "followed"))
    assert len(await stream_ids(s, "followed")) == len(ids) + 1  # the republished copy, skipped
    assert all(line["type"].startswith("governance.") for line in lines)
    assert {line["proposalId"] for line in lines if line["proposalId"]} <= {
        e["data"].get("proposalId") for e in await _documents(s, "followed")
    }
    # nothing of the other organisation, and each proposal's own events in order
    per_proposal: dict[str, list[int]] = {}
    for line in lines:
        if line["type"].startswith("governance.proposal."):
            per_proposal.setdefault(line["subject"], []).append(line["sequence"])
    assert len(per_proposal) == 4
    assert all(seqs == sorted(seqs) for seqs in per_proposal.values())


async def _documents(s: Services, slug: str) -> list[dict[str, Any]]:
    return [e.to_cloudevent() for e in await fetch_events(s.nats_url, s.stream, f"{s.prefix}.{slug}.>")]
