"""One private platform for the fault suite (`platform.py`), the organisation its tests drive, a client
per test, and the figures the suite reports at the end of the run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.faults.figures import terminal_summary
from tests.faults.platform import FaultStack, fault_stack
from tests.faults.support import Client, Ledger, Org, found_org


@pytest.fixture(scope="package")
def stack() -> Iterator[FaultStack]:
    """Private Postgres and NATS (restartable), and the platform's four processes on them."""
    with fault_stack() as s:
        yield s


@pytest.fixture(scope="package")
async def org(stack: FaultStack) -> AsyncIterator[Org]:
    """The organisation every fault test drives: six stakeholders, a TLC of five, fast deadlines."""
    client = Client(stack.platform.graphql_url, Ledger())
    try:
        yield await found_org(client)
    finally:
        await client.close()


@pytest.fixture
async def client(stack: FaultStack) -> AsyncIterator[Client]:
    """A client with a fresh ledger: what this test was told."""
    c = Client(stack.platform.graphql_url, Ledger())
    yield c
    await c.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminal_summary(terminalreporter)
