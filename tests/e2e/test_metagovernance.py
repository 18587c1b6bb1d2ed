"""Metagovernance through the gateway, with the contract's operations only (seeds 002 and 004).

An experiment that shortens the SHG's review for one cell runs for a funding cycle, reverts by itself
and its retrospective shows the measured figures; a renewal keeps an experiment; the registry shows
every module and its history; an appeal needs the higher veto threshold; polls and a commission's
feedback attach to proposals; the milestone graph reports the phase.

One organisation for the module: three stakeholders, a Top Level Cell of three, short periods (a funding
cycle of 8 s, reviews of 6 s, POLICY delays of 1 s).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import Api, Wallet

POLICY = {
    "votingPeriodSeconds": 60,
    "reviewPeriodSeconds": 6,
    "concernExtensionSeconds": 0,
    # 30 % of three stakeholders: one objection blocks; an appeal needs 60 %: two
    "vetoThresholdPercent": 30,
    "quorumPercent": 20,
    "cycleLengthSeconds": 8,
    "policyDelaySeconds": 1,
}
SHORT_REVIEW = 2


class Org:
    def __init__(self, slug: str, data: dict, shg: list[Wallet], tlc: list[Wallet]) -> None:
        self.slug = slug
        self.shg_id = data["stakeholderGroup"]["id"]
        self.tlc_id = data["topLevelCell"]["id"]
        self.shg = shg
        self.tlc = tlc


@pytest.fixture(scope="module")
async def org(platform) -> Org:
    api = Api(platform.graphql_url)
    shg = [await api.sign_in(Wallet.create(f"Stakeholder {i}")) for i in range(3)]
    tlc = [await api.sign_in(Wallet.create(f"Core {i}")) for i in range(3)]
    slug = f"mg-{uuid.uuid4().hex[:8]}"
    payload = await api.ok(
        "CreateOrganization",
        shg[0],
        input={
            "slug": slug,
            "name": "Reimagining Power",
            "purpose": "Open metagovernance",
            "stakeholders": [{"address": w.address, "displayName": w.name} for w in shg],
            "topLevelCell": {
                "name": "Top Level Cell",
                "purpose": "Strategy and coordination",
                "coreTeam": [{"address": w.address, "displayName": w.name} for w in tlc],
            },
            "policy": POLICY,
        },
    )
    await api.http.aclose()
    return Org(slug, payload["organization"], shg, tlc)


# --- helpers ------------------------------------------------------------------------------------------


async def eventually(check, *, within: float = 30, every: float = 0.2):
    deadline = asyncio.get_running_loop().time() + within
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"not within {within}s; last: {last}")


async def propose(api: Api, who: Wallet, body_id: str, kind: str, title: str, actions=None) -> dict:
    payload = await api.ok(
        "CreateProposal",
        who,
        input={
            "bodyId": body_id,
            "kind": kind,
            "title": title,
            "description": f"{title}: proposed in the metagovernance test",
            "actions": actions or [],
        },
    )
    return payload["proposal"]


async def enact_policy(api: Api, org: Org, title: str, action: dict) -> dict:
    """A POLICY proposal by the SHG, passed by two of three stakeholders, enacted after its delay."""
    p = await propose(api, org.shg[0], org.shg_id, "POLICY", title, [action])
    for w in org.shg[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR")
    return await api.wait_status(p["id"], "ENACTED", within=30)


async def pass_in_tlc(api: Api, org: Org, title: str) -> dict:
    p = await propose(api, org.tlc[0], org.tlc_id, "OPERATIONAL", title)
    for w in org.tlc[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR")
    return p


async def metagovernance(api: Api, proposal_id: str, as_: Wallet | None = None) -> dict:
    return (await api.op("ProposalMetagovernance", as_, id=proposal_id))["proposal"]


async def experiment(api: Api, experiment_id: str) -> dict:
    return (await api.op("Experiment", id=experiment_id))["experiment"]


async def newest_experiment(api: Api, org: Org, module_key: str) -> dict:
    page = (await api.op("Experiments", organization=org.slug, status=["RUNNING"], first=20))["experiments"]
    return next(e["node"] for e in page["edges"] if module_key in e["node"]["moduleKeys"])


def shorter_review(module_key: str, bodies: list[str], **end) -> dict:
    return {
        "changeModules": {
            "modules": [{"key": module_key, "reviewWindowSeconds": SHORT_REVIEW}],
            "experiment": {
                "hypothesis": "A shorter SHG review for the TLC speeds decisions without more blocks",
                "successMeasures": ["time to decision falls", "no more proposals blocked"],
                "bodyIds": bodies,
                **(end or {"cycles": 1}),
            },
        }
    }


# --- the tests ----------------------------------------------------------------------------------------


async def test_the_registry_shows_every_module_with_who_decides_and_its_history(api: Api, org: Org):
    modules = (await api.op("DecisionModules", organization=org.slug))["decisionModules"]
    by_key = {m["key"]: m for m in modules}
    assert len(by_key) == 8
    budget = by_key["BUDGET:TOP_LEVEL_CELL"]
    assert (budget["decidingBody"], budget["rule"]) == ("RAISING_CELL", "MAJORITY")
    assert budget["review"]["windowSeconds"] == 6
    assert budget["review"]["appealVetoThresholdPercent"] == 60
    assert by_key["POLICY:STAKEHOLDER_GROUP"]["delaySeconds"] == 1
    assert all(m["history"][0]["cause"] == "FOUNDED" for m in modules)


async def test_an_experiment_for_one_cell_runs_a_cycle_reverts_and_reports_its_figures(api: Api, org: Org):
    started = await enact_policy(
        api, org, "Try a 2 s review for the TLC", shorter_review("OPERATIONAL:TOP_LEVEL_CELL", [org.tlc_id])
    )
    exp = await newest_experiment(api, org, "OPERATIONAL:TOP_LEVEL_CELL")
    assert exp["bodyIds"] == [org.tlc_id]

    # a proposal raised in that cell takes the experiment's terms and keeps them
    p = await pass_in_tlc(api, org, "Hire a facilitator")
    under = await metagovernance(api, p["id"])
    assert under["module"]["review"]["windowSeconds"] == SHORT_REVIEW
    assert (under["experiment"]["id"], under["module"]["scopeBodyIds"]) == (exp["id"], [org.tlc_id])
    await api.wait_status(p["id"], "ENACTED", within=20)

    ended = await eventually(
        lambda: _when(experiment(api, exp["id"]), lambda e: e["status"] == "ENDED"), within=40
    )
    figures = ended["retrospective"]["figures"]
    assert (figures["proposalsRaised"], figures["proposalsDecided"], figures["proposalsPassed"]) == (1, 1, 1)
    assert figures["proposalsBlocked"] == 0
    assert figures["averageTimeToDecisionSeconds"] >= SHORT_REVIEW
    assert figures["participationPercent"] == pytest.approx(66.67)
    assert datetime.fromisoformat(ended["endedAt"]) >= datetime.fromisoformat(ended["endsAt"])
    assert timedelta(seconds=8) <= datetime.fromisoformat(ended["endsAt"]) - datetime.fromisoformat(
        ended["startedAt"]
    )

    # reverted by itself: the cell's proposals are back on the organisation's terms
    after = await metagovernance(api, (await pass_in_tlc(api, org, "After the experiment"))["id"])
    assert (after["module"]["review"]["windowSeconds"], after["experiment"]) == (6, None)
    history = next(
        m
        for m in (await api.op("DecisionModules", organization=org.slug))["decisionModules"]
        if m["key"] == "OPERATIONAL:TOP_LEVEL_CELL"
    )["history"]
    assert [h["cause"] for h in history] == ["FOUNDED", "EXPERIMENT_STARTED", "EXPERIMENT_ENDED"]
    assert history[1]["proposal"]["id"] == started["id"]
    assert history[1]["changes"]["review"]["to"]["windowSeconds"] == SHORT_REVIEW
    assert (history[2]["experiment"]["id"], history[2]["scopeBodyIds"]) == (exp["id"], [org.tlc_id])

    written = await api.ok("WriteRetrospective", org.shg[1], experimentId=exp["id"], text="Faster; renew it.")
    assert written["experiment"]["retrospective"]["text"] == "Faster; renew it."


async def test_an_enacted_renewal_keeps_the_experiment_past_its_end(api: Api, org: Org):
    ends_at = datetime.now(UTC) + timedelta(seconds=12)
    await enact_policy(
        api,
        org,
        "Try a 2 s review for TLC budgets",
        shorter_review("BUDGET:TOP_LEVEL_CELL", [org.tlc_id], endsAt=ends_at.isoformat()),
    )
    exp = await newest_experiment(api, org, "BUDGET:TOP_LEVEL_CELL")
    await enact_policy(
        api,
        org,
        "Keep the short budget review",
        {"renewExperiment": {"experimentId": exp["id"], "cycles": 3}},
    )
    await asyncio.sleep(max((ends_at - datetime.now(UTC)).total_seconds(), 0) + 2)

    kept = await experiment(api, exp["id"])
    assert kept["status"] == "RUNNING"
    assert datetime.fromisoformat(kept["endsAt"]) > ends_at
    assert len(kept["renewals"]) == 1
    budget = await propose(api, org.tlc[0], org.tlc_id, "BUDGET", "Still under the experiment")
    assert (await metagovernance(api, budget["id"]))["experiment"]["id"] == exp["id"]


async def test_an_appeal_needs_the_higher_veto_threshold(api: Api, org: Org):
    p = await pass_in_tlc(api, org, "Rename the project")
    await api.wait_status(p["id"], "IN_REVIEW")
    await api.ok("ObjectToProposal", org.shg[0], proposalId=p["id"], reason="not now")
    await api.wait_status(p["id"], "BLOCKED")

    appeal = (await api.ok("AppealProposal", org.tlc[0], proposalId=p["id"]))["proposal"]
    assert (appeal["appealOf"]["id"], appeal["vetoThresholdPercent"]) == (p["id"], 60)
    for w in org.tlc[:2]:
        await api.ok("CastVote", w, proposalId=appeal["id"], choice="FOR")
    review = (await api.wait_status(appeal["id"], "IN_REVIEW"))["review"]
    assert review["vetoThresholdWeight"] == "2"
    objected = await api.ok("ObjectToProposal", org.shg[0], proposalId=appeal["id"], reason="still not")
    assert objected["review"]["status"] == "PENDING"  # one objection blocked the original, not the appeal
    await api.wait_status(appeal["id"], "ENACTED", within=20)

    assert await api.refused("AppealProposal", org.tlc[0], proposalId=p["id"]) == "CONFLICT"
    original = await metagovernance(api, p["id"])
    assert original["appeal"]["id"] == appeal["id"]


async def test_a_poll_attaches_to_a_proposal_as_evidence(api: Api, org: Org):
    p = await propose(api, org.shg[0], org.shg_id, "STAKEHOLDER", "Fund a research cell")
    created = await api.ok(
        "CreatePoll",
        org.tlc[1],
        input={
            "organization": org.slug,
            "question": "Should research be its own cell?",
            "options": ["yes", "no", "later"],
            "closesAt": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
            "proposalId": p["id"],
        },
    )
    poll_id = created["poll"]["id"]
    await api.ok("AnswerPoll", org.shg[1], pollId=poll_id, choices=[0])
    answered = await api.ok("AnswerPoll", org.tlc[2], pollId=poll_id, choices=[2])
    assert answered["poll"]["myChoices"] == [2]
    shown = await metagovernance(api, p["id"])
    [poll] = shown["polls"]
    assert (poll["id"], poll["voterCount"]) == (poll_id, 2)
    assert [o["count"] for o in poll["options"]] == [1, 0, 1]


async def test_commission_feedback_attaches_to_a_draft_before_voting_opens(api: Api, org: Org):
    made = await api.ok(
        "CreateCommission",
        org.shg[0],
        input={
            "organization": org.slug,
            "name": "Feedback Commission",
            "purpose": "High-context feedback on drafts",
            "seats": [{"group": "SHG", "seats": 1}, {"group": "OPERATIONAL", "seats": 2}],
            "selection": "APPOINTED",
            "members": [
                {"address": org.shg[2].address, "group": "SHG"},
                {"address": org.tlc[2].address, "group": "OPERATIONAL"},
            ],
        },
    )
    commission = made["commission"]
    assert commission["kind"] == "COMMISSION"
    assert [s["taken"] for s in commission["commission"]["seats"]] == [1, 1]
    await enact_policy(
        api,
        org,
        "Ask the commission before SHG votes",
        {
            "changeModules": {
                "modules": [
                    {
                        "key": "STAKEHOLDER:STAKEHOLDER_GROUP",
                        "feedbackCommissionId": commission["id"],
                        "feedbackWindowSeconds": 4,
                    }
                ]
            }
        },
    )

    draft = await propose(api, org.shg[0], org.shg_id, "STAKEHOLDER", "Open a second funding round")
    assert await api.refused("CastVote", org.shg[1], proposalId=draft["id"], choice="FOR") == "VOTING_CLOSED"
    given = await api.ok("GiveFeedback", org.tlc[2], proposalId=draft["id"], text="Say who may join it")
    assert given["feedback"]["author"]["address"] == org.tlc[2].address
    assert await api.refused("GiveFeedback", org.tlc[0], proposalId=draft["id"], text="me too") == "FORBIDDEN"

    seen = (await metagovernance(api, draft["id"], org.shg[2]))["feedback"]
    assert (seen["commissionId"], seen["visible"]) == (commission["id"], True)
    assert [e["text"] for e in seen["entries"]] == ["Say who may join it"]
    hidden = (await metagovernance(api, draft["id"], org.shg[0]))["feedback"]
    assert (hidden["visible"], hidden["entries"]) == (False, [])

    opens = datetime.fromisoformat(seen["votingStartsAt"])
    await asyncio.sleep(max((opens - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    await eventually(lambda: _cast(api, org.shg[1], draft["id"]), within=10)


async def test_the_milestone_graph_reports_the_phase_and_refuses_cycles(api: Api, org: Org):
    done = await propose(api, org.tlc[0], org.tlc_id, "CELL_STATE", "Publish the working model")
    for w in org.shg[:2]:
        await api.ok("CastVote", w, proposalId=done["id"], choice="FOR")
    await api.wait_status(done["id"], "ENACTED", within=30)

    a = await api.ok(
        "CreateMilestone",
        org.shg[0],
        input={
            "organization": org.slug,
            "phase": "A",
            "title": "Working model public",
            "proposalIds": [done["id"]],
        },
    )
    assert a["milestone"]["status"] == "DONE"
    b = await api.ok(
        "CreateMilestone",
        org.tlc[0],
        input={
            "organization": org.slug,
            "phase": "B",
            "title": "Cells set their own rules",
            "dependsOn": [a["milestone"]["id"]],
            "moduleKeys": ["OPERATIONAL:CELL"],
        },
    )
    assert (b["milestone"]["status"], b["graph"]["currentPhase"]) == ("IN_PROGRESS", "B")
    cycle = await api.op(
        "LinkMilestone",
        org.shg[0],
        milestoneId=a["milestone"]["id"],
        input={"dependsOn": [b["milestone"]["id"]]},
    )
    assert cycle["linkMilestone"]["userErrors"][0]["code"] == "INVALID_INPUT"

    await enact_policy(
        api,
        org,
        "Cells decide by consent",
        {"changeModules": {"modules": [{"key": "OPERATIONAL:CELL", "rule": "CONSENT", "quorumPercent": 0}]}},
    )
    graph = (await api.op("Milestones", organization=org.slug))["milestones"]
    assert (graph["currentPhase"], graph["complete"]) == ("B", True)
    assert [p["done"] for p in graph["phases"]] == [1, 1]


async def _when(fetch, predicate):
    value = await fetch
    return value if predicate(value) else None


async def _cast(api: Api, who: Wallet, proposal_id: str) -> bool:
    data = await api.op("CastVote", who, proposalId=proposal_id, choice="FOR")
    errors = data["castVote"]["userErrors"]
    return not errors or errors[0]["code"] != "VOTING_CLOSED" or "opens at" not in errors[0]["message"]
