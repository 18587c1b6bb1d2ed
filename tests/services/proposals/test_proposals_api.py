"""Creating proposals over HTTP: eligibility from the projection, validation, limits, the voter snapshot."""

from __future__ import annotations

import asyncio

from .support import (
    CELL_CONTRIBUTOR,
    CELL_CORE,
    OUTSIDER,
    STAKEHOLDERS,
    TLC_CONTRIBUTOR,
    TLC_CORE,
    Org,
    address,
)


async def test_a_created_proposal_is_voting_with_its_module_and_snapshot(h):
    org = await h.found()
    created = await h.proposed(TLC_CONTRIBUTOR, org.tlc, "BUDGET")
    assert created["status"] == "VOTING"
    assert created["decidingBodyId"] == str(org.tlc)
    assert created["moduleKey"] == "BUDGET:TOP_LEVEL_CELL"
    assert created["moduleVersion"] == 1
    assert created["tally"] == {
        "for": "0",
        "against": "0",
        "abstain": "0",
        "eligible": "3",
        "quorumReached": False,
    }
    assert created["proposer"] == "0x000000000000000000000000000000000000000E"
    fetched = await h.proposal(created["id"])
    assert fetched == created


async def test_creation_records_history_and_the_created_event(h):
    org = await h.found()
    created = await h.proposed(CELL_CORE[0], org.cell)
    history = (await h.get(f"/v1/proposals/{created['id']}/history")).json()["items"]
    assert [e["status"] for e in history] == ["VOTING"]
    [event] = await h.outbox(created["id"], "proposal.created")
    assert event["data"]["sequence"] == 1
    assert event["subject"] == f"proposals/{created['id']}"
    assert event["data"]["votingEndsAt"] == created["votingEndsAt"].replace("+00:00", "Z")


async def test_a_cell_state_proposal_for_the_tlc_is_decided_by_the_shg(h):
    org = await h.found()
    action = {"setCellState": {"cellId": str(org.tlc), "purpose": "p", "strategy": "s", "agreements": ["a"]}}
    created = await h.proposed(TLC_CORE[0], org.tlc, "CELL_STATE", actions=[action])
    assert created["decidingBodyId"] == str(org.shg)
    assert created["tally"]["eligible"] == "3"


async def test_an_ineligible_proposer_is_forbidden(h):
    org = await h.found()
    response = await h.propose(CELL_CONTRIBUTOR, org.cell, "OPERATIONAL")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_an_anonymous_caller_is_unauthenticated(h):
    org = await h.found()
    response = await h.propose(None, org.cell)
    assert response.status_code == 401


async def test_community_proposals_need_the_organisation_to_enable_them(h):
    closed = await h.found()
    response = await h.propose(OUTSIDER, closed.shg, "COMMUNITY")
    assert (response.status_code, response.json()["error"]["field"]) == (422, "kind")
    opened = await h.found({"communityProposals": True})
    assert (await h.propose(OUTSIDER, opened.shg, "COMMUNITY")).status_code == 201


async def test_a_title_over_200_characters_is_invalid_input(h):
    org = await h.found()
    response = await h.propose(CELL_CORE[0], org.cell, title="x" * 201)
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "INVALID_INPUT",
        "message": "the title is longer than 200 characters",
        "field": "title",
    }


async def test_a_description_over_20000_characters_is_invalid_input(h):
    org = await h.found()
    response = await h.propose(CELL_CORE[0], org.cell, description="x" * 20_001)
    assert (response.status_code, response.json()["error"]["field"]) == (422, "description")


async def test_more_than_50_actions_are_invalid_input(h):
    org = await h.found()
    action = {"removeMember": {"bodyId": str(org.cell), "address": CELL_CONTRIBUTOR}}
    response = await h.propose(CELL_CORE[0], org.cell, actions=[action] * 51)
    assert (response.status_code, response.json()["error"]["field"]) == (422, "actions")


async def test_an_unknown_kind_is_invalid_input(h):
    org = await h.found()
    response = await h.propose(CELL_CORE[0], org.cell, "NOPE")
    assert (response.status_code, response.json()["error"]["field"]) == (422, "kind")


async def test_adding_a_tenth_core_member_is_core_team_full(h):
    org = await h.found()
    for n in range(30, 36):
        await h.deliver(org.joined(org.cell, address(n), "CORE_TEAM"))
    action = {"addMember": {"bodyId": str(org.cell), "address": address(77), "role": "CORE_TEAM"}}
    response = await h.propose(CELL_CORE[0], org.cell, actions=[action])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CORE_TEAM_FULL"


async def test_a_budget_is_checked_against_committed_minus_allocated_funds(h):
    org = await h.found()
    await h.deliver(
        org.membership(
            "funds",
            org.id,
            "committed",
            {"address": STAKEHOLDERS[0], "cycle": 0, "amount": "1000", "status": "COMMITTED"},
        )
    )
    await h.deliver(
        org.membership(
            "funds",
            org.id,
            "budget_allocated",
            {"cellId": str(org.cell), "cycle": 0, "amount": "400", "proposalId": None},
        )
    )

    def budget(amount: str) -> list:
        return [{"allocateBudget": {"cellId": str(org.cell), "cycle": 0, "amount": amount}}]

    too_much = await h.propose(TLC_CORE[0], org.tlc, "BUDGET", actions=budget("600.01"))
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert (await h.propose(TLC_CORE[0], org.tlc, "BUDGET", actions=budget("600"))).status_code == 201


async def test_an_unknown_body_is_not_found_after_waiting_for_the_projection(h):
    org = Org()
    started = asyncio.get_running_loop().time()
    response = await h.propose(CELL_CORE[0], org.cell)
    assert response.status_code == 404
    assert asyncio.get_running_loop().time() - started >= h.settings.projection_wait_seconds


async def test_a_proposal_right_after_the_organisation_is_created_waits_for_its_events(h):
    org = Org()

    async def membership_catches_up() -> None:
        await asyncio.sleep(0.3)
        await h.publish(*org.founding_events())

    publishing = asyncio.create_task(membership_catches_up())
    response = await h.propose(TLC_CORE[0], org.tlc, "OPERATIONAL")
    await publishing
    assert response.status_code == 201, response.text
    assert response.json()["tally"]["eligible"] == "3"


async def test_a_budget_right_after_funds_are_committed_waits_for_the_commitment(h):
    org = await h.found()
    committed = org.membership(
        "funds",
        org.id,
        "committed",
        {"address": STAKEHOLDERS[0], "cycle": 0, "amount": "50", "status": "COMMITTED"},
    )

    async def membership_catches_up() -> None:
        await asyncio.sleep(0.3)
        await h.publish(committed)

    publishing = asyncio.create_task(membership_catches_up())
    budget = [{"allocateBudget": {"cellId": str(org.cell), "cycle": 0, "amount": "50"}}]
    response = await h.propose(TLC_CORE[0], org.tlc, "BUDGET", actions=budget)
    await publishing
    assert response.status_code == 201, response.text
