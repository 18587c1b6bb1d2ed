"""A page of proposals with everything a list view shows costs a bounded number of service calls."""

from __future__ import annotations

from tests.gateway.conftest import Gateway
from tests.gateway.fakes import FakeServices

PAGE = """
query($org: String!) {
  proposals(organization: $org, first: 20) {
    totalCount
    edges { node {
      id title status
      organization { slug }
      body { id name kind }
      decidingBody { id }
      proposer { address displayName }
      tally { for against quorumReached }
      review { status endsAt }
    } }
  }
}
"""


async def test_a_page_of_20_proposals_costs_one_call_per_kind_of_thing(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-loaders", stakeholders=20)
    cells = [
        fake.add_body(
            f"00000000-0000-4000-8000-00000000000{i}", org, "CELL", f"Cell {i}", org["topLevelCellId"]
        )
        for i in range(3)
    ]
    for i in range(25):
        p = fake.add_proposal(org, cells[i % 3]["id"], fake.address(f"srp-loaders{i % 20}"), title=f"p{i}")
        if i % 2:
            fake.add_review(p["id"])

    result = await gateway.execute(PAGE, {"org": "rp-loaders"})

    assert "errors" not in result
    edges = result["data"]["proposals"]["edges"]
    assert len(edges) == 20
    assert all(e["node"]["proposer"]["displayName"].startswith("Stakeholder") for e in edges)
    assert sum(1 for e in edges if e["node"]["review"]) == 10
    calls = [(c.service, c.method, c.path) for c in fake.calls]
    assert sorted(calls) == sorted(
        [
            ("membership", "GET", "/v1/organizations/rp-loaders"),
            ("proposals", "GET", "/v1/proposals"),
            ("membership", "GET", "/v1/bodies"),
            ("membership", "GET", "/v1/members"),
            ("timelock", "GET", "/v1/reviews"),
        ]
    )
    members_call = next(c for c in fake.calls if c.path == "/v1/members")
    assert len(dict(members_call.params)["addresses"].split(",")) == 20


async def test_loaders_do_not_outlive_a_request(gateway: Gateway, fake: FakeServices) -> None:
    org = fake.add_organization("rp-fresh")
    p = fake.add_proposal(org, org["topLevelCellId"], fake.address("x"), title="before")
    query = "query($id: ID!) { proposal(id: $id) { title } }"

    assert (await gateway.execute(query, {"id": p["id"]}))["data"]["proposal"]["title"] == "before"
    p["title"] = "after"
    assert (await gateway.execute(query, {"id": p["id"]}))["data"]["proposal"]["title"] == "after"
