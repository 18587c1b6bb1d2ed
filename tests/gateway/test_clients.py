"""The service clients' reading rules that the fakes do not exercise."""

from __future__ import annotations

import httpx

from gateway.clients.proposals import ProposalsClient

SECRET = "internal-secret-for-client-tests-0123456789"
ORG = "6b1f1a2e-8a47-4c35-9c43-1f0f1d7b6a10"


def _client(answers: list[httpx.Response], calls: list[str]) -> ProposalsClient:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    http = httpx.AsyncClient(base_url="http://proposals", transport=httpx.MockTransport(handle))
    return ProposalsClient(http, secret=SECRET, actor=None)


def _not_found() -> httpx.Response:
    return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "no such organisation"}})


async def test_the_registry_of_an_organisation_just_founded_waits_for_the_proposals_projection():
    calls: list[str] = []
    modules = [{"key": "OPERATIONAL:TOP_LEVEL_CELL"}]
    client = _client([_not_found(), _not_found(), httpx.Response(200, json={"modules": modules})], calls)
    assert await client.registry(ORG) == modules
    assert calls == [f"/v1/organizations/{ORG}/registry"] * 3


async def test_an_organisation_the_proposals_service_never_learns_of_has_an_empty_registry():
    calls: list[str] = []
    client = _client([_not_found()], calls)
    assert await client.registry(ORG) == []
    assert len(calls) > 3  # asked again for a while, then given up
