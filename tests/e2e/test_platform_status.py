"""Dashboards: platformStatus and GET /status aggregate the services and degrade per service."""

from __future__ import annotations

from tests.e2e.harness import Api


async def test_platform_status_reports_every_service_ok(api: Api, platform):
    status = (await api.op("PlatformStatus"))["platformStatus"]
    assert status["status"] == "OK"
    by_name = {s["name"]: s for s in status["services"]}
    assert set(by_name) == {"membership", "proposals", "timelock", "gateway"}
    for s in by_name.values():
        assert s["status"] == "OK"
        assert s["uptimeSeconds"] > 0
        assert s["version"]
    rest = (await api.http.get(f"{platform.gateway_url}/status", timeout=10)).json()
    assert {s["name"] for s in rest["services"]} == {"membership", "proposals", "timelock", "gateway"}


async def test_a_stopped_service_shows_as_down_while_the_others_stay_ok(api: Api, platform):
    platform.children["timelock"].stop()
    try:
        status = (await api.op("PlatformStatus"))["platformStatus"]
        by_name = {s["name"]: s["status"] for s in status["services"]}
        assert by_name["timelock"] == "DOWN"
        assert by_name["membership"] == "OK"
        assert status["status"] in ("DEGRADED", "DOWN")
    finally:
        platform.restart("timelock")
    status = (await api.op("PlatformStatus"))["platformStatus"]
    assert status["status"] == "OK"
