"""After the vote: optimistic review, delays and enactment, driven by other services' events."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from kit.testing import eventually, fetch_events

from .support import CELL_CONTRIBUTOR, CELL_CORE, STAKEHOLDERS, TLC_CORE, address


async def _passed_tlc_proposal(h, org, **kwargs) -> dict:
    p = await h.proposed(TLC_CORE[0], org.tlc, **kwargs)
    await h.votes(p["id"], TLC_CORE[:2])
    return p


async def _status(h, proposal_id: str, status: str) -> dict | None:
    p = await h.proposal(proposal_id)
    return p if p["status"] == status else None


async def test_a_passed_tlc_proposal_goes_to_review_and_is_enacted_when_approved_over_nats(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    assert (await h.proposal(p["id"]))["status"] == "IN_REVIEW"

    published = await eventually(
        lambda: _published(h, f"{h.settings.events_subject_prefix}.{org.slug}.proposal.voting_closed"),
        within=10,
    )
    closed = published[0].data
    assert (closed["outcome"], closed["next"], closed["status"]) == ("PASSED", "REVIEW", "IN_REVIEW")
    assert closed["review"] == {
        "reviewingBodyId": str(org.shg),
        "windowSeconds": 604_800,
        "vetoThresholdPercent": 33,
        "concernExtensionSeconds": 259_200,
        "delaySeconds": 0,
        "gracePeriodSeconds": 1_209_600,
    }

    review_id = str(uuid.uuid4())
    await h.publish(
        org.timelock(
            p["id"],
            "review.started",
            {"endsAt": "2030-01-20T00:00:00Z", "vetoThresholdWeight": "1", "vetoThresholdPercent": "33"},
            review_id,
        )
    )
    [mirrored] = await eventually(lambda: h.outbox(p["id"], "proposal.review_started"), within=10)
    assert mirrored["data"]["reviewId"] == review_id
    await h.publish(
        org.timelock(p["id"], "review.approved", {"objectionWeight": "0", "delaySeconds": 0}, review_id)
    )
    enacted = await eventually(lambda: _status(h, p["id"], "ENACTED"), within=10)
    assert enacted["reviewId"] == review_id


async def _published(h, subject: str) -> list:
    return await fetch_events(h.settings.nats_url, h.settings.events_stream, subject, wait_seconds=0.2)


async def test_concerns_and_objections_are_mirrored_as_proposal_events(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    await h.deliver(
        org.timelock(
            p["id"], "review.started", {"endsAt": "2030-01-20T00:00:00Z", "vetoThresholdWeight": "1"}
        )
    )
    await h.deliver(
        org.timelock(
            p["id"],
            "review.concern_raised",
            {
                "concernId": str(uuid.uuid4()),
                "raisedBy": STAKEHOLDERS[0],
                "reason": "why?",
                "endsAt": "2030-01-22T00:00:00Z",
            },
        )
    )
    await h.deliver(
        org.timelock(
            p["id"],
            "review.objection_recorded",
            {
                "objector": STAKEHOLDERS[1],
                "weight": "1",
                "withdrawn": False,
                "objectionWeight": "1",
                "vetoThresholdWeight": "1",
            },
        )
    )
    names = [e["type"] for e in await h.outbox(p["id"], "")]
    assert names[-3:] == [
        "governance.proposal.review_started.v1",
        "governance.proposal.concern_raised.v1",
        "governance.proposal.objection_recorded.v1",
    ]
    assert (await h.proposal(p["id"]))["reviewEndsAt"].startswith("2030-01-22")


async def test_duplicate_verdict_events_change_the_state_once(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    blocked = org.timelock(p["id"], "review.blocked", {"objectionWeight": "2", "vetoThresholdWeight": "1"})
    assert await h.deliver(blocked)
    assert not await h.deliver(blocked)  # the same event id again: the inbox skips it
    again = org.timelock(p["id"], "review.blocked", {"objectionWeight": "2", "vetoThresholdWeight": "1"})
    assert await h.deliver(again)  # a duplicate with a new id: the state machine ignores it
    history = (await h.get(f"/v1/proposals/{p['id']}/history")).json()["items"]
    assert [e["status"] for e in history] == ["VOTING", "IN_REVIEW", "BLOCKED"]
    assert len(await h.outbox(p["id"], "proposal.blocked")) == 1


async def test_a_verdict_for_a_cancelled_proposal_is_ignored(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    async with h.as_actor(TLC_CORE[0]) as c:
        assert (await c.post(f"/v1/proposals/{p['id']}/cancel")).status_code == 200
    await h.deliver(org.timelock(p["id"], "review.approved", {"objectionWeight": "0", "delaySeconds": 0}))
    assert (await h.proposal(p["id"]))["status"] == "CANCELLED"


async def test_an_approval_with_a_delay_is_queued_then_enacted_when_ready(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    await h.deliver(org.timelock(p["id"], "review.approved", {"objectionWeight": "0", "delaySeconds": 60}))
    assert (await h.proposal(p["id"]))["status"] == "IN_REVIEW"
    await h.deliver(
        org.timelock(p["id"], "operation.queued", {"enactAfter": "2030-02-01T00:00:00Z", "expiresAt": None})
    )
    queued = await h.proposal(p["id"])
    assert (queued["status"], queued["enactAfter"][:10]) == ("QUEUED", "2030-02-01")
    await h.deliver(org.timelock(p["id"], "operation.ready", {"expiresAt": None}))
    assert (await h.proposal(p["id"]))["status"] == "ENACTED"


async def test_an_expired_operation_fails_the_proposal(h):
    org = await h.found()
    p = await _passed_tlc_proposal(h, org)
    await h.deliver(org.timelock(p["id"], "operation.queued", {"enactAfter": "2030-02-01T00:00:00Z"}))
    await h.deliver(org.timelock(p["id"], "operation.expired", {"reason": "not enacted within 60 s"}))
    failed = await h.proposal(p["id"])
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "not enacted within 60 s")


async def test_membership_actions_are_requested_over_nats_and_enacted_when_applied(h):
    org = await h.found()
    newcomer = address(70)
    action = {"addMember": {"bodyId": str(org.cell), "address": newcomer, "role": "CONTRIBUTOR"}}
    p = await h.proposed(CELL_CORE[0], org.cell, actions=[action])
    queued = await h.votes(p["id"], CELL_CORE[:2])
    assert queued["status"] == "QUEUED"

    [request] = await eventually(
        lambda: _published(h, f"{h.settings.events_subject_prefix}.{org.slug}.proposal.enactment_requested"),
        within=10,
    )
    assert request.data["proposalId"] == p["id"]
    assert request.data["actions"] == [
        {
            "addMember": {
                "bodyId": str(org.cell),
                "address": "0x0000000000000000000000000000000000000046",
                "role": "CONTRIBUTOR",
            }
        }
    ]
    await h.publish(org.membership("organization", org.id, "actions_applied", {"proposalId": p["id"]}))
    enacted = await eventually(lambda: _status(h, p["id"], "ENACTED"), within=10)
    assert enacted["actions"] == request.data["actions"]


async def test_rejected_actions_fail_the_proposal_with_the_reason(h):
    org = await h.found()
    action = {"removeMember": {"bodyId": str(org.cell), "address": CELL_CONTRIBUTOR}}
    p = await h.proposed(CELL_CORE[0], org.cell, actions=[action])
    await h.votes(p["id"], CELL_CORE[:2])
    await h.deliver(
        org.membership(
            "organization",
            org.id,
            "actions_rejected",
            {"proposalId": p["id"], "reason": "not a member", "code": "ALREADY_EXITED"},
        )
    )
    failed = await h.proposal(p["id"])
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "ALREADY_EXITED: not a member")


async def test_a_policy_proposal_waits_its_delay_then_changes_the_modules(h):
    org = await h.found({"policyDelaySeconds": 3600})
    before = await h.proposed(CELL_CORE[0], org.cell)
    update = {
        "updatePolicy": {
            "quorumPercent": 40,
            "modules": [{"key": "OPERATIONAL:CELL", "rule": "CONSENT", "quorumPercent": 0}],
        }
    }
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[update])
    queued = await h.votes(p["id"], STAKEHOLDERS[:2])  # two thirds: decided
    assert (queued["status"], queued["enactAfter"]) == ("QUEUED", None)
    [closed] = await h.outbox(p["id"], "proposal.voting_closed")
    assert (closed["data"]["next"], closed["data"]["review"]["delaySeconds"]) == ("DELAY", 3600)

    await h.deliver(org.timelock(p["id"], "operation.queued", {"enactAfter": "2030-01-01T02:00:00Z"}))
    assert (await h.proposal(p["id"]))["enactAfter"] is not None
    await h.deliver(org.timelock(p["id"], "operation.ready", {"expiresAt": None}))
    assert (await h.proposal(p["id"]))["status"] == "ENACTED"

    policy = (await h.get(f"/v1/organizations/{org.id}/policy")).json()
    assert policy["quorumPercent"] == 40
    modules = {m["key"]: m for m in policy["modules"]}
    assert (modules["OPERATIONAL:CELL"]["rule"], modules["OPERATIONAL:CELL"]["version"]) == ("CONSENT", 2)
    assert modules["STAKEHOLDER:STAKEHOLDER_GROUP"]["quorumPercent"] == 40
    assert modules["OPERATIONAL:TOP_LEVEL_CELL"]["version"] == 1
    changed = [e["data"]["moduleKey"] for e in await h.outbox(str(org.id), "policy.module_changed")]
    assert "OPERATIONAL:CELL" in changed

    # the earlier proposal keeps its module; a new one is decided by consent
    assert (await h.proposal(before["id"]))["moduleVersion"] == 1
    after = await h.proposed(CELL_CORE[0], org.cell)
    assert after["moduleVersion"] == 2
    objected = (await h.vote(CELL_CORE[1], after["id"], "AGAINST")).json()["proposal"]
    assert objected["status"] == "DEFEATED"


async def test_the_proposer_cancels_while_voting_and_the_deadline_is_withdrawn(h):
    org = await h.found()
    p = await h.proposed(CELL_CORE[0], org.cell)
    async with h.as_actor(CELL_CORE[1]) as c:
        other = await c.post(f"/v1/proposals/{p['id']}/cancel")
    assert (other.status_code, other.json()["error"]["code"]) == (403, "FORBIDDEN")
    async with h.as_actor(CELL_CORE[0]) as c:
        cancelled = (await c.post(f"/v1/proposals/{p['id']}/cancel")).json()
    assert (cancelled["status"], cancelled["cancelledBy"].lower()) == ("CANCELLED", CELL_CORE[0])
    async with h.runtime.db.session() as session:
        row = (
            await session.execute(
                text("SELECT cancelled_at FROM kit_deadlines WHERE key = :k"),
                {"k": f"proposals.voting:{p['id']}"},
            )
        ).scalar_one()
    assert row is not None
    [event] = await h.outbox(p["id"], "proposal.cancelled")
    assert event["data"]["cancelledBy"].lower() == CELL_CORE[0]


async def test_an_enacted_proposal_cannot_be_cancelled(h):
    org = await h.found()
    p = await h.proposed(CELL_CORE[0], org.cell)
    await h.votes(p["id"], CELL_CORE[:2])
    async with h.as_actor(CELL_CORE[0]) as c:
        response = await c.post(f"/v1/proposals/{p['id']}/cancel")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "CONFLICT")
