"""The process-wide HTTP connection pools, one `httpx.AsyncClient` per service."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx

from gateway.config import Settings

SERVICES = ("membership", "proposals", "timelock")


@dataclass(frozen=True)
class ServicePool:
    membership: httpx.AsyncClient
    proposals: httpx.AsyncClient
    timelock: httpx.AsyncClient

    @classmethod
    def create(
        cls, settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
    ) -> ServicePool:
        """Pools with the gateway's timeouts; `transports` replaces the network (tests: ASGI or mock)."""
        transports = transports or {}
        urls = {
            "membership": settings.membership_url,
            "proposals": settings.proposals_url,
            "timelock": settings.timelock_url,
        }
        timeout = httpx.Timeout(
            settings.service_timeout_seconds, connect=settings.service_connect_timeout_seconds
        )
        limits = httpx.Limits(
            max_connections=settings.max_connections_per_service,
            max_keepalive_connections=settings.max_connections_per_service,
        )
        clients = {
            name: httpx.AsyncClient(
                base_url=urls[name], timeout=timeout, limits=limits, transport=transports.get(name)
            )
            for name in SERVICES
        }
        return cls(**clients)

    def items(self) -> Iterator[tuple[str, httpx.AsyncClient]]:
        for name in SERVICES:
            yield name, getattr(self, name)

    async def aclose(self) -> None:
        for _, client in self.items():
            await client.aclose()
