"""A cell's core team has fewer than 10 people, and the database holds that line under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kit import CoreTeamFull
from services.membership import repository
from services.membership.models import Membership
from tests.services.membership.factories import create_org, get_body, new_address


async def test_the_tenth_core_member_is_refused(env):
    org = await create_org(env, core_team=[new_address() for _ in range(9)])
    _, outcome = await env.enact(
        org, [{"addMember": {"bodyId": org["topLevelCellId"], "address": new_address(), "role": "CORE_TEAM"}}]
    )
    assert outcome["data"]["code"] == "CORE_TEAM_FULL"
    assert (await get_body(env, org["topLevelCellId"]))["coreTeamCount"] == 9


async def test_contributors_do_not_count_towards_the_core_team(env):
    org = await create_org(env, core_team=[new_address() for _ in range(9)])
    _, outcome = await env.enact(
        org,
        [{"addMember": {"bodyId": org["topLevelCellId"], "address": new_address(), "role": "CONTRIBUTOR"}}],
    )
    assert outcome["type"].endswith("actions_applied.v1")


async def test_a_seat_freed_by_a_leaving_member_can_be_filled(env):
    team = [new_address() for _ in range(9)]
    org = await create_org(env, core_team=team)
    async with env.as_actor(team[0]) as c:
        assert (await c.post(f"/v1/bodies/{org['topLevelCellId']}/leave")).status_code == 200
    _, outcome = await env.enact(
        org, [{"addMember": {"bodyId": org["topLevelCellId"], "address": new_address(), "role": "CORE_TEAM"}}]
    )
    assert outcome["type"].endswith("actions_applied.v1")
    assert (await get_body(env, org["topLevelCellId"]))["coreTeamCount"] == 9


def _core_membership(org: dict, address: str) -> Membership:
    return Membership(
        id=uuid.uuid4(),
        organization_id=uuid.UUID(org["id"]),
        body_id=uuid.UUID(org["topLevelCellId"]),
        address=address.lower(),
        role="CORE_TEAM",
        joined_at=datetime.now(UTC),
    )


async def test_two_concurrent_transactions_adding_the_ninth_and_tenth_make_nine(env):
    org = await create_org(env, core_team=[new_address() for _ in range(8)])
    ninth, tenth = new_address(), new_address()
    first_inserted = asyncio.Event()
    release_first = asyncio.Event()

    async def add(address: str, *, hold: bool) -> None:
        async with env.db.session() as s:
            await repository.upsert_member(s, address.lower(), None, env.clock.now())
            await repository.insert_membership(s, _core_membership(org, address))
            if hold:
                first_inserted.set()
                await release_first.wait()

    first = asyncio.create_task(add(ninth, hold=True))
    await first_inserted.wait()
    second = asyncio.create_task(add(tenth, hold=False))
    await asyncio.sleep(0.3)
    assert not second.done(), "the second addition must wait for the first transaction's lock"
    release_first.set()
    await first
    with pytest.raises(CoreTeamFull):
        await second
    assert (await get_body(env, org["topLevelCellId"]))["coreTeamCount"] == 9


async def test_concurrent_enactments_filling_the_last_seat_apply_exactly_one(env):
    org = await create_org(env, core_team=[new_address() for _ in range(8)])
    requests = [
        [{"addMember": {"bodyId": org["topLevelCellId"], "address": new_address(), "role": "CORE_TEAM"}}]
        for _ in range(4)
    ]
    outcomes = await asyncio.gather(*(env.enact(org, actions) for actions in requests))
    kinds = sorted(o["type"].rsplit(".", 2)[-2] for _, o in outcomes)
    assert kinds == ["actions_applied", "actions_rejected", "actions_rejected", "actions_rejected"]
    assert (await get_body(env, org["topLevelCellId"]))["coreTeamCount"] == 9


async def _raw_core_insert(env, org: dict, address: str) -> None:
    async with env.db.session() as s:
        await s.execute(text("INSERT INTO members (address, created_at) VALUES (:a, now())"), {"a": address})
        await s.execute(
            text(
                "INSERT INTO memberships (id, organization_id, body_id, address, role, joined_at) "
                "VALUES (:id, :o, :b, :a, 'CORE_TEAM', now())"
            ),
            {"id": uuid.uuid4(), "o": org["id"], "b": org["topLevelCellId"], "a": address},
        )


async def test_the_database_refuses_a_tenth_core_member_even_from_raw_sql(env):
    org = await create_org(env, core_team=[new_address() for _ in range(9)])
    with pytest.raises(IntegrityError, match="ck_bodies_core_team_max"):
        await _raw_core_insert(env, org, new_address().lower())
