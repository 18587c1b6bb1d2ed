"""Dashboards: `/status`, `/readyz`, `/metrics` and platformStatus degrade per service, never fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.gateway.conftest import Gateway
from tests.gateway.fakes import FakeServices


@pytest.fixture
async def unwell(settings_for: Callable[..., Any], fake: FakeServices) -> AsyncIterator[Gateway]:
    """Membership healthy, proposals hanging, timelock refusing connections."""

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, json={})

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transports = {
        **fake.transports(),
        "proposals": httpx.MockTransport(hang),
        "timelock": httpx.MockTransport(refuse),
    }
    app = create_app(settings_for(Settings, status_timeout_seconds=0.2), transports=transports)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.messaging.wait_ready(), 10)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            yield Gateway(http, app)


async def test_status_aggregates_every_service(gateway: Gateway) -> None:
    response = await gateway.http.get("/status")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert [s["name"] for s in body["services"]] == ["gateway", "membership", "proposals", "timelock"]
    membership = body["services"][1]
    assert (membership["status"], membership["version"], membership["uptimeSeconds"]) == ("ok", "test", 1.5)
    assert "latencyMs" in membership["details"]


async def test_status_degrades_per_service_within_the_timeout(unwell: Gateway) -> None:
    started = asyncio.get_running_loop().time()
    body = (await unwell.http.get("/status")).json()
    elapsed = asyncio.get_running_loop().time() - started

    states = {s["name"]: s["status"] for s in body["services"]}
    assert states == {"gateway": "ok", "membership": "ok", "proposals": "down", "timelock": "down"}
    assert body["status"] == "degraded"
    assert elapsed < 1.5


async def test_platform_status_query_degrades_the_same_way(unwell: Gateway) -> None:
    result = await unwell.op("PlatformStatus")
    status = result["data"]["platformStatus"]
    assert status["status"] == "DEGRADED"
    assert [s["status"] for s in status["services"]] == ["OK", "OK", "DOWN", "DOWN"]
    assert status["services"][2]["details"] == {"error": "no answer within 0.2s"}


async def test_readyz_is_ready_with_nats_and_every_service(gateway: Gateway) -> None:
    response = await gateway.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "problems": []}


async def test_readyz_names_what_is_missing(unwell: Gateway) -> None:
    response = await unwell.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["proposals unreachable", "timelock unreachable"]


async def test_healthz_and_metrics(gateway: Gateway, fake: FakeServices) -> None:
    fake.add_organization("rp-metrics")
    await gateway.op("Organization", {"slug": "rp-metrics"})
    assert (await gateway.http.get("/healthz")).json() == {"status": "ok"}
    metrics = (await gateway.http.get("/metrics")).text
    assert 'gateway_service_calls_total{method="GET",service="membership",status="200"}' in metrics
    assert "http_request_duration_seconds" in metrics
    assert "gateway_nats_subscriptions 0.0" in metrics
