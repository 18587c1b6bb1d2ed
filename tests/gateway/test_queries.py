"""Contract queries served from the services' documented answers (fake services)."""

from __future__ import annotations

from tests.gateway.conftest import Gateway, token_for
from tests.gateway.fakes import FakeServices


async def test_organization_query_returns_structure_policy_and_treasury(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-one")
    cell = fake.add_body(
        "3f3c3e0e-1111-4a4a-8888-000000000001", org, "CELL", "Coordination", org["topLevelCellId"]
    )
    fake.add_member(cell["id"], fake.address("cc"), "CORE_TEAM", name="Cora")

    result = await gateway.op("Organization", {"slug": "rp-one"})

    assert "errors" not in result
    data = result["data"]["organization"]
    assert data["slug"] == "rp-one"
    assert data["policy"]["votingPeriodSeconds"] == 604800
    assert data["policy"]["quorumPercent"] == 20
    modules = await gateway.execute(
        '{ organization(slug: "rp-one") { policy { modules { key kind review { windowSeconds } } } } }'
    )
    assert modules["data"]["organization"]["policy"]["modules"] == [
        {"key": "OPERATIONAL:TOP_LEVEL_CELL", "kind": "OPERATIONAL", "review": {"windowSeconds": 604800}}
    ]
    assert len(data["stakeholderGroup"]["members"]) == 3
    assert {m["role"] for m in data["stakeholderGroup"]["members"]} == {"STAKEHOLDER"}
    assert data["topLevelCell"]["cellState"]["status"] == "DRAFT"
    assert [c["name"] for c in data["topLevelCell"]["children"]] == ["Coordination"]
    assert data["topLevelCell"]["children"][0]["members"][0]["member"]["address"] == fake.address("cc")
    assert data["treasury"] == {
        "currentCycle": 0,
        "committed": "1000",
        "allocated": "250",
        "available": "750",
    }


async def test_organization_policy_falls_back_to_the_founding_copy_while_proposals_catches_up(
    gateway: Gateway, fake: FakeServices
) -> None:
    fake.add_organization("rp-two")
    fake.fail("proposals", "GET", r"/v1/organizations/.*/policy", "NOT_FOUND")

    result = await gateway.op("Organization", {"slug": "rp-two"})

    assert result["data"]["organization"]["policy"]["reviewPeriodSeconds"] == 604800


async def test_unknown_organization_is_null(gateway: Gateway) -> None:
    result = await gateway.op("Organization", {"slug": "nobody-here"})
    assert result == {"data": {"organization": None}}


async def test_malformed_ids_are_null_without_calling_a_service(gateway: Gateway, fake: FakeServices) -> None:
    result = await gateway.execute(
        '{ body(id: "../admin") { id } proposal(id: "x") { id } organization(slug: "A/B") { id } }'
    )
    assert result == {"data": {"body": None, "proposal": None, "organization": None}}
    assert fake.calls == []


async def test_body_query_returns_parent_children_members_and_cell_state(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-body")
    cell = fake.add_body("3f3c3e0e-1111-4a4a-8888-000000000002", org, "CELL", "Garden", org["topLevelCellId"])
    fake.add_member(cell["id"], fake.address("g1"), "CONTRIBUTOR", name="Gus")

    result = await gateway.op("Body", {"id": cell["id"]})

    body = result["data"]["body"]
    assert body["kind"] == "CELL"
    assert body["parent"] == {"id": org["topLevelCellId"], "name": "Top Level Cell"}
    assert body["children"] == []
    assert body["members"] == [
        {
            "member": {"address": fake.address("g1"), "displayName": "Gus"},
            "role": "CONTRIBUTOR",
            "weight": "0",
        }
    ]
    assert body["cellState"]["purpose"] == "Garden purpose"


async def test_proposal_query_joins_votes_review_and_history(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-prop")
    proposer = fake.address("crp-prop0")
    p = fake.add_proposal(org, org["topLevelCellId"], proposer, status="IN_REVIEW")
    fake.votes[p["id"]].append(
        {"voter": proposer, "choice": "FOR", "weight": "1", "reason": "yes", "castAt": p["createdAt"]}
    )
    fake.add_review(p["id"])
    fake.reviews[p["id"]]["concerns"].append(
        {"id": "c1", "reason": "costly", "raisedAt": p["createdAt"], "raisedBy": fake.address("srp-prop0")}
    )

    result = await gateway.op("Proposal", {"id": p["id"]})

    assert "errors" not in result
    data = result["data"]["proposal"]
    assert data["status"] == "IN_REVIEW"
    assert data["body"]["kind"] == "CELL"
    assert data["proposer"] == {"address": proposer}
    assert data["tally"] == {
        "for": "0",
        "against": "0",
        "abstain": "0",
        "eligible": "3",
        "quorumReached": False,
    }
    assert data["votes"] == [
        {"voter": {"address": proposer}, "choice": "FOR", "weight": "1", "reason": "yes"}
    ]
    assert data["review"]["status"] == "PENDING"
    assert data["review"]["concerns"][0]["raisedBy"]["address"] == fake.address("srp-prop0")
    assert data["history"][0]["status"] == "VOTING"


async def test_proposal_without_review_has_null_review(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-norev")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("x"))
    result = await gateway.execute("query($id: ID!) { proposal(id: $id) { review { id } } }", {"id": p["id"]})
    assert result == {"data": {"proposal": {"review": None}}}


async def test_proposals_pages_with_cursors_and_total_count(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-page")
    for i in range(5):
        fake.add_proposal(org, org["topLevelCellId"], fake.address("x"), title=f"p{i}")

    first = await gateway.op("Proposals", {"organization": "rp-page", "first": 2})
    conn = first["data"]["proposals"]
    assert conn["totalCount"] == 5
    assert [e["node"]["title"] for e in conn["edges"]] == ["p4", "p3"]
    assert conn["pageInfo"]["hasNextPage"] is True

    second = await gateway.op(
        "Proposals", {"organization": "rp-page", "first": 2, "after": conn["pageInfo"]["endCursor"]}
    )
    assert [e["node"]["title"] for e in second["data"]["proposals"]["edges"]] == ["p2", "p1"]

    # any edge's cursor resumes right after that edge
    middle = await gateway.op(
        "Proposals", {"organization": "rp-page", "first": 10, "after": conn["edges"][0]["cursor"]}
    )
    rest = middle["data"]["proposals"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["p3", "p2", "p1", "p0"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_proposals_filter_by_status_reaches_the_service(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-filter")
    fake.add_proposal(org, org["topLevelCellId"], fake.address("x"), status="ENACTED", title="done")
    fake.add_proposal(org, org["topLevelCellId"], fake.address("x"), status="VOTING", title="open")

    result = await gateway.op("Proposals", {"organization": "rp-filter", "status": ["ENACTED", "QUEUED"]})

    assert [e["node"]["title"] for e in result["data"]["proposals"]["edges"]] == ["done"]
    listing = next(c for c in fake.calls if c.path == "/v1/proposals")
    assert ("status", "ENACTED") in listing.params
    assert ("status", "QUEUED") in listing.params


async def test_proposals_of_an_unknown_organization_is_a_not_found_error(gateway: Gateway) -> None:
    result = await gateway.op("Proposals", {"organization": "nowhere"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_bad_cursor_is_an_invalid_input_error(gateway: Gateway, fake: FakeServices) -> None:
    fake.add_organization("rp-cursor")
    result = await gateway.op("Proposals", {"organization": "rp-cursor", "after": "not-a-cursor"})
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}


async def test_votes_connection_pages_a_proposals_votes(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-votes")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("x"))
    for i in range(3):
        fake.votes[p["id"]].append(
            {"voter": fake.address(f"v{i}"), "choice": "FOR", "weight": "1", "reason": None}
        )

    result = await gateway.execute(
        "query($id: ID!) { proposal(id: $id) { votesConnection(first: 2) "
        "{ totalCount pageInfo { hasNextPage } nodes { voter { address } } } } }",
        {"id": p["id"]},
    )

    conn = result["data"]["proposal"]["votesConnection"]
    assert conn["totalCount"] == 3
    assert conn["pageInfo"]["hasNextPage"] is True
    assert [n["voter"]["address"] for n in conn["nodes"]] == [fake.address("v0"), fake.address("v1")]


async def test_me_is_the_member_of_the_bearer_token_with_memberships(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-me")
    address = fake.address("srp-me1")

    result = await gateway.op("Me", token=token_for(fake, address))

    me = result["data"]["me"]
    assert me["address"] == address
    assert me["displayName"] == "Stakeholder 1"
    assert me["memberships"] == [
        {
            "role": "STAKEHOLDER",
            "weight": "1",
            "body": {
                "id": org["stakeholderGroupId"],
                "name": "Stakeholders",
                "kind": "STAKEHOLDER_GROUP",
                "organization": {"slug": "rp-me"},
            },
        }
    ]


async def test_me_is_null_without_a_token_and_with_a_bad_one(gateway: Gateway) -> None:
    assert (await gateway.op("Me"))["data"]["me"] is None
    assert (await gateway.op("Me", token="not.a.token"))["data"]["me"] is None


async def test_every_service_call_carries_the_actor_from_the_bearer_token(
    gateway: Gateway, fake: FakeServices
) -> None:
    fake.add_organization("rp-actor")
    address = fake.address("srp-actor0")

    await gateway.op("Organization", {"slug": "rp-actor"}, token=token_for(fake, address))
    await gateway.op("Organization", {"slug": "rp-actor"})

    actors = {c.actor for c in fake.calls}
    assert actors == {address.lower(), None}
    assert len(fake.calls) >= 10


async def test_platform_status_lists_every_service(gateway: Gateway) -> None:
    result = await gateway.op("PlatformStatus")
    status = result["data"]["platformStatus"]
    assert status["status"] == "OK"
    assert [s["name"] for s in status["services"]] == ["gateway", "membership", "proposals", "timelock"]
    assert status["services"][1]["version"] == "test"
