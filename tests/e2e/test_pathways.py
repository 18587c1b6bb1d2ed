"""The seed's pathways, driven through the gateway with the contract's operations only.

One organisation per test module: three stakeholders, a Top Level Cell of three, short policy periods.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.e2e.harness import Api, Wallet

SHORT_POLICY = {
    "votingPeriodSeconds": 60,
    "reviewPeriodSeconds": 4,
    "concernExtensionSeconds": 3,
    "vetoThresholdPercent": 50,
    "quorumPercent": 20,
    "cycleLengthSeconds": 3600,
    "policyDelaySeconds": 2,
}


class Org:
    def __init__(self, slug: str, data: dict, shg: list[Wallet], tlc: list[Wallet]) -> None:
        self.slug = slug
        self.id = data["id"]
        self.shg_id = data["stakeholderGroup"]["id"]
        self.tlc_id = data["topLevelCell"]["id"]
        self.shg = shg
        self.tlc = tlc


@pytest.fixture(scope="module")
async def org(platform) -> Org:
    api = Api(platform.graphql_url)
    shg = [await api.sign_in(Wallet.create(f"Stakeholder {i}")) for i in range(3)]
    tlc = [await api.sign_in(Wallet.create(f"Core {i}")) for i in range(3)]
    slug = f"rp-{uuid.uuid4().hex[:8]}"
    payload = await api.ok(
        "CreateOrganization",
        shg[0],
        input={
            "slug": slug,
            "name": "Reimagining Power",
            "purpose": "Shift power between capital and the people doing the work",
            "stakeholders": [{"address": w.address, "displayName": w.name} for w in shg],
            "topLevelCell": {
                "name": "Top Level Cell",
                "purpose": "Strategy and coordination",
                "coreTeam": [{"address": w.address, "displayName": w.name} for w in tlc],
            },
            "policy": SHORT_POLICY,
        },
    )
    await api.http.aclose()
    return Org(slug, payload["organization"], shg, tlc)


async def propose(api: Api, who: Wallet, body_id: str, kind: str, title: str, actions=None) -> dict:
    payload = await api.ok(
        "CreateProposal",
        who,
        input={
            "bodyId": body_id,
            "kind": kind,
            "title": title,
            "description": f"{title} — proposed in a test",
            "actions": actions or [],
        },
    )
    assert payload["proposal"]["status"] == "VOTING"
    return payload["proposal"]


async def test_the_organisation_reads_back_with_both_houses_and_the_policy(api: Api, org: Org):
    o = (await api.op("Organization", slug=org.slug))["organization"]
    assert o["slug"] == org.slug
    assert o["policy"]["reviewPeriodSeconds"] == 4
    assert {m["member"]["address"] for m in o["stakeholderGroup"]["members"]} == {w.address for w in org.shg}
    assert all(m["role"] == "STAKEHOLDER" for m in o["stakeholderGroup"]["members"])
    tlc_roles = {m["member"]["address"]: m["role"] for m in o["topLevelCell"]["members"]}
    assert tlc_roles == {w.address: "CORE_TEAM" for w in org.tlc}
    assert o["topLevelCell"]["cellState"]["status"] == "DRAFT"


async def test_a_tlc_budget_passes_by_optimistic_review_when_nobody_blocks(api: Api, org: Org):
    c = await api.ok("CommitFunds", org.shg[0], organization=org.slug, cycle=0, amount="1000.50")
    assert c["commitment"]["status"] == "COMMITTED"
    p = await propose(
        api,
        org.tlc[0],
        org.tlc_id,
        "BUDGET",
        "Fund the research cell",
        [{"allocateBudget": {"cellId": org.tlc_id, "cycle": 0, "amount": "300.25"}}],
    )
    for w in org.tlc[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR", reason="needed")
    in_review = await api.wait_status(p["id"], "IN_REVIEW")
    assert in_review["review"]["status"] == "PENDING"
    enacted = await api.wait_status(p["id"], "ENACTED", within=30)
    assert [h["status"] for h in enacted["history"]][:2] == ["VOTING", "IN_REVIEW"]
    assert enacted["history"][-1]["status"] == "ENACTED"
    assert enacted["review"]["status"] == "APPROVED"
    treasury = (await api.op("Organization", slug=org.slug))["organization"]["treasury"]
    assert Decimal(treasury["allocated"]) >= Decimal("300.25")
    assert Decimal(treasury["committed"]) >= Decimal("1000.50")


async def test_a_tlc_proposal_is_blocked_the_moment_the_shg_reaches_the_veto_threshold(api: Api, org: Org):
    p = await propose(api, org.tlc[0], org.tlc_id, "OPERATIONAL", "Rewrite the purpose without asking")
    for w in org.tlc[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR")
    before = (await api.wait_status(p["id"], "IN_REVIEW"))["review"]
    concern = await api.ok(
        "RaiseConcern", org.shg[2], proposalId=p["id"], reason="this strays from our purpose"
    )
    assert concern["concern"]["raisedBy"]["address"] == org.shg[2].address
    assert concern["review"]["endsAt"] > before["endsAt"]  # the first concern extends the window once
    assert await api.refused("ObjectToProposal", org.tlc[2], proposalId=p["id"]) == "FORBIDDEN"
    first = await api.ok("ObjectToProposal", org.shg[0], proposalId=p["id"], reason="no")
    assert first["review"]["status"] == "PENDING"
    second = await api.ok("ObjectToProposal", org.shg[1], proposalId=p["id"], reason="no")
    assert second["review"]["status"] == "BLOCKED"
    assert Decimal(second["review"]["objectionWeight"]) >= Decimal(second["review"]["vetoThresholdWeight"])
    await api.wait_status(p["id"], "BLOCKED", within=10)
    assert await api.refused("ObjectToProposal", org.shg[2], proposalId=p["id"]) == "REVIEW_CLOSED"


async def test_the_tlc_cell_state_is_approved_by_an_explicit_shg_vote(api: Api, org: Org):
    p = await propose(
        api,
        org.tlc[0],
        org.tlc_id,
        "CELL_STATE",
        "Initial Cell State",
        [
            {
                "setCellState": {
                    "cellId": org.tlc_id,
                    "purpose": "Steward the project's strategy",
                    "strategy": "Small autonomous cells",
                    "agreements": ["Report each cycle", "Budgets within committed funds"],
                }
            }
        ],
    )
    assert await api.refused("CastVote", org.tlc[1], proposalId=p["id"], choice="FOR") == "FORBIDDEN"
    for w in org.shg[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR")
    await api.wait_status(p["id"], "ENACTED", within=20)
    state = (await api.op("Organization", slug=org.slug))["organization"]["topLevelCell"]["cellState"]
    assert state["status"] == "APPROVED"
    assert state["agreements"] == ["Report each cycle", "Budgets within committed funds"]
    assert state["approvedAt"] is not None


async def test_a_child_cell_decides_at_cell_scale_with_no_review(api: Api, org: Org):
    crew = [await api.sign_in(Wallet.create(f"Research {i}")) for i in range(2)]
    p = await propose(
        api,
        org.tlc[0],
        org.tlc_id,
        "OPERATIONAL",
        "Start a research cell",
        [
            {
                "createCell": {
                    "parentId": org.tlc_id,
                    "name": "Research",
                    "purpose": "Find out what works",
                    "coreTeam": [{"address": w.address, "displayName": w.name} for w in crew],
                }
            }
        ],
    )
    for w in org.tlc[:2]:
        await api.ok("CastVote", w, proposalId=p["id"], choice="FOR")
    await api.wait_status(p["id"], "ENACTED", within=30)
    tlc = (await api.op("Body", id=org.tlc_id))["body"]
    research = next(c for c in tlc["children"] if c["name"] == "Research")
    cell = (await api.op("Body", id=research["id"]))["body"]
    assert cell["parent"]["id"] == org.tlc_id
    assert {m["member"]["address"] for m in cell["members"]} == {w.address for w in crew}

    local = await propose(api, crew[0], research["id"], "OPERATIONAL", "Weekly sync on Tuesdays")
    for w in crew:
        await api.ok("CastVote", w, proposalId=local["id"], choice="FOR")
    done = await api.wait_status(local["id"], "ENACTED", within=15)
    assert done["review"] is None
    assert "IN_REVIEW" not in [h["status"] for h in done["history"]]


async def test_a_stakeholder_exits_with_exactly_the_uncommitted_funds(api: Api, org: Org):
    leaver = org.shg[2]
    await api.ok("CommitFunds", leaver, organization=org.slug, cycle=0, amount="100")
    pledged = await api.ok("CommitFunds", leaver, organization=org.slug, cycle=2, amount="40.10")
    assert pledged["commitment"]["status"] != "COMMITTED"
    await api.ok("CommitFunds", leaver, organization=org.slug, cycle=5, amount="9.90")
    left = await api.ok("LeaveBody", leaver, bodyId=org.shg_id)
    assert Decimal(left["withdrawn"]) == Decimal("50.00")
    assert await api.refused("LeaveBody", leaver, bodyId=org.shg_id) == "ALREADY_EXITED"
    shg = (await api.op("Body", id=org.shg_id))["body"]
    assert leaver.address not in {m["member"]["address"] for m in shg["members"]}
