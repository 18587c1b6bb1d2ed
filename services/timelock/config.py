from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings


class Settings(ServiceSettings):
    """Timelock settings: `TIMELOCK_*`, plus the shared names of `kit.ServiceSettings`."""

    model_config = SettingsConfigDict(env_prefix="TIMELOCK_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "timelock"

    port: int = Field(default=8003, description="Port the process listens on.")
    default_grace_period_seconds: int = Field(
        default=14 * 24 * 3600,
        ge=0,
        description=(
            "Grace period of a ready operation when the proposal's module sends none: past it, unexecuted, "
            "the operation expires (0 = never)."
        ),
    )
    review_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        description=(
            "How long a concern or objection waits for a review that the proposals service has just "
            "requested (the proposal already shows IN_REVIEW) before answering NOT_FOUND."
        ),
    )

    # --- webhooks (docs/events.md, "Webhooks") ---------------------------------------------------------
    webhook_secret_keys: str = Field(
        default="dev-only-webhook-key-change-me-in-production",
        description=(
            "Encrypts webhook signing secrets at rest (a Secret in production): comma-separated Fernet "
            "keys, newest first; the first encrypts, all decrypt."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest a webhook request may take, connection to answer."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts at one webhook delivery before it is marked dead."
    )
    webhook_retry_base_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Wait after a failed webhook attempt, doubled after each further failure.",
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between two webhook attempts."
    )
    webhook_max_concurrency: int = Field(
        default=20, ge=1, description="Webhook requests in flight at once per process (one per endpoint)."
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description=(
            "Allow webhook URLs that resolve to private, loopback or link-local addresses (tests, "
            "local development); refused otherwise."
        ),
    )
    webhook_require_https: bool = Field(
        default=True, description="Refuse webhook URLs that are not https:// (false for local development)."
    )
    webhook_retention_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=3600,
        description="Delivered and dead webhook deliveries are deleted after this long.",
    )
