"""Live events: a subscriber sees a proposal's status changes, in order, while it goes through review."""

from __future__ import annotations

import uuid

from tests.e2e.harness import OPERATIONS, Api, Subscription, Wallet


async def test_a_subscriber_receives_every_status_change_of_a_proposal_driven_through_review(
    api: Api, platform
):
    shg = [await api.sign_in(Wallet.create()) for _ in range(2)]
    tlc = [await api.sign_in(Wallet.create()) for _ in range(2)]
    slug = f"live-{uuid.uuid4().hex[:8]}"
    org = (
        await api.ok(
            "CreateOrganization",
            shg[0],
            input={
                "slug": slug,
                "name": "Live",
                "purpose": "Watch events",
                "stakeholders": [{"address": w.address} for w in shg],
                "topLevelCell": {
                    "name": "TLC",
                    "purpose": "Do things",
                    "coreTeam": [{"address": w.address} for w in tlc],
                },
                "policy": {"reviewPeriodSeconds": 2, "votingPeriodSeconds": 60},
            },
        )
    )["organization"]
    async with Subscription(
        platform.graphql_url, OPERATIONS["ProposalEvents"], {"organization": slug}
    ) as sub:
        created = await api.ok(
            "CreateProposal",
            tlc[0],
            input={
                "bodyId": org["topLevelCell"]["id"],
                "kind": "OPERATIONAL",
                "title": "Open a shared calendar",
                "description": "Signal only",
                "actions": [],
            },
        )
        pid = created["proposal"]["id"]
        for w in tlc:
            await api.ok("CastVote", w, proposalId=pid, choice="FOR")
        seen: list[tuple[str, str]] = []
        while not seen or seen[-1][1] != "ENACTED":
            payload = await sub.next(within=20)
            assert "protocol" not in payload, payload
            event = payload["data"]["proposalEvents"]
            assert event["proposal"]["id"] == pid
            seen.append((event["type"], event["proposal"]["status"]))
        types = [t for t, _ in seen]
        assert types[0].endswith("proposal.created.v1")
        assert sum(t.endswith("vote.cast.v1") for t in types) == 2
        statuses = [s for _, s in seen]
        # statuses only move forward: VOTING ... IN_REVIEW ... ENACTED
        order = {"VOTING": 0, "IN_REVIEW": 1, "ENACTED": 2}
        ranks = [order[s] for s in statuses]
        assert ranks == sorted(ranks)
        assert "IN_REVIEW" in statuses
