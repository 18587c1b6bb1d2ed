"""Reading proposals for the gateway: batches, filtered keyset pages with totals, policy; and speed on
100,000 proposals."""

from __future__ import annotations

import time

from sqlalchemy import text

from .support import CELL_CORE, STAKEHOLDERS, TLC_CORE


async def _ids(h, **params) -> tuple[list[str], dict]:
    response = await h.get("/v1/proposals", **params)
    assert response.status_code == 200, response.text
    page = response.json()
    return [p["id"] for p in page["items"]], page


async def test_lists_are_newest_first_filtered_and_paged_with_a_stable_total(h):
    org = await h.found()
    made = []
    for actor, body, kind in [
        (CELL_CORE[0], org.cell, "OPERATIONAL"),
        (TLC_CORE[0], org.tlc, "OPERATIONAL"),
        (TLC_CORE[0], org.tlc, "BUDGET"),
        (STAKEHOLDERS[0], org.shg, "STAKEHOLDER"),
        (CELL_CORE[0], org.cell, "OPERATIONAL"),
    ]:
        made.append(await h.proposed(actor, body, kind))
        h.clock.advance(1)
    async with h.as_actor(CELL_CORE[0]) as c:
        await c.post(f"/v1/proposals/{made[0]['id']}/cancel")

    newest_first = [p["id"] for p in reversed(made)]
    ids, page = await _ids(h, organizationId=str(org.id))
    assert (ids, page["totalCount"], page["hasNextPage"]) == (newest_first, 5, False)

    first, page1 = await _ids(h, organizationId=str(org.id), first=2)
    second, page2 = await _ids(h, organizationId=str(org.id), first=2, after=page1["endCursor"])
    third, page3 = await _ids(h, organizationId=str(org.id), first=2, after=page2["endCursor"])
    assert first + second + third == newest_first
    assert (page1["totalCount"], page1["hasNextPage"], page3["hasNextPage"]) == (5, True, False)

    assert (await _ids(h, organizationId=str(org.id), status="CANCELLED"))[0] == [made[0]["id"]]
    voting, page = await _ids(
        h, organizationId=str(org.id), status=["VOTING", "CANCELLED"], kind="OPERATIONAL"
    )
    assert (voting, page["totalCount"]) == ([made[4]["id"], made[1]["id"], made[0]["id"]], 3)
    in_cell, page = await _ids(h, organizationId=str(org.id), bodyId=str(org.cell), status="VOTING")
    assert (in_cell, page["totalCount"]) == ([made[4]["id"]], 1)
    by_slug, _ = await _ids(h, organization=org.slug, kind="BUDGET")
    assert by_slug == [made[2]["id"]]


async def test_a_batch_answers_the_known_ids_only(h):
    org = await h.found()
    a = await h.proposed(CELL_CORE[0], org.cell)
    b = await h.proposed(CELL_CORE[0], org.cell)
    ids, page = await _ids(h, ids=f"{a['id']},{b['id']},not-an-id,{org.id}")
    assert sorted(ids) == sorted([a["id"], b["id"]])
    assert set(page) == {"items"}


async def test_an_unknown_proposal_is_not_found(h):
    response = await h.get("/v1/proposals/5b0b7c2e-8f4a-4b59-a0e5-9a1d7b5c1f00")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


async def test_a_malformed_cursor_is_invalid_input(h):
    org = await h.found()
    response = await h.get("/v1/proposals", organizationId=str(org.id), after="nonsense")
    assert (response.status_code, response.json()["error"]["field"]) == (422, "after")


async def test_votes_are_paged_newest_first(h):
    org = await h.found()
    p = await h.proposed(TLC_CORE[0], org.tlc)
    for voter in TLC_CORE[:2]:
        await h.vote(voter, p["id"], "ABSTAIN")
        h.clock.advance(1)
    page1 = (await h.get(f"/v1/proposals/{p['id']}/votes", first=1)).json()
    page2 = (await h.get(f"/v1/proposals/{p['id']}/votes", first=1, after=page1["endCursor"])).json()
    assert [v["voter"].lower() for v in page1["items"] + page2["items"]] == [TLC_CORE[1], TLC_CORE[0]]
    assert (page1["totalCount"], page1["hasNextPage"], page2["hasNextPage"]) == (2, True, False)


async def test_the_policy_shows_settings_and_every_module(h):
    org = await h.found({"votingPeriodSeconds": 120, "quorumPercent": 25})
    policy = (await h.get(f"/v1/organizations/{org.id}/policy")).json()
    assert (policy["votingPeriodSeconds"], policy["quorumPercent"]) == (120, 25)
    assert len(policy["modules"]) == 8
    assert all(m["version"] == 1 for m in policy["modules"])
    missing = await h.get("/v1/organizations/5b0b7c2e-8f4a-4b59-a0e5-9a1d7b5c1f00/policy")
    assert missing.status_code == 404


async def test_listing_stays_fast_on_100000_proposals(h):
    org = await h.found()
    sample = await h.proposed(CELL_CORE[0], org.cell)
    async with h.runtime.db.session() as session:
        await session.execute(
            text(
                """
                INSERT INTO proposals (id, organization_id, organization_slug, kind, status, title,
                    description, body_id, deciding_body_id, proposer, created_at, updated_at,
                    voting_ends_at, module_key, module_version, module, actions, history, voter_count,
                    vote_count)
                SELECT gen_random_uuid(), p.organization_id, p.organization_slug,
                    (ARRAY['OPERATIONAL','BUDGET','STAKEHOLDER'])[1 + i % 3],
                    (ARRAY['VOTING','DEFEATED','ENACTED','QUEUED','CANCELLED'])[1 + i % 5],
                    'bulk', '', p.body_id, p.deciding_body_id, p.proposer,
                    p.created_at - make_interval(secs => i), p.updated_at, p.voting_ends_at, p.module_key,
                    p.module_version, p.module, '[]'::jsonb, p.history, 3, 0
                FROM proposals p, generate_series(1, 100000) AS i WHERE p.id = :id
                """
            ),
            {"id": sample["id"]},
        )
        await session.execute(
            text(
                """
                INSERT INTO proposal_counts (organization_id, body_id, kind, status, count)
                SELECT organization_id, body_id, kind, status, count(*) FROM proposals
                WHERE organization_id = :org AND title = 'bulk' GROUP BY 1, 2, 3, 4
                ON CONFLICT (organization_id, body_id, kind, status)
                DO UPDATE SET count = proposal_counts.count + EXCLUDED.count
                """
            ),
            {"org": str(org.id)},
        )
    async with h.runtime.db.session() as session:
        await session.execute(text("ANALYZE proposals"))

    started = time.perf_counter()
    ids, page = await _ids(h, organizationId=str(org.id), status=["QUEUED", "DEFEATED"], first=100)
    _, deeper = await _ids(
        h, organizationId=str(org.id), status="QUEUED", kind="BUDGET", first=100, after=page["endCursor"]
    )
    elapsed = time.perf_counter() - started
    assert (len(ids), page["totalCount"], deeper["totalCount"]) == (100, 40_000, 6_666)
    assert elapsed < 1.0, f"two pages took {elapsed:.2f} s"
