"""Appeals (a blocked proposal submitted again once, reviewed with a higher veto threshold) and a
commission's feedback on a draft before voting opens."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from .support import STAKEHOLDERS, TLC_CORE, address

COMMISSIONERS = [address(n) for n in (41, 42)]


async def _blocked(h, org) -> dict:
    p = await h.proposed(TLC_CORE[0], org.tlc, title="Hire an agency")
    await h.votes(p["id"], TLC_CORE[:2])
    await h.deliver(org.timelock(p["id"], "review.blocked", {"objectionWeight": "1"}))
    assert (await h.proposal(p["id"]))["status"] == "BLOCKED"
    return p


async def _appeal(h, actor: str, proposal_id: str, **body):
    async with h.as_actor(actor) as c:
        return await c.post(f"/v1/proposals/{proposal_id}/appeal", json=body)


async def test_an_appeal_is_reviewed_with_the_higher_appeal_threshold(h):
    org = await h.found({"vetoThresholdPercent": 30})
    blocked = await _blocked(h, org)
    r = await _appeal(h, TLC_CORE[1], blocked["id"])
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert (appeal["appealOf"], appeal["title"]) == (blocked["id"], "Appeal: Hire an agency")
    assert appeal["vetoThresholdPercent"] == 60
    await h.votes(appeal["id"], TLC_CORE[:2])
    [closed] = await h.outbox(appeal["id"], "proposal.voting_closed")
    assert closed["data"]["review"]["vetoThresholdPercent"] == 60
    assert (await h.proposal(blocked["id"]))["appealedBy"] == appeal["id"]
    [appealed] = await h.outbox(blocked["id"], "proposal.appealed")
    assert appealed["data"]["appealId"] == appeal["id"]


async def test_a_blocked_proposal_is_appealed_only_once(h):
    org = await h.found()
    blocked = await _blocked(h, org)
    assert (await _appeal(h, TLC_CORE[0], blocked["id"])).status_code == 201
    again = await _appeal(h, TLC_CORE[0], blocked["id"])
    assert (again.status_code, again.json()["error"]["code"]) == (409, "CONFLICT")


async def test_an_appeal_cannot_be_appealed(h):
    org = await h.found()
    blocked = await _blocked(h, org)
    appeal = (await _appeal(h, TLC_CORE[0], blocked["id"])).json()
    await h.votes(appeal["id"], TLC_CORE[:2])
    await h.deliver(org.timelock(appeal["id"], "review.blocked", {"objectionWeight": "3"}))
    assert (await _appeal(h, TLC_CORE[0], appeal["id"])).status_code == 409


async def test_only_a_blocked_proposal_can_be_appealed(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    assert (await _appeal(h, TLC_CORE[0], p["id"])).status_code == 409


async def test_an_appeal_is_made_by_someone_who_may_propose_it(h):
    org = await h.found()
    blocked = await _blocked(h, org)
    assert (await _appeal(h, STAKEHOLDERS[0], blocked["id"])).status_code == 403
    assert (await h.proposal(blocked["id"]))["appealedBy"] is None


async def test_the_appeal_threshold_is_a_module_setting(h):
    org = await h.found({"policyDelaySeconds": 0})
    update = {"modules": [{"key": "OPERATIONAL:TOP_LEVEL_CELL", "appealVetoThresholdPercent": 90}]}
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert (await h.votes(p["id"], STAKEHOLDERS[:2]))["status"] == "ENACTED"
    blocked = await _blocked(h, org)
    assert (await _appeal(h, TLC_CORE[0], blocked["id"])).json()["vetoThresholdPercent"] == 90


# --- feedback ---------------------------------------------------------------------------------------


async def _with_commission(h, *, public: bool) -> tuple:
    org = await h.found({"policyDelaySeconds": 0})
    commission = uuid.uuid4()
    await h.deliver(org.body(commission, "COMMISSION"))
    for who in COMMISSIONERS:
        await h.deliver(org.joined(commission, who, "COMMISSIONER", 0))
    update = {
        "modules": [
            {
                "key": "OPERATIONAL:TOP_LEVEL_CELL",
                "feedbackCommissionId": str(commission),
                "feedbackWindowSeconds": 300,
                "feedbackPublic": public,
            }
        ]
    }
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert (await h.votes(p["id"], STAKEHOLDERS[:2]))["status"] == "ENACTED"
    return org, commission


async def _feedback(h, actor: str, proposal_id: str, text: str):
    async with h.as_actor(actor) as c:
        return await c.post(f"/v1/proposals/{proposal_id}/feedback", json={"text": text})


async def test_voting_opens_only_after_the_commissions_feedback_window(h):
    org, _ = await _with_commission(h, public=False)
    p = await h.proposed(TLC_CORE[0], org.tlc)
    assert p["status"] == "VOTING"
    starts = datetime.fromisoformat(p["votingStartsAt"])
    assert starts == datetime.fromisoformat(p["createdAt"]) + timedelta(seconds=300)
    early = await h.vote(TLC_CORE[0], p["id"], "FOR")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "VOTING_CLOSED")
    assert (await _feedback(h, COMMISSIONERS[0], p["id"], "Say who pays")).status_code == 201

    h.advance_to(starts + timedelta(seconds=1))
    await h.settle()
    opened = await h.proposal(p["id"])
    assert opened["tally"]["eligible"] == "3"
    assert (await h.vote(TLC_CORE[0], p["id"], "FOR")).status_code == 200
    assert (await _feedback(h, COMMISSIONERS[0], p["id"], "too late")).status_code == 409
    [event] = await h.outbox(p["id"], "proposal.voting_opened")
    assert event["data"]["voterCount"] == 3


async def test_only_commission_members_give_feedback(h):
    org, _ = await _with_commission(h, public=False)
    p = await h.proposed(TLC_CORE[0], org.tlc)
    r = await _feedback(h, TLC_CORE[1], p["id"], "me too")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")


async def test_private_feedback_is_read_by_the_commission_only(h):
    org, _ = await _with_commission(h, public=False)
    p = await h.proposed(TLC_CORE[0], org.tlc)
    await _feedback(h, COMMISSIONERS[0], p["id"], "Say who pays")
    mine = await h.get(f"/v1/proposals/{p['id']}/feedback", COMMISSIONERS[1])
    assert [f["text"] for f in mine.json()["items"]] == ["Say who pays"]
    assert (await h.get(f"/v1/proposals/{p['id']}/feedback", TLC_CORE[0])).status_code == 403
    [event] = await h.outbox(p["id"], "proposal.feedback_given")
    assert event["data"]["text"] is None


async def test_public_feedback_is_read_only_to_everyone(h):
    org, _ = await _with_commission(h, public=True)
    p = await h.proposed(TLC_CORE[0], org.tlc)
    await _feedback(h, COMMISSIONERS[0], p["id"], "Say who pays")
    anyone = await h.get(f"/v1/proposals/{p['id']}/feedback", None)
    assert [f["text"] for f in anyone.json()["items"]] == ["Say who pays"]
    [event] = await h.outbox(p["id"], "proposal.feedback_given")
    assert event["data"]["text"] == "Say who pays"


async def test_feedback_naming_something_that_is_not_a_commission_is_refused(h):
    org = await h.found({"policyDelaySeconds": 0})
    update = {"modules": [{"key": "OPERATIONAL:TOP_LEVEL_CELL", "feedbackCommissionId": str(org.cell)}]}
    r = await h.propose(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert r.status_code == 404


async def test_no_proposal_is_raised_in_a_commission(h):
    _, commission = await _with_commission(h, public=False)
    r = await h.propose(COMMISSIONERS[0], commission, "OPERATIONAL")
    assert r.status_code == 422
