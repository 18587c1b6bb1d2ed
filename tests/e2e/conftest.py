from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stack.infra import free_port
from tests.e2e.harness import Api, Platform, isolated_env, start_platform


@pytest.fixture(scope="module")
def platform(infra, tmp_path_factory) -> AsyncIterator[Platform]:
    """The real processes, once per test module, on this run's Postgres and NATS, isolated by names."""
    env = isolated_env(infra.database_url, infra.nats_url)
    ports = {name: free_port() for name in ("membership", "proposals", "timelock", "gateway")}
    p = start_platform(env, tmp_path_factory.mktemp("logs"), ports)
    yield p
    p.stop()


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[Api]:
    client = Api(platform.graphql_url)
    yield client
    await client.http.aclose()


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
