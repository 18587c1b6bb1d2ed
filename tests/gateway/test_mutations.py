"""Contract mutations: what reaches the services, and refusals as userErrors with the contract's codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.gateway.conftest import Gateway, token_for
from tests.gateway.fakes import FakeServices

SERVICE_CODES = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "INVALID_INPUT",
    "CONFLICT",
    "CORE_TEAM_FULL",
    "INSUFFICIENT_FUNDS",
    "ALREADY_EXITED",
    "VOTING_CLOSED",
    "REVIEW_CLOSED",
    "UNAVAILABLE",
]


@pytest.mark.parametrize("code", SERVICE_CODES)
async def test_each_service_error_code_becomes_a_user_error(
    gateway: Gateway, fake: FakeServices, code: str
) -> None:
    org = fake.add_organization(f"rp-{code.lower().replace('_', '-')}")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("x"))
    fake.fail(
        "proposals", "POST", r"/v1/proposals/.*/votes", code, message=f"refused: {code}", field="choice"
    )

    result = await gateway.op(
        "CastVote", {"proposalId": p["id"], "choice": "FOR"}, token=token_for(fake, fake.address("x"))
    )

    assert "errors" not in result
    assert result["data"]["castVote"] == {
        "vote": None,
        "proposal": None,
        "userErrors": [{"field": "choice", "code": code, "message": f"refused: {code}"}],
    }


async def test_a_service_failure_without_an_error_body_is_unavailable(
    gateway: Gateway, fake: FakeServices
) -> None:
    fake.fail("membership", "POST", r"/v1/organizations/.*/commitments", "INTERNAL", status=500)
    result = await gateway.op(
        "CommitFunds",
        {"organization": "rp-x", "cycle": 0, "amount": "10"},
        token=token_for(fake, fake.address("a")),
    )
    assert result["data"]["commitFunds"]["userErrors"][0]["code"] == "UNAVAILABLE"
    assert "INTERNAL" not in result["data"]["commitFunds"]["userErrors"][0]["message"]


async def test_an_unknown_service_code_maps_by_http_status(gateway: Gateway, fake: FakeServices) -> None:
    fake.fail("membership", "POST", r"/v1/bodies/.*/leave", "SOMETHING_NEW", status=409)
    result = await gateway.op(
        "LeaveBody",
        {"bodyId": "00000000-0000-4000-8000-000000000001"},
        token=token_for(fake, fake.address("a")),
    )
    assert result["data"]["leaveBody"]["userErrors"][0]["code"] == "CONFLICT"


async def test_an_unreachable_service_is_unavailable(gateway_settings: Settings, fake: FakeServices) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transports = {**fake.transports(), "proposals": httpx.MockTransport(refuse)}
    app = create_app(gateway_settings, transports=transports)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http,
    ):
        response = await Gateway(http, app).op(
            "CancelProposal",
            {"proposalId": "00000000-0000-4000-8000-000000000001"},
            token=token_for(fake, fake.address("a")),
        )
    assert response["data"]["cancelProposal"]["userErrors"][0]["code"] == "UNAVAILABLE"


async def test_anonymous_mutations_are_refused_before_any_service_call(
    gateway: Gateway, fake: FakeServices
) -> None:
    result = await gateway.op(
        "CastVote", {"proposalId": "00000000-0000-4000-8000-000000000001", "choice": "FOR"}
    )
    assert result["data"]["castVote"]["userErrors"] == [
        {"field": None, "code": "UNAUTHENTICATED", "message": "sign in first"}
    ]
    assert fake.calls == []


async def test_an_expired_token_says_so(gateway: Gateway, fake: FakeServices) -> None:
    token, _ = fake.key_ring.issue(fake.address("a"), 60, now=datetime.now(UTC) - timedelta(hours=2))
    result = await gateway.op("LeaveBody", {"bodyId": "00000000-0000-4000-8000-000000000001"}, token=token)
    assert result["data"]["leaveBody"]["userErrors"] == [
        {"field": None, "code": "UNAUTHENTICATED", "message": "token expired"}
    ]


async def test_a_malformed_proposal_id_is_not_found(gateway: Gateway, fake: FakeServices) -> None:
    result = await gateway.op(
        "RaiseConcern", {"proposalId": "../../admin", "reason": "x"}, token=token_for(fake, fake.address("a"))
    )
    assert result["data"]["raiseConcern"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert fake.calls == []


async def test_create_organization_sends_the_input_and_answers_the_new_organization(
    gateway: Gateway, fake: FakeServices
) -> None:
    founder = fake.address("founder")
    variables = {
        "input": {
            "slug": "rp-new",
            "name": "Reimagining Power",
            "purpose": "partnership governance",
            "stakeholders": [{"address": founder.lower(), "displayName": "Founder Org"}],
            "topLevelCell": {"name": "TLC", "purpose": "operate", "coreTeam": [{"address": founder}]},
            "policy": {"votingPeriodSeconds": 20, "stakeholderWeighting": "COMMITTED_FUNDS"},
        }
    }

    result = await gateway.op("CreateOrganization", variables, token=token_for(fake, founder))

    payload = result["data"]["createOrganization"]
    assert payload["userErrors"] == []
    assert payload["organization"]["slug"] == "rp-new"
    assert payload["organization"]["stakeholderGroup"]["kind"] == "STAKEHOLDER_GROUP"
    sent = next(c for c in fake.calls if c.method == "POST").body
    assert sent["topLevelCell"] == {"name": "TLC", "purpose": "operate", "coreTeam": [{"address": founder}]}
    assert sent["policy"] == {"votingPeriodSeconds": 20, "stakeholderWeighting": "COMMITTED_FUNDS"}
    assert sent["stakeholders"] == [{"address": founder.lower(), "displayName": "Founder Org"}]


async def test_create_organization_with_a_taken_slug_is_a_conflict(
    gateway: Gateway, fake: FakeServices
) -> None:
    fake.add_organization("rp-taken")
    founder = fake.address("founder")
    variables = {
        "input": {
            "slug": "rp-taken",
            "name": "n",
            "purpose": "p",
            "stakeholders": [],
            "topLevelCell": {"name": "TLC", "purpose": "p", "coreTeam": []},
        }
    }
    result = await gateway.op("CreateOrganization", variables, token=token_for(fake, founder))
    assert result["data"]["createOrganization"] == {
        "organization": None,
        "userErrors": [{"field": "slug", "code": "CONFLICT", "message": "slug taken"}],
    }


async def test_create_proposal_sends_one_of_actions_in_wire_form(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-actions")
    proposer = fake.address("crp-actions0")
    actions = [
        {
            "createCell": {
                "parentId": org["topLevelCellId"],
                "name": "Garden",
                "purpose": "grow",
                "coreTeam": [{"address": proposer, "displayName": "P"}],
            }
        },
        {"allocateBudget": {"cellId": org["topLevelCellId"], "cycle": 0, "amount": "100.50"}},
        {"updatePolicy": {"votingPeriodSeconds": 30}},
    ]
    variables = {
        "input": {
            "bodyId": org["topLevelCellId"],
            "kind": "OPERATIONAL",
            "title": "Garden",
            "description": "A garden cell",
            "actions": actions,
        }
    }

    result = await gateway.op("CreateProposal", variables, token=token_for(fake, proposer))

    payload = result["data"]["createProposal"]
    assert payload["userErrors"] == []
    assert payload["proposal"]["status"] == "VOTING"
    assert payload["proposal"]["proposer"] == {"address": proposer}
    assert payload["proposal"]["body"]["id"] == org["topLevelCellId"]
    sent = next(c for c in fake.calls if c.method == "POST").body
    assert sent["actions"] == actions
    assert sent["kind"] == "OPERATIONAL"


async def test_an_action_with_two_kinds_set_is_refused_by_the_schema(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-oneof")
    action = {
        "removeMember": {"bodyId": org["topLevelCellId"], "address": fake.address("a")},
        "updatePolicy": {"quorumPercent": 10},
    }
    variables = {
        "input": {
            "bodyId": org["topLevelCellId"],
            "kind": "OPERATIONAL",
            "title": "t",
            "description": "d",
            "actions": [action],
        }
    }
    result = await gateway.op("CreateProposal", variables, token=token_for(fake, fake.address("a")))
    assert result["data"] is None
    assert "exactly one key" in result["errors"][0]["message"]
    assert fake.calls == []


async def test_cast_vote_answers_the_vote_and_the_updated_tally(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-vote")
    voter = fake.address("crp-vote1")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("crp-vote0"))

    result = await gateway.op(
        "CastVote",
        {"proposalId": p["id"], "choice": "AGAINST", "reason": "too soon"},
        token=token_for(fake, voter),
    )

    payload = result["data"]["castVote"]
    assert payload["vote"] == {
        "choice": "AGAINST",
        "weight": "1",
        "reason": "too soon",
        "voter": {"address": voter},
    }
    assert payload["proposal"]["tally"]["against"] == "1"
    assert fake.calls[-1].actor == voter.lower()


async def test_cancel_proposal_answers_the_cancelled_proposal(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-cancel")
    proposer = fake.address("p")
    p = fake.add_proposal(org, org["topLevelCellId"], proposer)
    result = await gateway.op("CancelProposal", {"proposalId": p["id"]}, token=token_for(fake, proposer))
    assert result["data"]["cancelProposal"] == {
        "proposal": {"id": p["id"], "status": "CANCELLED"},
        "userErrors": [],
    }


async def test_raise_concern_and_object_answer_the_review(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-review")
    stakeholder = fake.address("srp-review0")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("c"), status="IN_REVIEW")
    fake.add_review(p["id"])
    token = token_for(fake, stakeholder)

    concern = await gateway.op("RaiseConcern", {"proposalId": p["id"], "reason": "costly"}, token=token)
    objection = await gateway.op("ObjectToProposal", {"proposalId": p["id"], "reason": "no"}, token=token)
    withdrawn = await gateway.execute(
        "mutation($id: ID!) { withdrawObjection(proposalId: $id) "
        "{ review { objectionWeight } userErrors { code } } }",
        {"id": p["id"]},
        token=token,
    )

    assert concern["data"]["raiseConcern"]["concern"]["raisedBy"] == {"address": stakeholder}
    assert concern["data"]["raiseConcern"]["review"]["status"] == "PENDING"
    assert objection["data"]["objectToProposal"]["review"]["objectionWeight"] == "1"
    assert withdrawn["data"]["withdrawObjection"] == {"review": {"objectionWeight": "0"}, "userErrors": []}


async def test_commit_funds_and_leave_body(gateway: Gateway, fake: FakeServices) -> None:
    token = token_for(fake, fake.address("s"))
    commit = await gateway.op(
        "CommitFunds", {"organization": "rp-funds", "cycle": 1, "amount": "1000.50"}, token=token
    )
    leave = await gateway.op("LeaveBody", {"bodyId": "00000000-0000-4000-8000-000000000009"}, token=token)
    assert commit["data"]["commitFunds"] == {
        "commitment": {"cycle": 1, "amount": "1000.50", "status": "PLEDGED"},
        "userErrors": [],
    }
    assert fake.calls[0].body == {"cycle": 1, "amount": "1000.50"}
    assert leave["data"]["leaveBody"] == {"withdrawn": "0", "userErrors": []}
