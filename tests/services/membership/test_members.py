"""Members and roles: listing, a person in many bodies, and the right of exit from any body."""

from __future__ import annotations

from tests.services.membership.factories import create_org, get_body, leave, members, new_address


async def test_body_members_page_with_keyset_cursors_in_joining_order(env):
    stakeholders = [new_address() for _ in range(5)]
    org = await create_org(env, stakeholders=stakeholders)
    seen: list[str] = []
    after = None
    async with env.as_actor(None) as c:
        for _ in range(3):
            params = {"first": 2} | ({"after": after} if after else {})
            page = (await c.get(f"/v1/bodies/{org['stakeholderGroupId']}/members", params=params)).json()
            assert page["totalCount"] == 5
            seen += [m["address"] for m in page["items"]]
            after = page["endCursor"]
            if not page["hasNextPage"]:
                break
    assert seen == stakeholders
    assert not page["hasNextPage"]


async def test_a_malformed_cursor_is_invalid_input(env):
    org = await create_org(env)
    async with env.as_actor(None) as c:
        r = await c.get(f"/v1/bodies/{org['stakeholderGroupId']}/members", params={"after": "!!nonsense"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "after"


async def test_a_person_belongs_to_the_stakeholder_group_and_a_cell_at_once(env):
    person = new_address()
    org = await create_org(env, stakeholders=[person], core_team=[person])
    async with env.as_actor(None) as c:
        mine = (await c.get(f"/v1/members/{person.lower()}/memberships")).json()["items"]
    assert {(m["body"]["kind"], m["role"], m["weight"]) for m in mine} == {
        ("STAKEHOLDER_GROUP", "STAKEHOLDER", "1"),
        ("CELL", "CORE_TEAM", "1"),
    }
    assert all(m["body"]["organizationSlug"] == org["slug"] for m in mine)


async def test_a_core_member_leaves_a_cell_which_carries_on_without_them(env):
    leaving, staying = new_address(), new_address()
    org = await create_org(env, core_team=[leaving, staying])
    r = await leave(env, leaving, org["topLevelCellId"])
    assert r.status_code == 200
    assert r.json() == {"withdrawn": "0", "cycles": []}
    assert list(await members(env, org["topLevelCellId"])) == [staying]
    assert (await get_body(env, org["topLevelCellId"]))["coreTeamCount"] == 1
    left = (await env.events(org["slug"], "membership.left"))[0]["data"]
    assert left["address"] == leaving
    assert left["role"] == "CORE_TEAM"
    assert left["withdrawn"] == "0"
    assert left["proposalId"] is None


async def test_leaving_twice_is_refused_as_already_exited(env):
    person = new_address()
    org = await create_org(env, stakeholders=[person, new_address()])
    assert (await leave(env, person, org["stakeholderGroupId"])).status_code == 200
    again = await leave(env, person, org["stakeholderGroupId"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ALREADY_EXITED"
    assert len(await env.events(org["slug"], "membership.left")) == 1


async def test_leaving_a_body_one_never_joined_is_not_found(env):
    org = await create_org(env)
    r = await leave(env, new_address(), org["topLevelCellId"])
    assert r.status_code == 404


async def test_the_last_core_member_may_leave_too(env):
    only = new_address()
    org = await create_org(env, core_team=[only])
    assert (await leave(env, only, org["topLevelCellId"])).status_code == 200
    assert await members(env, org["topLevelCellId"]) == {}
    assert (await get_body(env, org["topLevelCellId"]))["id"] == org["topLevelCellId"]


async def test_membership_history_keeps_who_joined_and_left_and_by_which_proposal(env):
    person = new_address()
    org = await create_org(env, core_team=[new_address()])
    join, _ = await env.enact(
        org, [{"addMember": {"bodyId": org["topLevelCellId"], "address": person, "role": "CONTRIBUTOR"}}]
    )
    remove, _ = await env.enact(org, [{"removeMember": {"bodyId": org["topLevelCellId"], "address": person}}])
    async with env.as_actor(None) as c:
        current = (await c.get(f"/v1/members/{person}/memberships")).json()["items"]
        history = (await c.get(f"/v1/members/{person}/memberships", params={"includeFormer": "true"})).json()[
            "items"
        ]
    assert current == []
    (former,) = history
    assert former["joinedProposalId"] == join.data["proposalId"]
    assert former["leftProposalId"] == remove.data["proposalId"]
    assert former["leftAt"] is not None
    assert former["weight"] == "0"
