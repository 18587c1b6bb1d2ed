"""The demo seed, through the gateway over the real services, with short periods."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gateway.seed import SLUG, demo_account, seed_demo
from kit.testing import eventually
from tests.gateway.conftest import Gateway


async def statuses(gw: Gateway) -> Counter[str]:
    result = await gw.op("Proposals", {"organization": SLUG, "first": 100})
    return Counter(edge["node"]["status"] for edge in result["data"]["proposals"]["edges"])


async def test_the_demo_seed_builds_reimagining_power_once(live_gateway: Gateway, platform: Any) -> None:
    await seed_demo(platform.url, voting_seconds=3, review_seconds=4, delay_seconds=2, poll_seconds=0.1)

    org = (await live_gateway.op("Organization", {"slug": SLUG}))["data"]["organization"]
    assert org["name"] == "Reimagining Power"
    assert len(org["stakeholderGroup"]["members"]) == 5
    assert org["topLevelCell"]["cellState"]["status"] == "APPROVED"
    coordinating = {c["name"]: c for c in org["topLevelCell"]["children"]}
    assert set(coordinating) == {"Research & Design", "Community & Operations"}
    body = (await live_gateway.op("Body", {"id": coordinating["Research & Design"]["id"]}))["data"]["body"]
    assert {c["name"] for c in body["children"]} == {"Field Research", "Design Lab"}
    assert int(org["treasury"]["committed"]) > 0
    seen = await statuses(live_gateway)
    assert {"ENACTED", "DEFEATED", "BLOCKED", "CANCELLED", "VOTING", "IN_REVIEW", "QUEUED"} <= set(seen)

    async def moved_on() -> bool:
        return {"EXPIRED", "FAILED"} <= set(await statuses(live_gateway))

    await eventually(moved_on, within=20, interval=0.5)
    total = sum((await statuses(live_gateway)).values())
    await seed_demo(platform.url)
    assert sum((await statuses(live_gateway)).values()) == total


def test_demo_keys_are_deterministic() -> None:
    assert demo_account("Ada").address == demo_account("Ada").address
    assert demo_account("Ada").address != demo_account("Bo").address
