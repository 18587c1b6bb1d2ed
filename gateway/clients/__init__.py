"""Typed HTTP clients of the services, one per service, over an injected `httpx.AsyncClient`."""

from gateway.clients.base import Page, ServiceClient, error_from_response
from gateway.clients.membership import MembershipClient
from gateway.clients.proposals import ProposalsClient
from gateway.clients.timelock import TimelockClient

__all__ = [
    "MembershipClient",
    "Page",
    "ProposalsClient",
    "ServiceClient",
    "TimelockClient",
    "error_from_response",
]
