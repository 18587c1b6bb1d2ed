"""What must hold after any fault, checked against the databases and the stream: the figures of a run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.faults.support import Ledger, Outcome, Store, by_type, duplicate_ids


def _lower(value: Any) -> str:
    return str(value).lower()


async def check_no_loss(store: Store, ledger: Ledger) -> dict[str, int]:
    """Every acknowledged mutation is persisted and published exactly once; every event in an outbox is in
    the stream once and vice versa; each unknown outcome happened fully (row and event) or not at all;
    every deadline that came due was decided exactly once. Answers the figures."""
    events = await store.events()
    assert duplicate_ids(events) == [], "an event id is in the stream twice"
    outbox = await store.outbox()
    unpublished = [r["id"] for rows in outbox.values() for r in rows if r["published_at"] is None]
    assert unpublished == [], f"{len(unpublished)} outbox rows never relayed"
    outbox_ids = {str(r["id"]) for rows in outbox.values() for r in rows}
    stream_ids = {e.id for e in events}
    assert outbox_ids - stream_ids == set(), "events in an outbox that never reached the stream"
    assert stream_ids - outbox_ids == set(), "events in the stream that no outbox holds"

    # what is persisted, by natural key
    proposals = {
        str(r["id"]): r["status"] for r in await store.fetch("proposals", "SELECT id, status FROM proposals")
    }
    votes = {
        (str(r["proposal_id"]), _lower(r["voter"])): r["choice"]
        for r in await store.fetch("proposals", "SELECT proposal_id, voter, choice FROM votes")
    }
    reviews = {
        str(r["proposal_id"]): (str(r["id"]), r["status"])
        for r in await store.fetch("timelock", "SELECT id, proposal_id, status FROM reviews")
    }
    review_of = {rid: pid for pid, (rid, _) in reviews.items()}
    concerns = {
        str(r["id"]): (review_of.get(str(r["review_id"]), "?"), _lower(r["raised_by"]))
        for r in await store.fetch("timelock", "SELECT id, review_id, raised_by FROM concerns")
    }
    objections = {
        (review_of.get(str(r["review_id"]), "?"), _lower(r["objector"]))
        for r in await store.fetch("timelock", "SELECT review_id, objector FROM objections")
    }

    # what is published, by the same keys: each exactly once
    created = Counter(str(e.data["proposalId"]) for e in by_type(events, "proposal", "created"))
    cast = Counter(
        (str(e.data["proposalId"]), _lower(e.data["voter"])) for e in by_type(events, "vote", "cast")
    )
    raised = Counter(str(e.data["concernId"]) for e in by_type(events, "review", "concern_raised"))
    objected = Counter(
        (review_of.get(str(e.data["reviewId"]), "?"), _lower(e.data["objector"]))
        for e in by_type(events, "review", "objection_recorded")
        if not e.data.get("withdrawn")
    )
    assert set(created) == set(proposals)
    assert set(created.values()) <= {1}
    assert set(cast) == set(votes)
    assert set(cast.values()) <= {1}
    assert set(raised) == set(concerns)
    assert set(raised.values()) <= {1}
    assert set(objected) == objections
    assert set(objected.values()) <= {1}

    persisted = published = 0
    acked = [o for o in ledger.outcomes if o.status == "ack" and o.operation != "CreateOrganization"]
    for o in acked:
        found, sent = _find(o, proposals, votes, concerns, objections, created, cast, raised, objected)
        persisted += found
        published += sent
    unknown = [o for o in ledger.outcomes if o.status == "unknown"]
    happened = sum(_happened(o, votes, concerns, objections) for o in unknown)

    due, decided = await store.deadlines()
    decisions = _decisions(events, proposals, reviews)
    figures = {
        "acknowledged": len(acked),
        "persisted": persisted,
        "published": published,
        "unknown": len(unknown),
        "unknown_happened": happened,
        "refused": ledger.count("refused"),
        "deadlines_due": due,
        "deadlines_decided": decided,
        **decisions,
    }
    assert persisted == published == len(acked), figures
    assert due == decided, figures
    assert decisions["votes_closed"] == decisions["votes_closable"], figures
    assert decisions["reviews_decided"] == decisions["reviews_decidable"], figures
    return figures


def _find(
    o: Outcome, proposals, votes, concerns, objections, created, cast, raised, objected
) -> tuple[bool, bool]:
    if o.operation == "CreateProposal":
        pid = o.payload["proposal"]["id"]  # type: ignore[index]
        return pid in proposals, created[pid] == 1
    if o.operation == "CastVote":
        _, pid, voter, choice = o.key
        return votes.get((pid, voter)) == choice, cast[(pid, voter)] == 1
    if o.operation == "RaiseConcern":
        cid = o.payload["concern"]["id"]  # type: ignore[index]
        return cid in concerns, raised[cid] == 1
    if o.operation == "ObjectToProposal":
        _, pid, who = o.key
        return (pid, who) in objections, objected[(pid, who)] == 1
    raise AssertionError(f"unexpected operation {o.operation}")


def _happened(o: Outcome, votes, concerns, objections) -> bool:
    """Whether a mutation whose answer was lost took effect (the all-or-nothing is checked above)."""
    if o.operation == "CastVote" and len(o.key) == 4:
        return (o.key[1], o.key[2]) in votes
    if o.operation == "RaiseConcern":
        return (o.key[1], o.key[2]) in set(concerns.values())
    if o.operation == "ObjectToProposal":
        return (o.key[1], o.key[2]) in objections
    return False


def _decisions(events, proposals: dict[str, str], reviews: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Each vote closed once (by its deadline or early), each review decided once (by objections or time)."""
    closed = Counter(str(e.data["proposalId"]) for e in by_type(events, "proposal", "voting_closed"))
    assert set(closed.values()) <= {1}, "a vote was closed twice"
    closable = {pid for pid, status in proposals.items() if status != "VOTING"}
    verdicts = Counter(
        str(e.data["reviewId"])
        for e in events
        if e.aggregate == "review" and e.event in ("approved", "blocked", "cancelled")
    )
    assert set(verdicts.values()) <= {1}, "a review was decided twice"
    decidable = {rid for rid, status in reviews.values() if status != "PENDING"}
    started = Counter(str(e.data["proposalId"]) for e in by_type(events, "review", "started"))
    assert set(started.values()) <= {1}, "a review was opened twice"
    return {
        "votes_closable": len(closable),
        "votes_closed": len(set(closed) & closable),
        "reviews_decidable": len(decidable),
        "reviews_decided": len(set(verdicts) & decidable),
    }
