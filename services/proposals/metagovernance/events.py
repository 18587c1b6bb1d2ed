"""Events of experiments, polls and milestones (docs/internal-api.md, "Events" > proposals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from kit import Envelope, new_event

from ..events import SOURCE


def event(
    organization_slug: str,
    organization_id: UUID,
    aggregate: str,
    aggregate_id: UUID,
    name: str,
    data: dict[str, Any],
    now: datetime,
) -> Envelope:
    return new_event(
        source=SOURCE,
        organization=organization_slug,
        organization_id=str(organization_id),
        aggregate=aggregate,
        aggregate_id=str(aggregate_id),
        event=name,
        data=data,
        time=now,
    )
