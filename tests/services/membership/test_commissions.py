"""Feedback commissions: a body with seat quotas by group and a recorded selection method, set up by the
TLC core team or the Stakeholder Group."""

from __future__ import annotations

from typing import Any

from tests.services.membership.factories import create_org, get_body, leave, members, new_address

SEATS = [{"group": "SHG", "seats": 2}, {"group": "OPERATIONAL", "seats": 3}]


async def _commission(env, org: dict[str, Any], actor: str, **extra: Any):
    body = {"name": "Feedback Commission", "purpose": "Feedback on drafts", "seats": SEATS}
    body |= {"selection": "APPOINTED", **extra}
    async with env.as_actor(actor) as c:
        return await c.post(f"/v1/organizations/{org['slug']}/commissions", json=body)


async def _seat(env, actor: str, commission_id: str, address: str, group: str):
    async with env.as_actor(actor) as c:
        return await c.post(f"/v1/bodies/{commission_id}/seats", json={"address": address, "group": group})


async def test_a_stakeholder_creates_a_commission_with_its_quotas_and_first_members(env):
    shg = new_address()
    org = await create_org(env, stakeholders=[shg])
    first = new_address()
    r = await _commission(env, org, shg, members=[{"address": first, "group": "SHG"}])
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["kind"], made["parentId"]) == ("COMMISSION", None)
    assert made["commission"]["selection"] == "APPOINTED"
    assert made["commission"]["seats"] == [
        {"group": "SHG", "seats": 2, "taken": 1},
        {"group": "OPERATIONAL", "seats": 3, "taken": 0},
    ]
    seated = await members(env, made["id"])
    assert (seated[first]["role"], seated[first]["seatGroup"], seated[first]["weight"]) == (
        "COMMISSIONER",
        "SHG",
        "0",
    )
    types = [e["type"] for e in await env.events(org["slug"])]
    assert "governance.commission.created.v1" in types
    assert "governance.commission.seated.v1" in types


async def test_a_contributor_cannot_create_a_commission(env):
    org = await create_org(env)
    assert (await _commission(env, org, new_address())).status_code == 403


async def test_a_group_is_not_seated_beyond_its_quota(env):
    core = new_address()
    org = await create_org(env, core_team=[core])
    commission = (await _commission(env, org, core)).json()
    for _ in range(2):
        assert (await _seat(env, core, commission["id"], new_address(), "SHG")).status_code == 200
    full = await _seat(env, core, commission["id"], new_address(), "SHG")
    assert (full.status_code, full.json()["error"]["code"]) == (409, "CONFLICT")
    assert (await _seat(env, core, commission["id"], new_address(), "ELSEWHERE")).status_code == 422


async def test_leaving_frees_the_seat(env):
    core = new_address()
    org = await create_org(env, core_team=[core])
    commission = (await _commission(env, org, core)).json()
    sitting = [new_address(), new_address()]
    for who in sitting:
        await _seat(env, core, commission["id"], who, "SHG")
    assert (await leave(env, sitting[0], commission["id"])).status_code == 200
    assert (await _seat(env, core, commission["id"], new_address(), "SHG")).status_code == 200


async def test_seats_are_drawn_by_lot_from_a_body(env):
    stakeholders = [new_address() for _ in range(4)]
    org = await create_org(env, stakeholders=stakeholders)
    commission = (await _commission(env, org, stakeholders[0], selection="RANDOM")).json()
    async with env.as_actor(stakeholders[0]) as c:
        r = await c.post(
            f"/v1/bodies/{commission['id']}/draw",
            json={"group": "SHG", "fromBodyId": org["stakeholderGroupId"]},
        )
    assert r.status_code == 200, r.text
    drawn = await members(env, commission["id"])
    assert len(drawn) == 2
    assert set(drawn) <= set(stakeholders)
    seated = await env.events(org["slug"], "commission.seated")
    assert {e["data"]["selection"] for e in seated} == {"RANDOM"}
    assert (await get_body(env, commission["id"]))["commission"]["seats"][0]["taken"] == 2


async def test_a_quota_must_be_a_positive_number_of_seats(env):
    shg = new_address()
    org = await create_org(env, stakeholders=[shg])
    r = await _commission(env, org, shg, seats=[{"group": "SHG", "seats": 0}])
    assert (r.status_code, r.json()["error"]["field"]) == (422, "seats[0].seats")
