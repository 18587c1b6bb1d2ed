"""Experiments through the proposals service: a POLICY change scoped to one body and bounded in time,
which reverts by itself at its end unless renewed, with measured figures and a retrospective."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from .support import CELL_CORE, STAKEHOLDERS, TLC_CORE

CYCLE = 1000
FAST = {"policyDelaySeconds": 0, "cycleLengthSeconds": CYCLE}
SHORT_REVIEW = {"key": "OPERATIONAL:TOP_LEVEL_CELL", "reviewWindowSeconds": 60}


def experiment(bodies: list, **end) -> dict:
    return {
        "hypothesis": "A shorter review in the TLC speeds decisions without more blocks",
        "successMeasures": ["time to decision falls", "no more proposals blocked"],
        "bodyIds": [str(b) for b in bodies],
        **(end or {"cycles": 1}),
    }


async def enact_policy(h, org, update: dict) -> dict:
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    done = await h.votes(p["id"], STAKEHOLDERS[:2])
    assert done["status"] == "ENACTED", done
    return done


async def start(h, org, bodies=None, modules=None, **end) -> dict:
    await enact_policy(
        h,
        org,
        {"modules": modules or [SHORT_REVIEW], "experiment": experiment(bodies or [org.tlc], **end)},
    )
    page = (await h.get(f"/v1/organizations/{org.id}/experiments")).json()
    return page["items"][0]


async def test_an_experiment_scoped_to_a_body_applies_to_proposals_raised_there_only(h):
    org = await h.found(FAST)
    exp = await start(
        h, org, modules=[{"key": "OPERATIONAL:CELL", "votingPeriodSeconds": 120}], bodies=[org.cell]
    )
    assert exp["status"] == "RUNNING"
    inside = await h.proposed(CELL_CORE[0], org.cell)
    assert inside["module"]["votingPeriodSeconds"] == 120
    assert inside["experimentId"] == exp["id"]
    assert inside["module"]["scope"] == [str(org.cell)]
    # the organisation's module is unchanged for the other cells (here the TLC's own module)
    outside = await h.proposed(TLC_CORE[0], org.tlc)
    assert outside["experimentId"] is None


async def test_a_variant_for_a_cell_also_applies_to_its_sub_cells(h):
    org = await h.found(FAST)
    sub = uuid.uuid4()
    await h.deliver(org.body(sub, "CELL", parent=org.cell))
    await h.deliver(org.joined(sub, CELL_CORE[0], "CORE_TEAM"))
    exp = await start(
        h, org, modules=[{"key": "OPERATIONAL:CELL", "votingPeriodSeconds": 120}], bodies=[org.cell]
    )
    p = await h.proposed(CELL_CORE[0], sub)
    assert p["experimentId"] == exp["id"]


async def test_the_experiment_reverts_by_itself_at_its_end_and_measures_what_happened(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    p = await h.proposed(TLC_CORE[0], org.tlc)
    assert p["module"]["review"]["windowSeconds"] == 60
    await h.votes(p["id"], TLC_CORE[:2])
    await h.deliver(org.timelock(p["id"], "review.blocked", {"objectionWeight": "2"}))

    h.advance_to(datetime.fromisoformat(exp["endsAt"]) + timedelta(seconds=1))
    await h.settle()

    ended = (await h.get(f"/v1/experiments/{exp['id']}")).json()
    assert ended["status"] == "ENDED"
    assert ended["figures"]["proposalsRaised"] == 1
    assert ended["figures"]["proposalsBlocked"] == 1
    assert ended["figures"]["proposalsDecided"] == 1
    assert ended["figures"]["participationPercent"] == 66.67
    assert ended["figures"]["averageTimeToDecisionSeconds"] is not None
    after = await h.proposed(TLC_CORE[0], org.tlc)
    assert after["experimentId"] is None
    assert after["module"]["review"]["windowSeconds"] == 604_800
    types = [e["type"] for e in await h.outbox(exp["id"])]
    assert types == ["governance.experiment.started.v1", "governance.experiment.ended.v1"]


async def test_a_run_of_one_cycle_covers_the_rest_of_this_cycle_and_the_next(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    started = datetime.fromisoformat(exp["startedAt"])
    ends = datetime.fromisoformat(exp["endsAt"])
    assert timedelta(seconds=CYCLE) < ends - started <= timedelta(seconds=2 * CYCLE)
    assert (ends - datetime.fromisoformat("2030-01-01T00:00:00+00:00")).total_seconds() % CYCLE == 0


async def test_an_enacted_renewal_keeps_the_change_past_the_first_end(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    first_end = datetime.fromisoformat(exp["endsAt"])
    await enact_policy(h, org, {"renewExperiment": {"experimentId": exp["id"], "cycles": 3}})

    h.advance_to(first_end + timedelta(seconds=1))
    await h.settle()
    renewed = (await h.get(f"/v1/experiments/{exp['id']}")).json()
    assert renewed["status"] == "RUNNING"
    assert datetime.fromisoformat(renewed["endsAt"]) > first_end
    assert len(renewed["renewals"]) == 1
    still = await h.proposed(TLC_CORE[0], org.tlc)
    assert still["experimentId"] == exp["id"]


async def test_a_permanent_renewal_adopts_the_change_for_good(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    await enact_policy(h, org, {"renewExperiment": {"experimentId": exp["id"], "permanent": True}})
    h.advance_to(datetime.fromisoformat(exp["endsAt"]) + timedelta(seconds=1))
    await h.settle()
    adopted = (await h.get(f"/v1/experiments/{exp['id']}")).json()
    assert (adopted["status"], adopted["endsAt"]) == ("ADOPTED", None)
    assert (await h.proposed(TLC_CORE[0], org.tlc))["experimentId"] == exp["id"]


async def test_a_renewal_enacted_after_the_end_puts_the_change_back(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    h.advance_to(datetime.fromisoformat(exp["endsAt"]) + timedelta(seconds=1))
    await h.settle()
    await enact_policy(h, org, {"renewExperiment": {"experimentId": exp["id"], "cycles": 1}})
    back = (await h.get(f"/v1/experiments/{exp['id']}")).json()
    assert back["status"] == "RUNNING"
    assert (await h.proposed(TLC_CORE[0], org.tlc))["experimentId"] == exp["id"]


async def test_a_renewal_of_an_unknown_experiment_is_refused(h):
    org = await h.found(FAST)
    update = {"renewExperiment": {"experimentId": str(uuid.uuid4()), "cycles": 1}}
    r = await h.propose(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "actions[0].updatePolicy.renewExperiment.experimentId"


async def test_an_experiment_with_settings_is_refused(h):
    org = await h.found(FAST)
    update = {"quorumPercent": 30, "modules": [SHORT_REVIEW], "experiment": experiment([org.tlc])}
    r = await h.propose(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert r.status_code == 422


async def test_an_experiment_naming_a_body_of_another_organisation_is_refused(h):
    org = await h.found(FAST)
    update = {"modules": [SHORT_REVIEW], "experiment": experiment([uuid.uuid4()])}
    r = await h.propose(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
    assert r.status_code == 404


async def test_a_retrospective_is_written_after_the_end_by_a_stakeholder(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    url = f"/v1/experiments/{exp['id']}/retrospective"
    async with h.as_actor(STAKEHOLDERS[1]) as c:
        early = await c.post(url, json={"text": "too soon"})
    assert early.status_code == 409
    h.advance_to(datetime.fromisoformat(exp["endsAt"]) + timedelta(seconds=1))
    await h.settle()
    async with h.as_actor(CELL_CORE[0]) as c:
        assert (await c.post(url, json={"text": "not mine"})).status_code == 403
    async with h.as_actor(STAKEHOLDERS[1]) as c:
        written = await c.post(url, json={"text": "Faster, no more blocks: renew."})
    assert written.status_code == 200, written.text
    assert written.json()["retrospective"] == "Faster, no more blocks: renew."
    assert written.json()["figures"]["proposalsRaised"] == 0


async def test_the_registry_shows_each_module_with_its_variants_and_history(h):
    org = await h.found(FAST)
    changed = await enact_policy(
        h, org, {"modules": [{"key": "OPERATIONAL:CELL", "rule": "CONSENT", "quorumPercent": 0}]}
    )
    exp = await start(h, org)
    registry = (await h.get(f"/v1/organizations/{org.id}/registry")).json()
    modules = {m["key"]: m for m in registry["modules"]}
    assert len(modules) == 8
    cell = modules["OPERATIONAL:CELL"]
    assert [(v["version"], v["cause"]) for v in cell["history"]] == [(1, "FOUNDED"), (2, "PROPOSAL")]
    assert cell["history"][1]["proposalId"] == changed["id"]
    assert cell["history"][1]["changes"]["rule"] == {"from": "MAJORITY", "to": "CONSENT"}
    tlc = modules["OPERATIONAL:TOP_LEVEL_CELL"]
    [variant] = tlc["variants"]
    assert (variant["scope"], variant["experimentId"]) == ([str(org.tlc)], exp["id"])
    assert tlc["history"][-1]["cause"] == "EXPERIMENT_STARTED"
    assert tlc["history"][-1]["changes"]["review"]["to"]["windowSeconds"] == 60


async def test_the_end_of_an_experiment_is_a_version_in_the_registry(h):
    org = await h.found(FAST)
    exp = await start(h, org)
    h.advance_to(datetime.fromisoformat(exp["endsAt"]) + timedelta(seconds=1))
    await h.settle()
    registry = (await h.get(f"/v1/organizations/{org.id}/registry")).json()
    tlc = next(m for m in registry["modules"] if m["key"] == "OPERATIONAL:TOP_LEVEL_CELL")
    assert tlc["variants"] == []
    last = tlc["history"][-1]
    assert (last["cause"], last["experimentId"], last["scope"]) == (
        "EXPERIMENT_ENDED",
        exp["id"],
        [str(org.tlc)],
    )
    assert last["changes"]["review"]["to"]["windowSeconds"] == 604_800
