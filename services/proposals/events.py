"""The events proposals publishes (docs/internal-api.md, "Events" > proposals): domain events → envelopes.

`proposal.*` and `vote.cast` are recorded by the `Proposal` aggregate with their data; `policy.*` are
built here. The outbox adds `sequence` per aggregate instance (the proposal, its votes, the policy).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kit import Envelope, new_event

from .domain import DecisionModule, DomainEvent, Policy, Proposal

SOURCE = "/services/proposals"


def proposal_event(p: Proposal, event: DomainEvent, now: datetime) -> Envelope:
    return new_event(
        source=SOURCE,
        organization=p.organization_slug,
        organization_id=str(p.organization_id),
        aggregate=event.aggregate,
        aggregate_id=str(p.id),
        event=event.name,
        data=event.data,
        time=now,
        subject_kind="proposals",
    )


def _policy_event(
    organization_slug: str, organization_id: uuid.UUID, name: str, data: dict[str, Any], now: datetime
) -> Envelope:
    return new_event(
        source=SOURCE,
        organization=organization_slug,
        organization_id=str(organization_id),
        aggregate="policy",
        aggregate_id=str(organization_id),
        event=name,
        data=data,
        time=now,
        subject_kind="organizations",
    )


def policy_events(
    organization_slug: str,
    organization_id: uuid.UUID,
    policy: Policy,
    changed: Sequence[DecisionModule],
    proposal_id: uuid.UUID | None,
    now: datetime,
    *,
    updated: bool = True,
) -> list[Envelope]:
    """One `policy.module_changed` per new module version, then (for an enacted change, not for the
    organisation's first policy) `policy.updated` with the full settings."""
    pid = str(proposal_id) if proposal_id else None
    out = [
        _policy_event(
            organization_slug,
            organization_id,
            "module_changed",
            {"moduleKey": m.key, "version": m.version, "module": m.to_dict(), "proposalId": pid},
            now,
        )
        for m in changed
    ]
    if not updated:
        return out
    out.append(
        _policy_event(
            organization_slug,
            organization_id,
            "updated",
            {
                "policy": policy.settings.to_dict(),
                "changedModules": [m.key for m in changed],
                "proposalId": pid,
            },
            now,
        )
    )
    return out
