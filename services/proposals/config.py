from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit import ServiceSettings


class Settings(ServiceSettings):
    """Proposals settings: `PROPOSALS_*`, plus the shared names of `kit.ServiceSettings`."""

    model_config = SettingsConfigDict(env_prefix="PROPOSALS_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "proposals"

    port: int = Field(default=8002, description="Port the process listens on.")
    projection_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description=(
            "How long a new proposal waits for membership's events to reach this service's projection "
            "(an organisation or body just created, a membership just changed) before NOT_FOUND/FORBIDDEN."
        ),
    )
