"""Non-binding polls (linked to proposals as evidence) and the decentralisation milestone graph."""

from __future__ import annotations

from datetime import timedelta

from .support import CELL_CORE, OUTSIDER, STAKEHOLDERS, TLC_CORE


def _in(h, seconds: int) -> str:
    return (h.clock.now() + timedelta(seconds=seconds)).isoformat()


async def _poll(h, org, actor: str = CELL_CORE[0], **extra) -> dict:
    body = {"question": "How long should reviews last?", "options": ["3 days", "7 days", "14 days"]}
    body |= {"closesAt": _in(h, 600), **extra}
    async with h.as_actor(actor) as c:
        r = await c.post(f"/v1/organizations/{org.id}/polls", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def _answer(h, actor: str, poll_id: str, choices: list):
    async with h.as_actor(actor) as c:
        return await c.post(f"/v1/polls/{poll_id}/answers", json={"choices": choices})


async def test_any_member_answers_a_poll_once_and_may_change_it(h):
    org = await h.found()
    poll = await _poll(h, org)
    await _answer(h, STAKEHOLDERS[0], poll["id"], [1])
    await _answer(h, TLC_CORE[0], poll["id"], [1])
    changed = (await _answer(h, STAKEHOLDERS[0], poll["id"], [2])).json()
    assert [r["count"] for r in changed["results"]] == [0, 1, 1]
    assert (changed["voterCount"], changed["myChoices"]) == (2, [2])


async def test_an_outsider_cannot_answer(h):
    org = await h.found()
    poll = await _poll(h, org)
    assert (await _answer(h, OUTSIDER, poll["id"], [0])).status_code == 403


async def test_a_body_poll_is_answered_by_that_body_only(h):
    org = await h.found()
    poll = await _poll(h, org, bodyId=str(org.shg))
    assert (await _answer(h, TLC_CORE[0], poll["id"], [0])).status_code == 403
    assert (await _answer(h, STAKEHOLDERS[0], poll["id"], [0])).status_code == 200


async def test_a_single_choice_poll_takes_one_choice(h):
    org = await h.found()
    poll = await _poll(h, org)
    assert (await _answer(h, STAKEHOLDERS[0], poll["id"], [0, 1])).status_code == 422
    multi = await _poll(h, org, multiple=True)
    assert (await _answer(h, STAKEHOLDERS[0], multi["id"], [0, 1])).status_code == 200


async def test_a_poll_closes_at_its_deadline_with_its_results(h):
    org = await h.found()
    poll = await _poll(h, org)
    await _answer(h, STAKEHOLDERS[0], poll["id"], [0])
    h.clock.advance(601)
    await h.settle()
    closed = (await h.get(f"/v1/polls/{poll['id']}")).json()
    assert closed["status"] == "CLOSED"
    late = await _answer(h, STAKEHOLDERS[1], poll["id"], [0])
    assert (late.status_code, late.json()["error"]["code"]) == (409, "VOTING_CLOSED")
    [event] = await h.outbox(poll["id"], "poll.closed")
    assert event["data"]["results"][0] == {"option": "3 days", "count": 1}


async def test_a_poll_linked_to_a_proposal_is_listed_with_it(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    linked = await _poll(h, org, proposalId=p["id"])
    later = await _poll(h, org, actor=TLC_CORE[0])
    async with h.as_actor(TLC_CORE[0]) as c:
        r = await c.post(f"/v1/polls/{later['id']}/link", json={"proposalId": p["id"]})
    assert r.status_code == 200, r.text
    found = (await h.get("/v1/polls", proposalIds=p["id"])).json()["items"]
    assert {x["id"] for x in found} == {linked["id"], later["id"]}


async def test_only_the_maker_links_a_poll(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    poll = await _poll(h, org)
    async with h.as_actor(STAKEHOLDERS[0]) as c:
        r = await c.post(f"/v1/polls/{poll['id']}/link", json={"proposalId": p["id"]})
    assert r.status_code == 403


# --- milestones -------------------------------------------------------------------------------------


async def _milestone(h, org, actor: str = STAKEHOLDERS[0], **body):
    async with h.as_actor(actor) as c:
        return await c.post(f"/v1/organizations/{org.id}/milestones", json=body)


def _by_title(graph: dict) -> dict:
    return {m["title"]: m for m in graph["milestones"]}


async def test_the_phase_advances_as_the_milestones_it_holds_are_done(h):
    org = await h.found({"policyDelaySeconds": 0})
    p = await h.proposed(CELL_CORE[0], org.cell)
    graph = (await _milestone(h, org, phase="A", title="Cells decide", proposalIds=[p["id"]])).json()
    a = _by_title(graph)["Cells decide"]
    graph = (
        await _milestone(
            h,
            org,
            phase="B",
            title="Review modules",
            dependsOn=[a["id"]],
            moduleKeys=["POLICY:STAKEHOLDER_GROUP"],
        )
    ).json()
    assert (graph["currentPhase"], _by_title(graph)["Review modules"]["status"]) == ("A", "WAITING")

    await h.votes(p["id"], CELL_CORE[:2])  # enacted at once
    graph = (await h.get(f"/v1/organizations/{org.id}/milestones")).json()
    assert _by_title(graph)["Cells decide"]["status"] == "DONE"
    assert (graph["currentPhase"], _by_title(graph)["Review modules"]["status"]) == ("B", "IN_PROGRESS")

    update = {"modules": [{"key": "POLICY:STAKEHOLDER_GROUP", "thresholdPercent": 75}]}
    policy = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    await h.votes(policy["id"], STAKEHOLDERS[:2])
    graph = (await h.get(f"/v1/organizations/{org.id}/milestones")).json()
    assert (graph["currentPhase"], graph["complete"]) == ("B", True)
    completed = [e["data"]["title"] for e in await h.outbox(type_suffix="milestone.completed")
                 if e["data"]["organizationId"] == str(org.id)]  # fmt: skip
    assert completed == ["Cells decide", "Review modules"]


async def test_a_dependency_closing_a_cycle_is_refused(h):
    org = await h.found()
    first = _by_title((await _milestone(h, org, phase="A", title="one")).json())["one"]
    second = _by_title((await _milestone(h, org, phase="A", title="two", dependsOn=[first["id"]])).json())[
        "two"
    ]
    async with h.as_actor(STAKEHOLDERS[0]) as c:
        r = await c.post(f"/v1/milestones/{first['id']}/links", json={"dependsOn": [second["id"]]})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "dependsOn")
    graph = (await h.get(f"/v1/organizations/{org.id}/milestones")).json()
    assert _by_title(graph)["one"]["dependsOn"] == []


async def test_milestones_are_set_by_those_who_may_propose_policy(h):
    org = await h.found()
    assert (await _milestone(h, org, actor=CELL_CORE[0], phase="A", title="x")).status_code == 403
    assert (await _milestone(h, org, actor=TLC_CORE[0], phase="A", title="x")).status_code == 201


async def test_a_maker_who_left_the_organisation_no_longer_links_their_poll(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    poll = await _poll(h, org, actor=TLC_CORE[2])
    await h.deliver(org.left(org.tlc, TLC_CORE[2], "CORE_TEAM"))
    async with h.as_actor(TLC_CORE[2]) as c:
        r = await c.post(f"/v1/polls/{poll['id']}/link", json={"proposalId": p["id"]})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (await h.get(f"/v1/polls/{poll['id']}")).json()["proposalId"] is None
