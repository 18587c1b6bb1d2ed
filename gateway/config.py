"""Gateway settings: `GATEWAY_*` for its own, the shared names (`NATS_URL`, ...) from the kit's base."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "gateway"

    port: int = Field(default=8000, description="Port the process listens on.")

    membership_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the membership service."
    )
    proposals_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of the proposals service."
    )
    timelock_url: str = Field(
        default="http://127.0.0.1:8003", description="Base URL of the timelock service."
    )

    service_timeout_seconds: float = Field(default=5.0, description="Per-call budget towards a service.")
    service_connect_timeout_seconds: float = Field(
        default=2.0, description="Connect timeout towards a service."
    )
    read_retries: int = Field(
        default=2,
        description="Retries of an idempotent read on 502/503/504 or a transport error (writes: none).",
    )
    max_connections_per_service: int = Field(
        default=100, description="HTTP connection pool size per service."
    )
    status_timeout_seconds: float = Field(
        default=1.0,
        description="Each service's /status probe gets this long, so dashboards always get an answer.",
    )

    max_query_depth: int = Field(default=12, description="Deepest selection a query may nest.")
    max_tokens: int = Field(default=2000, description="Most tokens a GraphQL document may have.")
    max_aliases: int = Field(default=15, description="Most aliases in one document (fragments included).")
    max_body_bytes: int = Field(default=64 * 1024, description="Largest request body (413 beyond).")
    request_timeout_seconds: float = Field(default=15.0, description="A request taking longer gets a 504.")
    max_subscriptions_per_connection: int = Field(
        default=20, description="Subscriptions one websocket may hold."
    )
    subscriber_queue_size: int = Field(
        default=256, description="Events buffered per subscriber; a client further behind is disconnected."
    )
    introspection: bool = Field(
        default=True, description="Allow schema introspection (turn off where the schema is not public)."
    )
    graphiql: bool = Field(default=True, description="Serve GraphiQL to browsers at /graphql.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description='Other origins whose pages may open a websocket, as a JSON list ("*": any).',
    )

    auth_token_keys: str = Field(
        default="dev:dev-member-token-secret-change-me",
        validation_alias="AUTH_TOKEN_KEYS",
        description="Member token keys `kid:secret,...` (the same ring as membership); any key verifies.",
    )

    events_watchdog_seconds: float = Field(
        default=5.0,
        description="How often the subscription fan-out checks its consumer is alive (nats.py #510).",
    )
    events_idle_heartbeat_seconds: float = Field(
        default=5.0, description="Idle heartbeat of the fan-out's ordered consumer."
    )
