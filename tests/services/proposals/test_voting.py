"""Voting over HTTP: tallies, changes, early close, the snapshot, concurrency, the durable deadline."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from kit.testing import FakeClock, eventually, running_app
from services.proposals.app import create_app

from .support import CELL_CONTRIBUTOR, CELL_CORE, STAKEHOLDERS, T0, TLC_CORE, Harness, Org, address


async def test_a_vote_is_counted_and_can_be_changed_while_open(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    first = await h.vote(TLC_CORE[0], p["id"], "FOR", "good idea")
    assert first.status_code == 200
    assert first.json()["vote"]["reason"] == "good idea"
    changed = (await h.vote(TLC_CORE[0], p["id"], "AGAINST")).json()
    assert changed["proposal"]["tally"]["for"] == "0"
    assert changed["proposal"]["tally"]["against"] == "1"
    assert changed["proposal"]["voteCount"] == 1
    votes = (await h.get(f"/v1/proposals/{p['id']}/votes")).json()
    assert votes["totalCount"] == 1
    assert [(v["voter"].lower(), v["choice"]) for v in votes["items"]] == [(TLC_CORE[0], "AGAINST")]


async def test_votes_are_published_with_a_sequence_per_proposal(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    await h.vote(TLC_CORE[0], p["id"], "FOR")
    await h.vote(TLC_CORE[1], p["id"], "ABSTAIN")
    cast = await h.outbox(p["id"], "vote.cast")
    assert [e["data"]["sequence"] for e in cast] == [1, 2]
    assert cast[1]["data"]["tally"]["abstain"] == "1"
    assert cast[1]["subject"] == f"proposals/{p['id']}"


async def test_a_changed_vote_is_published_with_the_tally_moved(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    await h.vote(TLC_CORE[0], p["id"], "FOR")
    await h.vote(TLC_CORE[0], p["id"], "AGAINST", "changed my mind")
    cast = [e["data"] for e in await h.outbox(p["id"], "vote.cast")]
    assert [(e["changed"], e["choice"]) for e in cast] == [(False, "FOR"), (True, "AGAINST")]
    assert (cast[1]["tally"]["for"], cast[1]["tally"]["against"]) == ("0", "1")
    assert (cast[1]["reason"], cast[1]["proposalStatus"]) == ("changed my mind", "VOTING")


async def test_a_vote_on_an_unknown_proposal_is_not_found(h):
    for proposal_id in (str(uuid.uuid4()), "not-an-id"):
        response = await h.vote(TLC_CORE[0], proposal_id, "FOR")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


async def test_the_proposal_closes_early_when_the_outcome_cannot_change(h):
    org = await h.found()
    p = await h.proposed(CELL_CORE[0], org.cell)
    proposal = await h.votes(p["id"], CELL_CORE[:2])
    assert proposal["status"] == "ENACTED"
    assert proposal["outcome"] == "PASSED"
    late = await h.vote(CELL_CORE[2], p["id"], "AGAINST")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "VOTING_CLOSED"
    history = (await h.get(f"/v1/proposals/{p['id']}/history")).json()["items"]
    assert [e["status"] for e in history] == ["VOTING", "ENACTED"]
    assert "can no longer change" in history[1]["cause"]


async def test_a_contributor_cannot_vote_in_a_cell(h):
    org = await h.found()
    p = await h.proposed(CELL_CORE[0], org.cell)
    response = await h.vote(CELL_CONTRIBUTOR, p["id"], "FOR")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "FORBIDDEN")


async def test_the_weight_snapshot_ignores_later_joins_and_exits(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    newcomer = address(40)
    await h.deliver(org.joined(org.tlc, newcomer, "CORE_TEAM"))
    await h.deliver(org.left(org.tlc, TLC_CORE[2], "CORE_TEAM"))

    joined_late = await h.vote(newcomer, p["id"], "FOR")
    assert joined_late.status_code == 403
    exited = await h.vote(TLC_CORE[2], p["id"], "FOR")
    assert exited.status_code == 403
    assert "left" in exited.json()["error"]["message"]
    assert (await h.proposal(p["id"]))["tally"]["eligible"] == "3"
    # a proposal created now takes the new snapshot
    later = await h.proposed(TLC_CORE[0], org.tlc)
    assert (await h.vote(newcomer, later["id"], "FOR")).status_code == 200


async def test_weights_come_from_the_snapshot_not_the_current_weight(h):
    org = await h.found()
    heavy = address(50)
    await h.deliver(org.joined(org.shg, heavy, "STAKEHOLDER", "7.5"))
    p = await h.proposed(heavy, org.shg, "STAKEHOLDER")
    await h.deliver(
        org.membership(
            "membership", org.shg, "weight_changed", {"bodyId": str(org.shg), "address": heavy, "weight": "1"}
        )
    )
    voted = (await h.vote(heavy, p["id"], "FOR")).json()
    assert voted["vote"]["weight"] == "7.5"
    assert voted["proposal"]["tally"]["eligible"] == "10.5"


async def test_concurrent_votes_by_the_same_voter_keep_one_vote(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    choices = ["FOR", "AGAINST", "ABSTAIN"] * 4
    responses = await asyncio.gather(*(h.vote(TLC_CORE[1], p["id"], c) for c in choices))
    assert all(r.status_code == 200 for r in responses)
    async with h.runtime.db.session() as session:
        rows = (
            await session.execute(text("SELECT choice FROM votes WHERE proposal_id = :p"), {"p": p["id"]})
        ).all()
    assert len(rows) == 1
    tally = (await h.proposal(p["id"]))["tally"]
    assert (tally["for"], tally["against"], tally["abstain"]) == (
        "1" if rows[0][0] == "FOR" else "0",
        "1" if rows[0][0] == "AGAINST" else "0",
        "1" if rows[0][0] == "ABSTAIN" else "0",
    )
    assert (await h.proposal(p["id"]))["voteCount"] == 1


async def test_concurrent_votes_of_different_voters_are_all_counted(h):
    org = await h.found()
    for n in range(60, 66):
        await h.deliver(org.joined(org.shg, address(n), "STAKEHOLDER"))
    p = await h.proposed(address(60), org.shg, "STAKEHOLDER")
    voters = [address(n) for n in range(60, 66)]
    await asyncio.gather(*(h.vote(v, p["id"], "ABSTAIN") for v in voters))
    tally = (await h.proposal(p["id"]))["tally"]
    assert (tally["abstain"], tally["eligible"]) == ("6", "9")


async def test_at_the_deadline_without_quorum_the_proposal_expires(h):
    org = await h.found()
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "STAKEHOLDER")
    h.advance_to(datetime.fromisoformat(p["votingEndsAt"]) + timedelta(seconds=1))
    await h.settle()
    closed = await h.proposal(p["id"])
    assert (closed["status"], closed["outcome"]) == ("EXPIRED", "EXPIRED")
    [event] = await h.outbox(p["id"], "proposal.voting_closed")
    assert event["data"]["next"] == "NONE"
    assert event["data"]["tally"]["quorumReached"] is False


async def test_the_voting_deadline_fires_after_the_service_restarts(private_settings):
    settings = private_settings()
    clock = FakeClock(T0)
    org = Org()
    async with running_app(create_app(settings, clock=clock)) as client:
        h = Harness(client.app, client, clock, settings)
        for envelope in org.founding_events():
            await h.deliver(envelope)
        p = await h.proposed(CELL_CORE[0], org.cell)
        await h.vote(CELL_CORE[0], p["id"], "FOR")
        await h.vote(CELL_CORE[1], p["id"], "AGAINST")
    # down while the vote ends
    clock.set(datetime.fromisoformat(p["votingEndsAt"]) + timedelta(hours=1))
    async with running_app(create_app(settings, clock=clock)) as client:
        h = Harness(client.app, client, clock, settings)
        closed = await eventually(lambda: _closed(h, p["id"]), within=10)
    assert closed["status"] == "DEFEATED"  # a tie with quorum
    history = closed["history"]
    assert datetime.fromisoformat(history[-1]["at"]) == datetime.fromisoformat(p["votingEndsAt"])


async def _closed(h: Harness, proposal_id: str) -> dict | None:
    p = await h.proposal(proposal_id)
    if p["status"] == "VOTING":
        return None
    p["history"] = (await h.get(f"/v1/proposals/{proposal_id}/history")).json()["items"]
    return p
