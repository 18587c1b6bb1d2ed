"""Metagovernance through the gateway over the real services: a POLICY change made with the contract's
operations is applied atomically at enactment, the proposals already open keep the version they
started under, and the registry shows what changed, when, by which proposal."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from kit.testing import eventually
from tests.gateway.conftest import Gateway
from tests.gateway.test_platform import found


async def _propose(gw: Gateway, token: str, body_id: str, kind: str, actions: list | None = None) -> dict:
    result = await gw.op(
        "CreateProposal",
        {
            "input": {
                "bodyId": body_id,
                "kind": kind,
                "title": kind,
                "description": "",
                "actions": actions or [],
            }
        },
        token=token,
    )
    payload = result["data"]["createProposal"]
    assert payload["userErrors"] == [], payload
    return payload["proposal"]


async def _vote(gw: Gateway, token: str, proposal_id: str) -> dict[str, Any]:
    result = await gw.op("CastVote", {"proposalId": proposal_id, "choice": "FOR"}, token=token)
    assert result["data"]["castVote"]["userErrors"] == [], result
    return result["data"]["castVote"]["proposal"]


async def _module(gw: Gateway, proposal_id: str) -> dict[str, Any]:
    result = await gw.op("ProposalMetagovernance", {"id": proposal_id})
    assert "errors" not in result, result
    return result["data"]["proposal"]


async def test_a_policy_change_applies_at_enactment_and_open_proposals_keep_their_version(
    live_gateway: Gateway,
) -> None:
    shg, core = Account.create(), Account.create()
    org = await found(live_gateway, shg, core=[core], stakeholders=[shg], reviewPeriodSeconds=600)
    shg_token, core_token = await live_gateway.sign_in(shg), await live_gateway.sign_in(core)
    tlc_id, shg_id = org["topLevelCell"]["id"], org["stakeholderGroup"]["id"]

    open_before = await _propose(live_gateway, core_token, tlc_id, "OPERATIONAL")
    change = {
        "changeModules": {"modules": [{"key": "OPERATIONAL:TOP_LEVEL_CELL", "reviewWindowSeconds": 120}]}
    }
    policy = await _propose(live_gateway, shg_token, shg_id, "POLICY", [change])
    assert (await _vote(live_gateway, shg_token, policy["id"]))["status"] == "ENACTED"

    kept = await _module(live_gateway, open_before["id"])
    assert (kept["moduleVersion"], kept["module"]["review"]["windowSeconds"]) == (1, 600)
    after = await _module(
        live_gateway, (await _propose(live_gateway, core_token, tlc_id, "OPERATIONAL"))["id"]
    )
    assert (after["moduleVersion"], after["module"]["review"]["windowSeconds"]) == (2, 120)

    registry = (await live_gateway.op("DecisionModules", {"organization": org["slug"]}))["data"][
        "decisionModules"
    ]
    module = next(m for m in registry if m["key"] == "OPERATIONAL:TOP_LEVEL_CELL")
    assert (module["version"], module["review"]["windowSeconds"]) == (2, 120)
    last = module["history"][-1]
    assert (last["cause"], last["proposal"]["id"]) == ("PROPOSAL", policy["id"])
    assert last["changes"]["review"] == {
        "from": {**last["changes"]["review"]["from"], "windowSeconds": 600},
        "to": {**last["changes"]["review"]["from"], "windowSeconds": 120},
    }


async def test_a_renewal_names_an_experiment_through_the_renew_action(live_gateway: Gateway) -> None:
    shg, core = Account.create(), Account.create()
    org = await found(live_gateway, shg, core=[core], stakeholders=[shg])
    token = await live_gateway.sign_in(shg)
    experiment = {
        "hypothesis": "faster",
        "successMeasures": ["time to decision"],
        "bodyIds": [org["topLevelCell"]["id"]],
        "cycles": 2,
    }
    change = {
        "changeModules": {
            "modules": [{"key": "OPERATIONAL:TOP_LEVEL_CELL", "reviewWindowSeconds": 1}],
            "experiment": experiment,
        }
    }
    started = await _propose(live_gateway, token, org["stakeholderGroup"]["id"], "POLICY", [change])
    await _vote(live_gateway, token, started["id"])

    async def running() -> Any:
        page = await live_gateway.op("Experiments", {"organization": org["slug"], "status": ["RUNNING"]})
        edges = page["data"]["experiments"]["edges"]
        return edges[0]["node"] if edges else None

    exp = await eventually(running, within=10)
    renew = {"renewExperiment": {"experimentId": exp["id"], "permanent": True}}
    renewal = await _propose(live_gateway, token, org["stakeholderGroup"]["id"], "POLICY", [renew])
    await _vote(live_gateway, token, renewal["id"])
    adopted = (await live_gateway.op("Experiment", {"id": exp["id"]}))["data"]["experiment"]
    assert (adopted["status"], adopted["endsAt"], adopted["renewals"][0]["proposalId"]) == (
        "ADOPTED",
        None,
        renewal["id"],
    )
    assert adopted["retrospective"]["figures"]["proposalsRaised"] == 0
