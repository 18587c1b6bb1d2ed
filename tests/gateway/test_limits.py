"""What one client may ask: depth, aliases, tokens, body size, time; errors never leak internals."""

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
async def make_gateway(
    settings_for: Callable[..., Any], fake: FakeServices
) -> AsyncIterator[Callable[..., Any]]:
    stack: list[Any] = []

    async def make(
        transports: dict[str, httpx.AsyncBaseTransport] | None = None, **overrides: Any
    ) -> Gateway:
        settings = settings_for(Settings, **overrides)
        app = create_app(settings, transports=transports or fake.transports())
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        stack.append((lifespan, http))
        return Gateway(http, app)

    yield make
    for lifespan, http in reversed(stack):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


def nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"parent {{ {inner} }}"
    return f'{{ body(id: "00000000-0000-4000-8000-000000000001") {{ {inner} }} }}'


async def test_a_query_deeper_than_the_limit_is_refused(gateway: Gateway, fake: FakeServices) -> None:
    result = await gateway.execute(nested(20))
    assert result["data"] is None
    assert "exceeds maximum operation depth" in result["errors"][0]["message"]
    assert fake.calls == []


async def test_a_query_within_the_depth_limit_runs(gateway: Gateway) -> None:
    result = await gateway.execute(nested(5))
    assert result == {"data": {"body": None}}


async def test_too_many_aliases_are_refused(gateway: Gateway, fake: FakeServices) -> None:
    aliases = " ".join(f'a{i}: organization(slug: "x{i:03d}") {{ id }}' for i in range(20))
    result = await gateway.execute(f"{{ {aliases} }}")
    assert "aliases found" in result["errors"][0]["message"]
    assert fake.calls == []


async def test_aliases_hidden_in_fragments_are_counted(gateway: Gateway) -> None:
    fragment = "fragment F on Query { " + " ".join(f"m{i}: me {{ address }}" for i in range(20)) + " }"
    result = await gateway.execute("{ ...F } " + fragment)
    assert "aliases found" in result["errors"][0]["message"]


async def test_too_many_tokens_are_refused(gateway: Gateway) -> None:
    fields = " ".join("__typename" for _ in range(3000))
    result = await gateway.execute(f"{{ {fields} }}")
    assert "token" in result["errors"][0]["message"].lower()


async def test_a_body_over_the_size_limit_is_413(gateway: Gateway) -> None:
    response = await gateway.post("{ me { address } }", {"padding": "x" * 100_000})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_streamed_body_over_the_size_limit_is_413(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ me { address } }", "variables": {"p": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}}'

    response = await gateway.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_an_unexpected_failure_is_masked_without_internals(
    gateway: Gateway, fake: FakeServices
) -> None:
    org = fake.add_organization("rp-broken")
    fake.bodies[org["topLevelCellId"]]["kind"] = "NOT_A_KIND"  # the service answers something unparseable

    result = await gateway.execute('{ organization(slug: "rp-broken") { topLevelCell { kind } } }')

    error = result["errors"][0]
    assert error["message"] == "Internal error."
    assert error["extensions"] == {"code": "INTERNAL"}
    text = str(result)
    assert "Traceback" not in text
    assert "NOT_A_KIND" not in text
    assert ".py" not in text


async def test_an_unavailable_service_in_a_query_is_a_coded_error(make_gateway: Callable[..., Any]) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream connect error")

    gw = await make_gateway({"membership": httpx.MockTransport(down)}, read_retries=1)
    result = await gw.execute('{ organization(slug: "rp-down") { id } }')
    assert result["errors"][0]["extensions"] == {"code": "UNAVAILABLE"}
    assert "upstream" not in result["errors"][0]["message"]


async def test_reads_are_retried_and_writes_are_not(
    make_gateway: Callable[..., Any], fake: FakeServices
) -> None:
    attempts: dict[str, int] = {"GET": 0, "POST": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts[request.method] += 1
        return httpx.Response(503, json={"error": {"code": "UNAVAILABLE", "message": "busy", "field": None}})

    gw = await make_gateway({"proposals": httpx.MockTransport(flaky)}, read_retries=2)
    token, _ = fake.key_ring.issue(fake.address("a"), 60)
    await gw.execute('{ proposal(id: "00000000-0000-4000-8000-000000000001") { id } }')
    await gw.op("CancelProposal", {"proposalId": "00000000-0000-4000-8000-000000000001"}, token=token)
    assert attempts == {"GET": 3, "POST": 1}


async def test_a_request_over_the_time_limit_is_504(make_gateway: Callable[..., Any]) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    gw = await make_gateway({"membership": httpx.MockTransport(slow)}, request_timeout_seconds=0.3)
    response = await gw.post('{ organization(slug: "rp-slow") { id } }')
    assert response.status_code == 504


async def test_introspection_can_be_turned_off(make_gateway: Callable[..., Any]) -> None:
    gw = await make_gateway(introspection=False)
    result = await gw.execute("{ __schema { types { name } } }")
    assert result["data"] is None
    assert "introspection" in result["errors"][0]["message"].lower()


async def test_introspection_is_on_by_default(gateway: Gateway) -> None:
    result = await gateway.execute("{ __schema { queryType { name } } }")
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_is_served_in_the_browser_unless_turned_off(
    gateway: Gateway, make_gateway: Callable[..., Any]
) -> None:
    browser = {"accept": "text/html"}
    assert "graphiql" in (await gateway.http.get("/graphql", headers=browser)).text.lower()
    gw = await make_gateway(graphiql=False)
    assert (await gw.http.get("/graphql", headers=browser)).status_code == 404
