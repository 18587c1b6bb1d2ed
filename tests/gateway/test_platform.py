"""The gateway over the real services (in-process, real Postgres and NATS): the contract end to end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from eth_account import Account
from websockets.asyncio.client import connect

from kit.testing import eventually, unique_suffix
from tests.gateway.conftest import Gateway


async def found(
    gw: Gateway, founder: Any, *, core: list[Any], stakeholders: list[Any], **policy: Any
) -> dict[str, Any]:
    token = await gw.sign_in(founder)
    slug = f"rp-{unique_suffix()}"
    variables = {
        "input": {
            "slug": slug,
            "name": "Reimagining Power",
            "purpose": "partnership governance",
            "stakeholders": [
                {"address": a.address, "displayName": f"Org {i}"} for i, a in enumerate(stakeholders)
            ],
            "topLevelCell": {
                "name": "TLC",
                "purpose": "operate",
                "coreTeam": [{"address": a.address} for a in core],
            },
            "policy": {
                "votingPeriodSeconds": 30,
                "reviewPeriodSeconds": 2,
                "concernExtensionSeconds": 0,
                "policyDelaySeconds": 0,
                **policy,
            },
        }
    }
    result = await gw.op("CreateOrganization", variables, token=token)
    payload = result["data"]["createOrganization"]
    assert payload["userErrors"] == [], payload
    return payload["organization"]


async def test_sign_in_against_the_real_membership_service(live_gateway: Gateway) -> None:
    account = Account.create()
    token = await live_gateway.sign_in(account)
    me = await live_gateway.op("Me", token=token)
    assert me["data"]["me"] == {"address": account.address, "displayName": None, "memberships": []}


async def test_an_organisation_founded_through_the_gateway_reads_back_whole(live_gateway: Gateway) -> None:
    founder, other = Account.create(), Account.create()
    org = await found(live_gateway, founder, core=[founder], stakeholders=[founder, other])

    result = await live_gateway.op("Organization", {"slug": org["slug"]})

    assert "errors" not in result, result
    data = result["data"]["organization"]
    assert data["policy"]["votingPeriodSeconds"] == 30
    assert {m["member"]["address"] for m in data["stakeholderGroup"]["members"]} == {
        founder.address,
        other.address,
    }
    assert data["topLevelCell"]["members"] == [
        {"member": {"address": founder.address}, "role": "CORE_TEAM", "weight": "1"}
    ]
    assert data["treasury"]["currentCycle"] == 0


async def proposal_status(gw: Gateway, proposal_id: str) -> str:
    result = await gw.op("Proposal", {"id": proposal_id})
    return result["data"]["proposal"]["status"]


async def test_a_tlc_proposal_passes_review_and_creates_its_cell(live_gateway: Gateway) -> None:
    a, b, stakeholder = Account.create(), Account.create(), Account.create()
    org = await found(live_gateway, a, core=[a, b], stakeholders=[stakeholder])
    token_a, token_b = await live_gateway.sign_in(a), await live_gateway.sign_in(b)
    token_s = await live_gateway.sign_in(stakeholder)
    tlc = org["topLevelCell"]["id"]
    create = {
        "input": {
            "bodyId": tlc,
            "kind": "OPERATIONAL",
            "title": "A garden cell",
            "description": "grow food",
            "actions": [
                {
                    "createCell": {
                        "parentId": tlc,
                        "name": "Garden",
                        "purpose": "grow food",
                        "coreTeam": [{"address": b.address, "displayName": "Bea"}],
                    }
                }
            ],
        }
    }

    created = await live_gateway.op("CreateProposal", create, token=token_a)
    proposal = created["data"]["createProposal"]["proposal"]
    assert created["data"]["createProposal"]["userErrors"] == []
    assert proposal["status"] == "VOTING"
    assert proposal["proposer"] == {"address": a.address}
    for token in (token_a, token_b):
        vote = await live_gateway.op("CastVote", {"proposalId": proposal["id"], "choice": "FOR"}, token=token)
        # the first vote may already decide it when b's membership had not reached the proposals
        # service's projection as voting opened (it snapshots the electorate then)
        assert [e["code"] for e in vote["data"]["castVote"]["userErrors"]] in ([], ["VOTING_CLOSED"])

    async def reviewed() -> bool:
        result = await live_gateway.op("Proposal", {"id": proposal["id"]})
        return result["data"]["proposal"]["review"] is not None

    await eventually(reviewed, within=15, interval=0.1)
    concern = await live_gateway.op(
        "RaiseConcern", {"proposalId": proposal["id"], "reason": "water?"}, token=token_s
    )
    assert concern["data"]["raiseConcern"]["userErrors"] == [], concern
    assert concern["data"]["raiseConcern"]["concern"]["raisedBy"] == {"address": stakeholder.address}

    await eventually(lambda: _is(live_gateway, proposal["id"], "ENACTED"), within=20, interval=0.2)
    final = (await live_gateway.op("Proposal", {"id": proposal["id"]}))["data"]["proposal"]
    assert next(h["status"] for h in final["history"]) == "VOTING"
    assert final["history"][-1]["status"] == "ENACTED"
    assert final["review"]["concerns"][0]["reason"] == "water?"
    assert final["tally"]["for"] in ("1", "2")

    async def garden_exists() -> bool:
        data = (await live_gateway.op("Organization", {"slug": org["slug"]}))["data"]["organization"]
        return [c["name"] for c in data["topLevelCell"]["children"]] == ["Garden"]

    await eventually(garden_exists, within=10, interval=0.1)


async def _is(gw: Gateway, proposal_id: str, status: str) -> bool:
    return await proposal_status(gw, proposal_id) == status


async def test_refusals_of_the_real_services_are_user_errors(live_gateway: Gateway) -> None:
    founder, outsider = Account.create(), Account.create()
    org = await found(live_gateway, founder, core=[founder], stakeholders=[founder])
    token_founder, token_outsider = await live_gateway.sign_in(founder), await live_gateway.sign_in(outsider)

    commit = await live_gateway.op(
        "CommitFunds", {"organization": org["slug"], "cycle": 0, "amount": "10"}, token=token_outsider
    )
    first_leave = await live_gateway.op(
        "LeaveBody", {"bodyId": org["topLevelCell"]["id"]}, token=token_founder
    )
    leave = await live_gateway.op("LeaveBody", {"bodyId": org["topLevelCell"]["id"]}, token=token_founder)
    taken = await live_gateway.op(
        "CreateOrganization",
        {
            "input": {
                "slug": org["slug"],
                "name": "x",
                "purpose": "x",
                "stakeholders": [{"address": founder.address}],
                "topLevelCell": {"name": "t", "purpose": "p", "coreTeam": [{"address": founder.address}]},
            }
        },
        token=token_founder,
    )
    crowded = await live_gateway.op(
        "CreateOrganization",
        {
            "input": {
                "slug": f"rp-{unique_suffix()}",
                "name": "x",
                "purpose": "x",
                "stakeholders": [{"address": founder.address}],
                "topLevelCell": {
                    "name": "t",
                    "purpose": "p",
                    "coreTeam": [{"address": Account.create().address} for _ in range(10)],
                },
            }
        },
        token=token_founder,
    )

    assert commit["data"]["commitFunds"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert first_leave["data"]["leaveBody"] == {"withdrawn": "0", "userErrors": []}
    assert leave["data"]["leaveBody"]["userErrors"][0]["code"] == "ALREADY_EXITED"
    assert taken["data"]["createOrganization"]["userErrors"][0]["code"] == "CONFLICT"
    assert crowded["data"]["createOrganization"]["userErrors"][0]["code"] == "CORE_TEAM_FULL"


async def test_live_events_of_a_real_proposal_arrive_in_order(live_gateway: Gateway, platform: Any) -> None:
    a, b = Account.create(), Account.create()
    org = await found(live_gateway, a, core=[a, b], stakeholders=[a], votingPeriodSeconds=30)
    token_a = await live_gateway.sign_in(a)
    host = platform.url.removeprefix("http://")
    async with connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token_a}"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        query = (
            "subscription($organization: String!) { proposalEvents(organization: $organization) "
            "{ id type sequence proposal { id status title } } }"
        )
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"organization": org["slug"]}},
                }
            )
        )
        hub = platform.gateway.state.gateway.hub
        await eventually(lambda: hub.subscriber_count(org["slug"]) == 1)

        created = await live_gateway.op(
            "CreateProposal",
            {
                "input": {
                    "bodyId": org["topLevelCell"]["id"],
                    "kind": "OPERATIONAL",
                    "title": "Live",
                    "description": "watch me",
                }
            },
            token=token_a,
        )
        proposal_id = created["data"]["createProposal"]["proposal"]["id"]
        await live_gateway.op("CastVote", {"proposalId": proposal_id, "choice": "FOR"}, token=token_a)
        await live_gateway.op("CancelProposal", {"proposalId": proposal_id}, token=token_a)

        events: list[dict[str, Any]] = []
        while not any(e["type"] == "governance.proposal.cancelled.v1" for e in events):
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next", message
            events.append(message["payload"]["data"]["proposalEvents"])

    assert {e["proposal"]["id"] for e in events} == {proposal_id}
    assert {e["proposal"]["title"] for e in events} == {"Live"}
    lifecycle = [e for e in events if e["type"].startswith("governance.proposal.")]
    assert lifecycle[0]["type"] == "governance.proposal.created.v1"
    assert lifecycle[-1]["type"] == "governance.proposal.cancelled.v1"
    assert [e["sequence"] for e in lifecycle] == list(range(1, len(lifecycle) + 1))
    votes = [e for e in events if e["type"] == "governance.vote.cast.v1"]
    assert len(votes) == 1
    assert votes[0]["proposal"]["status"] == "VOTING"
    # the statuses seen live are the proposal's history, in the same order
    seen = [
        status
        for i, status in enumerate(s["proposal"]["status"] for s in lifecycle)
        if i == 0 or status != lifecycle[i - 1]["proposal"]["status"]
    ]
    history = (await live_gateway.op("Proposal", {"id": proposal_id}))["data"]["proposal"]["history"]
    assert seen == [h["status"] for h in history]
