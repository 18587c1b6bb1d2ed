"""Reviewers acting through the HTTP API: objections, the veto threshold, concerns, who may take part."""

from __future__ import annotations

import uuid

from .support import DAY, WEEK, Harness, Org, address


async def test_objections_reaching_the_threshold_exactly_block_at_once(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)  # 33 % of 9 → 2.97 → threshold 3
    proposal = await timelock.open_review(org, percent="33")
    for n in (1, 2):
        assert (await timelock.object(n, proposal)).json()["status"] == "PENDING"
    third = await timelock.object(3, proposal, reason="outside our purpose")
    assert third.status_code == 200
    body = third.json()
    assert (body["status"], body["objectionWeight"], body["vetoThresholdWeight"]) == ("BLOCKED", "3", "3")
    blocked = await timelock.events("review.blocked")
    assert [e["data"]["proposalId"] for e in blocked] == [str(proposal)]
    late = await timelock.object(4, proposal)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "REVIEW_CLOSED")


async def test_objections_just_short_of_the_threshold_let_it_pass_at_the_deadline(
    timelock: Harness, org: Org
) -> None:
    await timelock.found_org(org, [1] * 10)  # 30 % of 10 → exactly 3
    proposal = await timelock.open_review(org, percent="30", delay=0)
    for n in (1, 2):
        await timelock.object(n, proposal)
    await timelock.advance(WEEK - 1)
    assert (await timelock.review(proposal))["status"] == "PENDING"
    await timelock.advance(1)
    review = await timelock.review(proposal)
    assert (review["status"], review["objectionWeight"], review["vetoThresholdWeight"]) == (
        "APPROVED",
        "2",
        "3",
    )
    approved = await timelock.events("review.approved")
    assert [(e["data"]["proposalId"], e["data"]["objectionWeight"]) for e in approved] == [
        (str(proposal), "2")
    ]
    assert await timelock.events("review.blocked") == []


async def test_objection_is_weighted_by_the_weight_at_review_start(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [6, 2, 2])  # 50 % of 10 → 5
    proposal = await timelock.open_review(org, percent="50")
    await timelock.join(org, 1, 1)  # a later weight change does not alter the snapshot
    body = (await timelock.object(1, proposal)).json()
    assert (body["status"], body["objectionWeight"], body["eligibleWeight"]) == ("BLOCKED", "6", "10")


async def test_repeated_objection_is_idempotent(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)
    proposal = await timelock.open_review(org)
    await timelock.object(1, proposal)
    again = await timelock.object(1, proposal, reason="again")
    assert (again.status_code, again.json()["objectionWeight"]) == (200, "1")
    assert len(await timelock.events("review.objection_recorded")) == 1


async def test_withdrawn_objection_stops_counting_before_the_deadline(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)  # threshold 3
    proposal = await timelock.open_review(org)
    await timelock.object(1, proposal)
    await timelock.object(2, proposal)
    withdrawn = await timelock.withdraw(1, proposal)
    assert (withdrawn.status_code, withdrawn.json()["objectionWeight"]) == (200, "1")
    assert (await timelock.object(3, proposal)).json()[
        "status"
    ] == "PENDING"  # 2 < 3 thanks to the withdrawal
    recorded = await timelock.events("review.objection_recorded")
    assert [(e["data"]["withdrawn"], e["data"]["objectionWeight"]) for e in recorded] == [
        (False, "1"),
        (False, "2"),
        (True, "1"),
        (False, "2"),
    ]
    await timelock.advance(WEEK)
    assert (await timelock.review(proposal))["status"] == "APPROVED"


async def test_objection_cannot_be_withdrawn_after_the_deadline(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)
    proposal = await timelock.open_review(org)
    await timelock.object(1, proposal)
    await timelock.advance(WEEK)
    late = await timelock.withdraw(1, proposal)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "REVIEW_CLOSED")


