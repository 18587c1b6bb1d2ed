"""Enacted proposals' actions: applied from `proposal.enactment_requested`, all or nothing, once."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from kit.testing import eventually, fetch_events
from tests.services.membership.factories import (
    commit,
    create_org,
    enactment_request,
    get_body,
    members,
    new_address,
    treasury,
)


async def test_a_new_cell_with_its_core_team_is_created_under_its_parent(env):
    org = await create_org(env)
    core = [new_address(), new_address()]
    request, outcome = await env.enact(
        org,
        [
            {
                "createCell": {
                    "parentId": org["topLevelCellId"],
                    "name": "Research",
                    "purpose": "Find out what works",
                    "coreTeam": [{"address": a, "displayName": "R"} for a in core],
                }
            }
        ],
    )
    assert outcome["type"] == "governance.organization.actions_applied.v1"
    (cell_id,) = outcome["data"]["createdBodyIds"]
    cell = await get_body(env, cell_id)
    assert (cell["name"], cell["parentId"], cell["isTopLevel"]) == ("Research", org["topLevelCellId"], False)
    assert cell["cellState"]["status"] == "DRAFT"
    assert (await get_body(env, org["topLevelCellId"]))["childIds"] == [cell_id]
    assert {a: m["role"] for a, m in (await members(env, cell_id)).items()} == dict.fromkeys(
        core, "CORE_TEAM"
    )
    created = (await env.events(org["slug"], "body.created"))[-1]["data"]
    assert (created["bodyId"], created["proposalId"]) == (cell_id, request.data["proposalId"])


async def test_cells_nest_to_any_depth(env):
    org = await create_org(env)
    parent = org["topLevelCellId"]
    for depth in range(4):
        _, outcome = await env.enact(
            org,
            [{"createCell": {"parentId": parent, "name": f"Level {depth}", "purpose": "p", "coreTeam": []}}],
        )
        parent = outcome["data"]["createdBodyIds"][0]
    assert (await get_body(env, parent))["name"] == "Level 3"


async def test_an_approved_cell_state_records_its_time_and_proposal(env):
    org = await create_org(env)
    request, outcome = await env.enact(
        org,
        [
            {
                "setCellState": {
                    "cellId": org["topLevelCellId"],
                    "purpose": "Steward the commons",
                    "strategy": "Small autonomous cells",
                    "agreements": ["Quarterly report", "Open books"],
                }
            }
        ],
    )
    assert outcome["type"].endswith("actions_applied.v1")
    state = (await get_body(env, org["topLevelCellId"]))["cellState"]
    assert state["status"] == "APPROVED"
    assert state["proposalId"] == request.data["proposalId"]
    assert state["agreements"] == ["Quarterly report", "Open books"]
    assert state["approvedAt"] is not None
    event = (await env.events(org["slug"], "body.cell_state_set"))[0]["data"]
    assert (event["status"], event["proposalId"]) == ("APPROVED", request.data["proposalId"])


async def test_members_are_added_and_removed_with_the_proposal_on_record(env):
    org = await create_org(env)
    contributor, stakeholder = new_address(), new_address()
    _, outcome = await env.enact(
        org,
        [
            {
                "addMember": {
                    "bodyId": org["topLevelCellId"],
                    "address": contributor.lower(),
                    "role": "CONTRIBUTOR",
                }
            },
            {
                "addMember": {
                    "bodyId": org["stakeholderGroupId"],
                    "address": stakeholder,
                    "role": "STAKEHOLDER",
                }
            },
        ],
    )
    assert outcome["type"].endswith("actions_applied.v1")
    assert (await members(env, org["topLevelCellId"]))[contributor]["weight"] == "0"
    joined = [
        e["data"] for e in await env.events(org["slug"], "membership.joined") if e["data"]["proposalId"]
    ]
    assert [(j["address"], j["role"], j["weight"]) for j in joined] == [
        (contributor, "CONTRIBUTOR", "0"),
        (stakeholder, "STAKEHOLDER", "1"),
    ]
    remove, _ = await env.enact(
        org, [{"removeMember": {"bodyId": org["topLevelCellId"], "address": contributor}}]
    )
    assert contributor not in await members(env, org["topLevelCellId"])
    left = (await env.events(org["slug"], "membership.left"))[-1]["data"]
    assert (left["address"], left["proposalId"]) == (contributor, remove.data["proposalId"])


async def test_a_role_that_does_not_fit_the_body_rejects_the_proposal(env):
    org = await create_org(env)
    _, outcome = await env.enact(
        org,
        [{"addMember": {"bodyId": org["stakeholderGroupId"], "address": new_address(), "role": "CORE_TEAM"}}],
    )
    assert outcome["type"].endswith("actions_rejected.v1")
    assert outcome["data"]["code"] == "INVALID_INPUT"


async def test_a_budget_is_allocated_from_committed_funds(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    await commit(env, stakeholder, org["slug"], 0, "1000")
    request, outcome = await env.enact(
        org, [{"allocateBudget": {"cellId": org["topLevelCellId"], "cycle": 0, "amount": "600.5"}}]
    )
    assert outcome["type"].endswith("actions_applied.v1")
    t = await treasury(env, org["slug"])
    assert (t["committed"], t["allocated"], t["available"]) == ("1000", "600.5", "399.5")
    allocated = (await env.events(org["slug"], "funds.budget_allocated"))[0]["data"]
    assert allocated == allocated | {
        "cellId": org["topLevelCellId"],
        "cycle": 0,
        "amount": "600.5",
        "proposalId": request.data["proposalId"],
    }


async def test_budgets_never_exceed_a_cycles_committed_funds(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    await commit(env, stakeholder, org["slug"], 0, "100")
    await env.enact(org, [{"allocateBudget": {"cellId": org["topLevelCellId"], "cycle": 0, "amount": "70"}}])
    _, outcome = await env.enact(
        org, [{"allocateBudget": {"cellId": org["topLevelCellId"], "cycle": 0, "amount": "30.01"}}]
    )
    assert outcome["type"].endswith("actions_rejected.v1")
    assert outcome["data"]["code"] == "INSUFFICIENT_FUNDS"
    assert (await treasury(env, org["slug"]))["allocated"] == "70"


async def test_pledges_to_a_cycle_not_yet_started_cannot_be_budgeted(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    await commit(env, stakeholder, org["slug"], 1, "100")
    _, outcome = await env.enact(
        org, [{"allocateBudget": {"cellId": org["topLevelCellId"], "cycle": 1, "amount": "1"}}]
    )
    assert outcome["data"]["code"] == "INSUFFICIENT_FUNDS"


async def test_an_action_that_no_longer_applies_rejects_the_whole_set_and_changes_nothing(env):
    org = await create_org(env, core_team=[new_address() for _ in range(9)])
    before = await env.events(org["slug"])
    _, outcome = await env.enact(
        org,
        [
            {
                "createCell": {
                    "parentId": org["topLevelCellId"],
                    "name": "Ops",
                    "purpose": "p",
                    "coreTeam": [],
                }
            },
            {
                "setCellState": {
                    "cellId": org["topLevelCellId"],
                    "purpose": "p",
                    "strategy": "s",
                    "agreements": [],
                }
            },
            {"addMember": {"bodyId": org["topLevelCellId"], "address": new_address(), "role": "CORE_TEAM"}},
        ],
    )
    assert outcome["type"] == "governance.organization.actions_rejected.v1"
    assert outcome["data"]["code"] == "CORE_TEAM_FULL"
    assert "9" in outcome["data"]["reason"]
    tlc = await get_body(env, org["topLevelCellId"])
    assert tlc["childIds"] == []
    assert tlc["cellState"]["status"] == "DRAFT"
    assert len(await members(env, org["topLevelCellId"])) == 9
    after = await env.events(org["slug"])
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["governance.organization.actions_rejected.v1"]


async def test_a_duplicated_enactment_request_changes_state_once(env):
    org = await create_org(env)
    newcomer = new_address()
    request = enactment_request(
        org,
        [{"addMember": {"bodyId": org["topLevelCellId"], "address": newcomer, "role": "CONTRIBUTOR"}}],
        uuid.uuid4(),
    )
    assert await env.deliver(request) is True
    assert await env.deliver(request) is False
    assert newcomer in await members(env, org["topLevelCellId"])
    assert len(await env.events(org["slug"], "membership.joined")) == 3
    assert len(await env.events(org["slug"], "organization.actions_applied")) == 1


async def test_a_repeated_request_for_an_applied_proposal_repeats_the_outcome_without_reapplying(env):
    org = await create_org(env)
    proposal = uuid.uuid4()
    actions = [
        {"createCell": {"parentId": org["topLevelCellId"], "name": "Once", "purpose": "p", "coreTeam": []}}
    ]
    await env.deliver(enactment_request(org, actions, proposal))
    # the same proposal asked again under a new event id (e.g. a re-fired enactment)
    assert await env.deliver(enactment_request(org, actions, proposal)) is True
    assert len((await get_body(env, org["topLevelCellId"]))["childIds"]) == 1
    outcomes = [o["data"] for o in await env.events(org["slug"], "organization.actions_applied")]
    assert [o["proposalId"] for o in outcomes] == [str(proposal)] * 2
    assert outcomes[0]["createdBodyIds"] == outcomes[1]["createdBodyIds"] != []


async def test_an_enactment_request_on_nats_is_applied_and_answered_on_nats(env):
    org = await create_org(env)
    request = enactment_request(
        org,
        [{"createCell": {"parentId": org["topLevelCellId"], "name": "Wire", "purpose": "p", "coreTeam": []}}],
        uuid.uuid4(),
    )
    prefix = env.settings.events_subject_prefix
    js = env.app.state.runtime.messaging.js
    await js.publish(request.nats_subject(prefix), request.to_json(), headers={"Nats-Msg-Id": request.id})

    async def answered():
        found = await fetch_events(
            env.settings.nats_url,
            env.settings.events_stream,
            f"{prefix}.{org['slug']}.organization.actions_applied",
            wait_seconds=0.2,
        )
        return [e for e in found if e.data["proposalId"] == request.data["proposalId"]]

    (answer,) = await eventually(answered, within=15)
    assert answer.source == "/services/membership"
    assert answer.data["sequence"] >= 2
    async with env.db.session() as s:
        inbox = await s.scalar(text("SELECT count(*) FROM kit_inbox WHERE event_id = :e"), {"e": request.id})
    assert inbox == 1


async def test_a_contributor_is_promoted_by_removing_and_adding_in_one_proposal(env):
    person = new_address()
    org = await create_org(env)
    await env.enact(
        org, [{"addMember": {"bodyId": org["topLevelCellId"], "address": person, "role": "CONTRIBUTOR"}}]
    )
    _, again = await env.enact(
        org, [{"addMember": {"bodyId": org["topLevelCellId"], "address": person, "role": "CORE_TEAM"}}]
    )
    assert again["data"]["code"] == "CONFLICT"
    _, outcome = await env.enact(
        org,
        [
            {"removeMember": {"bodyId": org["topLevelCellId"], "address": person}},
            {"addMember": {"bodyId": org["topLevelCellId"], "address": person, "role": "CORE_TEAM"}},
        ],
    )
    assert outcome["type"].endswith("actions_applied.v1")
    assert (await members(env, org["topLevelCellId"]))[person]["role"] == "CORE_TEAM"


async def test_actions_on_another_organisations_bodies_are_rejected(env):
    mine, theirs = await create_org(env), await create_org(env)
    _, outcome = await env.enact(
        mine,
        [
            {
                "addMember": {
                    "bodyId": theirs["topLevelCellId"],
                    "address": new_address(),
                    "role": "CONTRIBUTOR",
                }
            }
        ],
    )
    assert outcome["data"]["code"] == "NOT_FOUND"
    assert len(await members(env, theirs["topLevelCellId"])) == 1
