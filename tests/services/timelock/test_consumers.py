"""Events in: the proposals' lifecycle and the membership projection. Events out: operations."""

from __future__ import annotations

import json
import uuid

import nats
import pytest

from services.timelock.service import MembershipNotProjectedYet

from .support import (
    DAY,
    WEEK,
    Harness,
    Org,
    address,
    membership_event,
    proposal_event,
    published,
    voting_closed,
)


def _cancelled(org: Org, proposal: uuid.UUID):
    return proposal_event(org, proposal, "cancelled", {"status": "CANCELLED", "cancelledBy": address(1)})


async def test_duplicate_voting_closed_opens_one_review(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    event = voting_closed(org, proposal)
    assert await timelock.deliver(event)
    assert not await timelock.deliver(event)  # the same event redelivered: the inbox skips it
    assert await timelock.deliver(voting_closed(org, proposal))  # a second event about the same vote
    started = await timelock.events("review.started")
    assert [e["data"]["proposalId"] for e in started] == [str(proposal)]
    assert started[0]["data"]["eligibleWeight"] == "3"
    assert started[0]["data"]["vetoThresholdWeight"] == "1"


async def test_review_opens_from_a_published_event_and_its_events_reach_the_stream(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    event = voting_closed(org, proposal)
    nc = await nats.connect(timelock.settings.nats_url)
    try:
        await nc.jetstream().publish(
            event.nats_subject(timelock.settings.events_subject_prefix),
            event.to_json(),
            headers={"Nats-Msg-Id": event.id},
        )
    finally:
        await nc.close()
    started = await published(timelock, "review.started")
    assert started[0].data["proposalId"] == str(proposal)
    assert started[0].subject == f"reviews/{started[0].data['reviewId']}"
    assert started[0].source == "/services/timelock"
    assert started[0].data["sequence"] == 1


async def test_votes_that_need_no_review_or_delay_open_nothing(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    for step in ("ENACT", "NONE"):
        await timelock.deliver(voting_closed(org, uuid.uuid4(), next_step=step))
    assert await timelock.events() == []


async def test_review_waits_for_the_reviewing_body_to_be_projected(timelock: Harness, org: Org) -> None:
    with pytest.raises(MembershipNotProjectedYet):
        await timelock.deliver(voting_closed(org, uuid.uuid4()))
    await timelock.found_org(org, [1] * 3)
    # the failed attempt left no inbox row, so the redelivered event is applied
    proposal = uuid.uuid4()
    assert await timelock.deliver(voting_closed(org, proposal))
    assert (await timelock.review(proposal))["status"] == "PENDING"


async def test_cancelled_proposal_cancels_its_pending_review(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    await timelock.deliver(_cancelled(org, proposal))
    review = await timelock.review(proposal)
    assert review["status"] == "CANCELLED"
    assert [e["data"]["proposalId"] for e in await timelock.events("review.cancelled")] == [str(proposal)]
    refused = await timelock.object(1, proposal)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "REVIEW_CLOSED")
    await timelock.advance(WEEK)
    assert await timelock.events("review.approved") == []


async def test_cancellation_seen_before_the_vote_closed_opens_nothing(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    await timelock.deliver(_cancelled(org, proposal))
    await timelock.deliver(voting_closed(org, proposal))
    assert await timelock.events() == []


async def test_approved_review_with_a_delay_becomes_a_queued_then_ready_operation(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org, window=WEEK, delay=90 * DAY, grace=WEEK)
    await timelock.advance(WEEK)
    review = await timelock.review(proposal)
    assert review["operation"] == {
        "status": "QUEUED",
        "enactAfter": "2030-04-08T00:00:00Z",
        "expiresAt": "2030-04-15T00:00:00Z",
    }
    [queued] = await timelock.events("operation.queued")
    assert (queued["data"]["enactAfter"], queued["subject"]) == (
        "2030-04-08T00:00:00Z",
        f"reviews/{review['id']}",
    )
    await timelock.advance(90 * DAY)
    assert (await timelock.review(proposal))["operation"]["status"] == "READY"
    types = [e["type"].split(".")[1:3] for e in await timelock.events()]
    assert types[-3:] == [["review", "approved"], ["operation", "queued"], ["operation", "ready"]]


async def test_ready_operation_not_enacted_within_its_grace_period_expires(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    await timelock.deliver(voting_closed(org, proposal, next_step="DELAY", delay=DAY, grace=DAY))
    await timelock.advance(DAY)
    assert len(await timelock.events("operation.ready")) == 1
    await timelock.advance(DAY)
    [expired] = await timelock.events("operation.expired")
    assert expired["data"]["proposalId"] == str(proposal)
    assert "grace period" in expired["data"]["reason"]


async def test_enacted_operation_never_expires(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    await timelock.deliver(voting_closed(org, proposal, next_step="DELAY", delay=DAY, grace=DAY))
    await timelock.advance(DAY)
    await timelock.deliver(proposal_event(org, proposal, "enacted", {"status": "ENACTED", "actions": []}))
    await timelock.advance(2 * DAY)
    assert await timelock.events("operation.expired") == []


async def test_delay_without_review_is_queued_at_once_and_has_no_review(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = uuid.uuid4()
    await timelock.deliver(voting_closed(org, proposal, next_step="DELAY", delay=90 * DAY))
    assert [e["type"] for e in await timelock.events()] == ["governance.operation.queued.v1"]
    async with timelock.as_member(None) as c:
        assert (await c.get(f"/v1/reviews/by-proposal/{proposal}")).status_code == 404


async def test_cancelled_proposal_cancels_its_queued_operation(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org, window=DAY, delay=DAY)
    await timelock.advance(DAY)
    await timelock.deliver(_cancelled(org, proposal))
    await timelock.advance(DAY)
    review = await timelock.review(proposal)
    assert (review["status"], review["operation"]["status"]) == ("APPROVED", "CANCELLED")
    [cancelled] = await timelock.events("review.cancelled")
    assert cancelled["data"]["cancelled"] == "OPERATION"
    assert await timelock.events("operation.ready") == []


async def test_exit_delivered_before_the_join_it_follows_still_counts(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1, 1])
    joined = membership_event(
        org,
        "membership",
        org.shg,
        "joined",
        {"bodyId": str(org.shg), "address": address(3), "role": "STAKEHOLDER", "weight": "5"},
    )
    left = membership_event(
        org,
        "membership",
        org.shg,
        "left",
        {"bodyId": str(org.shg), "address": address(3), "role": "STAKEHOLDER", "withdrawn": "0"},
    )
    await timelock.deliver(left)
    await timelock.deliver(joined)
    proposal = await timelock.open_review(org)
    assert (await timelock.review(proposal))["eligibleWeight"] == "2"


async def test_weight_changes_are_snapshotted_at_review_start(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1, 1])
    await timelock.deliver(
        membership_event(
            org,
            "membership",
            org.shg,
            "weight_changed",
            {"bodyId": str(org.shg), "address": address(1), "weight": "4"},
        )
    )
    proposal = await timelock.open_review(org, percent="50")
    review = await timelock.review(proposal)
    assert (review["eligibleWeight"], review["vetoThresholdWeight"]) == ("5", "3")


async def test_published_events_follow_the_documented_shape(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    await timelock.concern(1, proposal, "why?")
    await timelock.object(1, proposal, "no")
    events = await timelock.events()
    assert [e["data"]["sequence"] for e in events] == [1, 2, 3, 4]
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["data"]["organization"] == org.slug
        assert event["data"]["organizationId"] == str(org.id)
        assert event["data"]["proposalId"] == str(proposal)
        json.dumps(event)
    started = events[0]["data"]
    assert set(started) >= {
        "reviewingBodyId",
        "startsAt",
        "endsAt",
        "vetoThresholdPercent",
        "vetoThresholdWeight",
        "eligibleWeight",
    }
    assert set(events[1]["data"]) >= {"concernId", "raisedBy", "reason", "raisedAt", "endsAt"}
    assert set(events[2]["data"]) >= {
        "objector",
        "weight",
        "withdrawn",
        "objectionWeight",
        "vetoThresholdWeight",
    }
    assert set(events[3]["data"]) >= {"objectionWeight", "vetoThresholdWeight"}
