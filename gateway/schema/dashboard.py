"""Platform health for dashboards."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from gateway.schema.enums import HealthStatus


@strawberry.type(description="One component's health, from its own /status.")
class ServiceStatus:
    name: str = strawberry.field(description="gateway, membership, proposals or timelock.")
    status: HealthStatus = strawberry.field(description="ok, degraded or down.")
    version: str | None = strawberry.field(description="Its version, when it answered.")
    uptime_seconds: float | None = strawberry.field(description="Seconds since it started, when it answered.")
    details: JSON = strawberry.field(
        description="What it reports (outbox backlog, consumer lag, deadlines, latency...)."
    )


@strawberry.type(description="The platform's health for dashboards.")
class PlatformStatus:
    status: HealthStatus = strawberry.field(
        description="ok when every service is ok; down when none answers."
    )
    services: list[ServiceStatus] = strawberry.field(description="Each component, the gateway first.")
