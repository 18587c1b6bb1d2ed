from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every process shares; each service subclasses it with its own `env_prefix`.

    The shared names (`DATABASE_URL`, `NATS_URL`, ...) carry no prefix: one value serves all processes.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"

    host: str = Field(default="127.0.0.1", description="Interface the process listens on.")
    port: int = Field(default=8000, description="Port the process listens on.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias="DATABASE_URL",
        description="Postgres server; each service uses its own database on it, <prefix>_<service>.",
    )
    database_prefix: str = Field(
        default="bicameral",
        validation_alias="DATABASE_PREFIX",
        description="Prefix of the per-service database names.",
    )
    database_pool_size: int = Field(
        default=10,
        validation_alias="DATABASE_POOL_SIZE",
        description="Connections per process (and as many overflow).",
    )
    run_migrations: bool = Field(
        default=True,
        validation_alias="RUN_MIGRATIONS",
        description="Migrate on start-up; set false where a Job runs `bicameral migrate`.",
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias="NATS_URL",
        description="NATS server(s), comma separated.",
    )
    events_stream: str = Field(
        default="GOVERNANCE", validation_alias="EVENTS_STREAM", description="JetStream stream of all events."
    )
    events_subject_prefix: str = Field(
        default="governance",
        validation_alias="EVENTS_SUBJECT_PREFIX",
        description="First token of every event subject.",
    )
    events_stream_replicas: int = Field(
        default=1,
        validation_alias="EVENTS_STREAM_REPLICAS",
        description="Stream replicas (3 in a NATS cluster).",
    )
    events_stream_max_age_seconds: int = Field(
        default=365 * 24 * 3600,
        validation_alias="EVENTS_STREAM_MAX_AGE_SECONDS",
        description="Events older than this are dropped from the stream.",
    )
    events_stream_max_bytes: int = Field(
        default=10 * 1024**3,
        validation_alias="EVENTS_STREAM_MAX_BYTES",
        description="Stream size limit; the oldest events go first.",
    )
    events_duplicate_window_seconds: int = Field(
        default=300,
        validation_alias="EVENTS_DUPLICATE_WINDOW_SECONDS",
        description="JetStream drops a republished event id within this window.",
    )
    consumer_max_deliver: int = Field(
        default=10,
        validation_alias="CONSUMER_MAX_DELIVER",
        description="Deliveries of a failing event before it is parked.",
    )
    internal_auth_secret: str = Field(
        default="dev-only-internal-secret-change-me-in-production",
        validation_alias="INTERNAL_AUTH_SECRET",
        description="Signs the gateway's identity header to the services (a Secret in production).",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL", description="Log level (JSON logs).")
    shutdown_grace_seconds: float = Field(
        default=10.0,
        validation_alias="SHUTDOWN_GRACE_SECONDS",
        description="Time to finish in-flight requests on SIGTERM.",
    )

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}_{self.service_name}"

    @property
    def server_dsn(self) -> str:
        """The server URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @property
    def service_dsn(self) -> str:
        parts = urlsplit(self.server_dsn)
        return urlunsplit(parts._replace(path=f"/{self.database_name}"))

    @property
    def sqlalchemy_url(self) -> str:
        return self.service_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
