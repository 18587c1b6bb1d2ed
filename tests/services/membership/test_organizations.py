"""Organisations are created whole (SHG, TLC, first members, policy) and read back."""

from __future__ import annotations

from eth_account import Account

from services.membership.domain import DEFAULT_POLICY
from tests.services.membership.factories import create_org, new_address, new_slug


async def test_an_organisation_is_created_with_its_stakeholder_group_and_top_level_cell(env):
    stakeholder, core = new_address(), new_address()
    org = await create_org(env, stakeholders=[stakeholder], core_team=[core])
    async with env.as_actor(None) as c:
        fetched = (await c.get(f"/v1/organizations/{org['slug']}")).json()
        bodies = (
            await c.get("/v1/bodies", params={"ids": f"{org['stakeholderGroupId']},{org['topLevelCellId']}"})
        ).json()
    assert fetched == org
    assert fetched["policy"] == dict(DEFAULT_POLICY)
    assert fetched["currentCycle"] == 0
    by_kind = {b["kind"]: b for b in bodies["items"]}
    assert by_kind["STAKEHOLDER_GROUP"]["cellState"] is None
    tlc = by_kind["CELL"]
    assert tlc["isTopLevel"] is True
    assert tlc["parentId"] is None
    assert tlc["cellState"]["status"] == "DRAFT"
    assert tlc["cellState"]["approvedAt"] is None
    assert tlc["coreTeamCount"] == 1


async def test_creating_an_organisation_publishes_its_events_in_order(env):
    stakeholder, core = new_address(), new_address()
    org = await create_org(env, stakeholders=[stakeholder], core_team=[core])
    events = await env.events(org["slug"])
    assert [e["type"] for e in events] == [
        "governance.organization.created.v1",
        "governance.body.created.v1",
        "governance.body.created.v1",
        "governance.membership.joined.v1",
        "governance.membership.joined.v1",
    ]
    created = events[0]["data"]
    assert created["policy"] == dict(DEFAULT_POLICY)
    assert created["stakeholderGroupId"] == org["stakeholderGroupId"]
    assert created["sequence"] == 1
    assert events[0]["subject"] == f"organizations/{org['id']}"
    joined = [e["data"] for e in events[3:]]
    assert {(j["address"], j["role"], j["weight"]) for j in joined} == {
        (stakeholder, "STAKEHOLDER", "1"),
        (core, "CORE_TEAM", "1"),
    }


async def test_policy_overrides_are_applied_over_the_defaults(env):
    org = await create_org(env, policy={"quorumPercent": 40, "stakeholderWeighting": "COMMITTED_FUNDS"})
    assert org["policy"]["quorumPercent"] == 40
    assert org["policy"]["stakeholderWeighting"] == "COMMITTED_FUNDS"
    assert org["policy"]["vetoThresholdPercent"] == 33


async def _create(env, body, actor="0x" + "a" * 40):
    async with env.as_actor(actor) as c:
        return await c.post("/v1/organizations", json=body)


def _body(slug, **overrides):
    body = {
        "slug": slug,
        "name": "N",
        "purpose": "P",
        "stakeholders": [{"address": new_address()}],
        "topLevelCell": {"name": "T", "purpose": "P", "coreTeam": [{"address": new_address()}]},
    }
    body.update(overrides)
    return body


async def test_an_out_of_range_policy_is_refused_with_the_field(env):
    r = await _create(env, _body(new_slug(), policy={"vetoThresholdPercent": 101}))
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "INVALID_INPUT",
        "message": "vetoThresholdPercent must be a whole percent from 1 to 100",
        "field": "policy.vetoThresholdPercent",
    }


async def test_a_taken_slug_is_a_conflict_and_changes_nothing(env):
    slug = new_slug()
    assert (await _create(env, _body(slug))).status_code == 201
    r = await _create(env, _body(slug))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CONFLICT"
    assert len(await env.events(slug, "organization.created")) == 1


async def test_an_invalid_slug_is_refused(env):
    r = await _create(env, _body("Not_A_Slug"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "slug"


async def test_founding_an_organisation_needs_a_signed_in_member(env):
    r = await _create(env, _body(new_slug()), actor=None)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_malformed_member_address_is_refused_with_its_field(env):
    r = await _create(env, _body(new_slug(), stakeholders=[{"address": "0x1234"}]))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "stakeholders[0].address"


async def test_a_top_level_cell_of_ten_core_members_is_refused(env):
    team = [{"address": new_address()} for _ in range(10)]
    r = await _create(env, _body(new_slug(), topLevelCell={"name": "T", "purpose": "P", "coreTeam": team}))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CORE_TEAM_FULL"


async def test_addresses_given_in_lower_case_come_back_checksummed(env):
    account = Account.create()
    org = await create_org(env, stakeholders=[account.address.lower()])
    async with env.as_actor(None) as c:
        page = (await c.get(f"/v1/bodies/{org['stakeholderGroupId']}/members")).json()
        members = (await c.get("/v1/members", params={"addresses": account.address.lower()})).json()
    assert page["items"][0]["address"] == account.address
    assert members["items"] == [{"address": account.address, "displayName": "S0"}]


async def test_batch_reads_leave_out_unknown_ids(env):
    org = await create_org(env)
    unknown = "00000000-0000-0000-0000-000000000000"
    async with env.as_actor(None) as c:
        orgs = (await c.get("/v1/organizations", params=[("ids", org["id"]), ("ids", unknown)])).json()
        missing = await c.get(f"/v1/bodies/{unknown}")
    assert [o["slug"] for o in orgs["items"]] == [org["slug"]]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


async def test_calls_without_the_gateways_identity_are_refused(env):
    r = await env.client.get("/v1/organizations/anything")
    assert r.status_code == 401


async def test_status_counts_organisations_bodies_members_and_open_cycles(env):
    before = (await env.client.get("/status")).json()["details"]
    org = await create_org(env)
    stakeholder = (await env.events(org["slug"], "membership.joined"))[0]["data"]["address"]
    async with env.as_actor(stakeholder) as c:
        assert (
            await c.post(f"/v1/organizations/{org['slug']}/commitments", json={"cycle": 2, "amount": "5"})
        ).status_code == 201
    after = (await env.client.get("/status")).json()["details"]
    assert after["organizations"] == before["organizations"] + 1
    assert after["bodies"] == before["bodies"] + 2
    assert after["members"] == before["members"] + 2
    assert after["openCycles"] == before["openCycles"] + 1


async def test_the_openapi_document_is_served(env):
    spec = (await env.client.get("/openapi.json")).json()
    assert "/v1/organizations/{slug}/commitments" in spec["paths"]
    assert "/v1/auth/sign-in" in spec["paths"]
