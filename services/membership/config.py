from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings


class Settings(ServiceSettings):
    """Membership settings: `MEMBERSHIP_*`, plus the shared names of `kit.ServiceSettings`."""

    model_config = SettingsConfigDict(env_prefix="MEMBERSHIP_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "membership"

    port: int = Field(default=8001, description="Port the process listens on.")
    siwe_domain: str = Field(
        default="localhost:8000", description="EIP-4361 domain: the host clients sign in at (the gateway)."
    )
    siwe_uri: str = Field(default="http://localhost:8000", description="EIP-4361 URI in the challenge.")
    siwe_chain_id: int = Field(default=1, ge=0, description="EIP-155 chain id the sign-in is bound to.")
    siwe_statement: str = Field(
        default="Sign in to Bicameral.", description="Human-readable statement in the challenge."
    )
    nonce_ttl_seconds: int = Field(default=300, ge=1, description="How long a sign-in challenge is valid.")
    token_ttl_seconds: int = Field(default=3600, ge=1, description="Lifetime of a member bearer token.")
    auth_token_keys: str = Field(
        default="dev:dev-member-token-secret-change-me",
        validation_alias="AUTH_TOKEN_KEYS",
        description="Member token keys `kid:secret,...`: the first signs, any verifies (as the gateway).",
    )