async def test_first_concern_extends_the_deadline_once(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)
    proposal = await timelock.open_review(org, window=WEEK, extension=2 * DAY)
    original = (await timelock.review(proposal))["endsAt"]
    await timelock.advance(6 * DAY)
    first = await timelock.concern(1, proposal, "this spends next cycle's budget")
    assert first.status_code == 200, first.text
    extended_to = first.json()["review"]["endsAt"]
    assert extended_to == "2030-01-10T00:00:00Z"
    assert original == "2030-01-08T00:00:00Z"
    await timelock.advance(3600)
    second = await timelock.concern(2, proposal, "agreed, and the timing")
    assert second.json()["review"]["endsAt"] == extended_to
    await timelock.advance(DAY - 3600)  # the original deadline passes: still open
    assert (await timelock.review(proposal))["status"] == "PENDING"
    await timelock.advance(2 * DAY)
    review = await timelock.review(proposal)
    assert (review["status"], review["extended"]) == ("APPROVED", True)
    assert [(c["raisedBy"], c["reason"]) for c in review["concerns"]] == [
        (address(1), "this spends next cycle's budget"),
        (address(2), "agreed, and the timing"),
    ]
    raised = await timelock.events("review.concern_raised")
    assert [e["data"]["endsAt"] for e in raised] == [extended_to, extended_to]
    assert [e["data"]["raisedBy"] for e in raised] == [address(1), address(2)]


async def test_concern_needs_a_reason(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    refused = await timelock.concern(1, proposal, "  ")
    assert (refused.status_code, refused.json()["error"]) == (
        422,
        {"code": "INVALID_INPUT", "message": "a reason is required", "field": "reason"},
    )


async def test_exited_member_is_refused(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 9)
    proposal = await timelock.open_review(org)
    await timelock.leave(org, 4)
    refused = await timelock.object(4, proposal)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")
    concern = await timelock.concern(4, proposal, "on my way out")
    assert concern.status_code == 403
    assert (await timelock.review(proposal))["eligibleWeight"] == "9"  # the snapshot is kept


async def test_member_who_joined_after_review_start_is_refused(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    await timelock.join(org, 10)
    refused = await timelock.object(10, proposal)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")


async def test_outsider_is_forbidden(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    refused = await timelock.object(99, proposal)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")


async def test_anonymous_caller_must_sign_in(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    proposal = await timelock.open_review(org)
    async with timelock.as_member(None) as anonymous:
        refused = await anonymous.post(f"/v1/reviews/by-proposal/{proposal}/objections", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "UNAUTHENTICATED")


async def test_calls_without_the_gateway_identity_are_rejected(timelock: Harness) -> None:
    response = await timelock.client.get("/v1/reviews", params={"proposalIds": str(uuid.uuid4())})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "UNAUTHENTICATED")


async def test_unknown_proposal_has_no_review(timelock: Harness) -> None:
    async with timelock.as_member(1) as c:
        missing = await c.get(f"/v1/reviews/by-proposal/{uuid.uuid4()}")
        objection = await c.post(f"/v1/reviews/by-proposal/{uuid.uuid4()}/objections", json={})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert objection.status_code == 404


async def test_reviews_are_read_in_batches_by_proposal_ids(timelock: Harness, org: Org) -> None:
    await timelock.found_org(org, [1] * 3)
    first = await timelock.open_review(org)
    second = await timelock.open_review(org)
    async with timelock.as_member(None) as c:
        response = await c.get(
            "/v1/reviews",
            params=[
                ("proposalIds", f"{first},{uuid.uuid4()}"),
                ("proposalIds", str(second)),
                ("proposalIds", "x"),
            ],
        )
    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["proposalId"] for i in items} == {str(first), str(second)}
    assert set(items[0]) >= {
        "id",
        "proposalId",
        "status",
        "startsAt",
        "endsAt",
        "extended",
        "objectionWeight",
        "vetoThresholdWeight",
        "vetoThresholdPercent",
        "eligibleWeight",
        "concerns",
        "operation",
    }
