"""Funds: commitments per cycle, the treasury, the right of exit's refund, weights by funds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.services.membership.factories import (
    commit,
    create_org,
    leave,
    members,
    new_address,
    policy_update,
    treasury,
)

CYCLE = 90 * 86_400


async def test_funds_for_the_current_cycle_are_committed_and_for_a_later_one_pledged(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    now = await commit(env, stakeholder, org["slug"], 0, "1000.50")
    later = await commit(env, stakeholder, org["slug"], 1, "250")
    assert now.status_code == 201
    assert (now.json()["cycle"], now.json()["amount"], now.json()["status"]) == (0, "1000.5", "COMMITTED")
    assert (later.json()["cycle"], later.json()["status"]) == (1, "PLEDGED")
    events = [e["data"] for e in await env.events(org["slug"], "funds.committed")]
    assert [(e["cycle"], e["amount"], e["status"], e["address"]) for e in events] == [
        (0, "1000.5", "COMMITTED", stakeholder),
        (1, "250", "PLEDGED", stakeholder),
    ]


async def test_the_treasury_shows_the_current_cycles_committed_allocated_and_available(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    await commit(env, stakeholder, org["slug"], 0, "100.25")
    await commit(env, stakeholder, org["slug"], 0, "0.75")
    await commit(env, stakeholder, org["slug"], 1, "5000")
    t = await treasury(env, org["slug"])
    assert (t["currentCycle"], t["committed"], t["allocated"], t["available"]) == (0, "101", "0", "101")
    env.clock.advance(CYCLE)
    t = await treasury(env, org["slug"])
    assert (t["currentCycle"], t["committed"], t["available"]) == (1, "5000", "5000")


async def test_funds_for_a_past_cycle_are_refused(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    env.clock.advance(CYCLE + 1)
    r = await commit(env, stakeholder, org["slug"], 0, "10")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "cycle"


async def test_only_current_stakeholders_commit_funds(env):
    core = new_address()
    org = await create_org(env, core_team=[core])
    r = await commit(env, core, org["slug"], 0, "10")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "FORBIDDEN"


async def test_amounts_must_be_positive_exact_decimals(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    for amount in ("0", "-5", "abc", 12.5):
        r = await commit(env, stakeholder, org["slug"], 0, amount)
        assert r.status_code == 422, amount
        assert r.json()["error"]["code"] == "INVALID_INPUT"


async def test_an_exiting_stakeholder_takes_back_exactly_what_is_pledged_to_unstarted_cycles(env):
    leaver, other = new_address(), new_address()
    org = await create_org(env, stakeholders=[leaver, other])
    slug = org["slug"]
    for cycle, amount in [(0, "100"), (1, "40.10"), (2, "30.20"), (3, "20.30"), (3, "0.05")]:
        assert (await commit(env, leaver, slug, cycle, amount)).status_code == 201
    await commit(env, other, slug, 2, "7")
    # into cycle 1: cycles 0 and 1 have started, 2 and 3 have not
    env.clock.advance(CYCLE + 3600)
    r = await leave(env, leaver, org["stakeholderGroupId"])
    assert r.status_code == 200
    assert r.json() == {"withdrawn": "50.55", "cycles": [2, 3]}
    withdrawn = (await env.events(slug, "funds.withdrawn"))[0]["data"]
    assert (withdrawn["amount"], withdrawn["cycles"], withdrawn["address"]) == ("50.55", [2, 3], leaver)
    left = (await env.events(slug, "membership.left"))[0]["data"]
    assert left["withdrawn"] == "50.55"
    # what was committed stays with the project; other members' pledges are untouched
    assert (await treasury(env, slug))["committed"] == "40.1"
    env.clock.advance(CYCLE)
    assert (await treasury(env, slug))["committed"] == "7"


async def test_at_a_cycles_start_its_pledges_are_committed_and_no_longer_returned(env):
    leaver = new_address()
    org = await create_org(env, stakeholders=[leaver, new_address()])
    await commit(env, leaver, org["slug"], 1, "10")
    env.clock.advance(CYCLE)  # exactly the start of cycle 1
    r = await leave(env, leaver, org["stakeholderGroupId"])
    assert r.json()["withdrawn"] == "0"
    assert await env.events(org["slug"], "funds.withdrawn") == []


async def test_weights_follow_funds_pledged_and_not_withdrawn_when_the_policy_says_so(env):
    rich, poor = new_address(), new_address()
    org = await create_org(env, stakeholders=[rich, poor], policy={"stakeholderWeighting": "COMMITTED_FUNDS"})
    await commit(env, rich, org["slug"], 0, "300")
    await commit(env, rich, org["slug"], 1, "200.5")
    shg = await members(env, org["stakeholderGroupId"])
    assert (shg[rich]["weight"], shg[poor]["weight"]) == ("500.5", "0")
    changes = [e["data"] for e in await env.events(org["slug"], "membership.weight_changed")]
    assert [(c["address"], c["weight"]) for c in changes] == [(rich, "300"), (rich, "500.5")]
    assert all(c["bodyId"] == org["stakeholderGroupId"] for c in changes)


async def test_under_equal_weighting_funds_change_no_weight(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    await commit(env, stakeholder, org["slug"], 0, "300")
    assert (await members(env, org["stakeholderGroupId"]))[stakeholder]["weight"] == "1"
    assert await env.events(org["slug"], "membership.weight_changed") == []


async def test_concurrent_commitments_all_count(env):
    import asyncio

    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder])
    results = await asyncio.gather(*(commit(env, stakeholder, org["slug"], 0, "1.1") for _ in range(8)))
    assert all(r.status_code == 201 for r in results)
    assert Decimal((await treasury(env, org["slug"]))["committed"]) == Decimal("8.8")


def test_cycle_length_is_ninety_days_by_default():
    assert timedelta(seconds=CYCLE).days == 90


async def test_a_new_cycle_length_applies_from_the_next_cycle_and_keeps_pledges_where_they_were(env):
    stakeholder = new_address()
    org = await create_org(env, stakeholders=[stakeholder, new_address()])
    await commit(env, stakeholder, org["slug"], 1, "10")
    await commit(env, stakeholder, org["slug"], 2, "20")
    env.clock.advance(10 * 86_400)
    await policy_update(env, org, cycleLengthSeconds=30 * 86_400)
    changed = (await env.events(org["slug"], "organization.cycles_changed"))[0]["data"]
    assert (changed["fromCycle"], changed["cycleLengthSeconds"]) == (1, 30 * 86_400)
    async with env.as_actor(None) as c:
        assert (await c.get(f"/v1/organizations/{org['slug']}")).json()["policy"][
            "cycleLengthSeconds"
        ] == 30 * 86_400
    # cycle 0 still lasts 90 days; cycle 1 starts on day 90 and lasts 30, so day 125 is in cycle 2
    env.clock.advance(80 * 86_400)
    assert (await treasury(env, org["slug"]))["currentCycle"] == 1
    env.clock.advance(35 * 86_400)
    t = await treasury(env, org["slug"])
    assert (t["currentCycle"], t["committed"]) == (2, "20")


async def test_switching_to_weighting_by_funds_announces_the_new_weights(env):
    rich, poor = new_address(), new_address()
    org = await create_org(env, stakeholders=[rich, poor])
    await commit(env, rich, org["slug"], 0, "42")
    await policy_update(env, org, stakeholderWeighting="COMMITTED_FUNDS")
    changes = [e["data"] for e in await env.events(org["slug"], "membership.weight_changed")]
    assert {(c["address"], c["weight"]) for c in changes} == {(rich, "42"), (poor, "0")}
    shg = await members(env, org["stakeholderGroupId"])
    assert (shg[rich]["weight"], shg[poor]["weight"]) == ("42", "0")
    # the same settings again change nothing
    await policy_update(env, org, stakeholderWeighting="COMMITTED_FUNDS")
    assert len(await env.events(org["slug"], "membership.weight_changed")) == 2
