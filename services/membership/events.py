"""The events membership publishes (docs/internal-api.md, "Events" > membership).

Each constructor answers an envelope for the outbox; `data` also gets `organization`,
`organizationId` (here) and `sequence` (the outbox). Amounts and weights are decimal strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from kit import Envelope, new_event

from .domain import CellState, checksum, format_amount

SOURCE = "/services/membership"


@dataclass(frozen=True)
class OrgRef:
    """Which organisation an event belongs to: its id and its slug (the subject carries the slug)."""

    id: UUID
    slug: str


def _event(
    org: OrgRef, aggregate: str, aggregate_id: UUID, event: str, now: datetime, data: dict[str, Any]
) -> Envelope:
    return new_event(
        source=SOURCE,
        organization=org.slug,
        organization_id=str(org.id),
        aggregate=aggregate,
        aggregate_id=str(aggregate_id),
        event=event,
        data=data,
        time=now,
    )


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def organization_created(
    org: OrgRef,
    *,
    name: str,
    purpose: str,
    stakeholder_group_id: UUID,
    top_level_cell_id: UUID,
    policy: Mapping[str, Any],
    starts_at: datetime,
    now: datetime,
) -> Envelope:
    return _event(
        org,
        "organization",
        org.id,
        "created",
        now,
        {
            "slug": org.slug,
            "name": name,
            "purpose": purpose,
            "stakeholderGroupId": str(stakeholder_group_id),
            "topLevelCellId": str(top_level_cell_id),
            "policy": dict(policy),
            "startsAt": iso(starts_at),
        },
    )


def cycles_changed(
    org: OrgRef, *, from_cycle: int, starts_at: datetime, cycle_length_seconds: int, now: datetime
) -> Envelope:
    return _event(
        org,
        "organization",
        org.id,
        "cycles_changed",
        now,
        {"fromCycle": from_cycle, "startsAt": iso(starts_at), "cycleLengthSeconds": cycle_length_seconds},
    )


def body_created(
    org: OrgRef,
    *,
    body_id: UUID,
    kind: str,
    name: str,
    purpose: str,
    parent_id: UUID | None,
    is_top_level: bool,
    proposal_id: UUID | None,
    now: datetime,
) -> Envelope:
    return _event(
        org,
        "body",
        body_id,
        "created",
        now,
        {
            "bodyId": str(body_id),
            "kind": kind,
            "name": name,
            "purpose": purpose,
            "parentId": _id(parent_id),
            "isTopLevel": is_top_level,
            "proposalId": _id(proposal_id),
        },
    )


def cell_state_set(org: OrgRef, *, body_id: UUID, state: CellState, now: datetime) -> Envelope:
    return _event(
        org,
        "body",
        body_id,
        "cell_state_set",
        now,
        {
            "bodyId": str(body_id),
            "status": str(state.status),
            "purpose": state.purpose,
            "strategy": state.strategy,
            "agreements": list(state.agreements),
            "approvedAt": iso(state.approved_at),
            "proposalId": _id(state.proposal_id),
        },
    )


def membership_joined(
    org: OrgRef,
    *,
    body_id: UUID,
    body_kind: str,
    address: str,
    role: str,
    weight: Decimal,
    proposal_id: UUID | None,
    now: datetime,
) -> Envelope:
    return _event(
        org,
        "membership",
        body_id,
        "joined",
        now,
        {
            "bodyId": str(body_id),
            "bodyKind": body_kind,
            "address": checksum(address),
            "role": role,
            "weight": format_amount(weight),
            "proposalId": _id(proposal_id),
        },
    )


def membership_left(
    org: OrgRef,
    *,
    body_id: UUID,
    body_kind: str,
    address: str,
    role: str,
    withdrawn: Decimal,
    proposal_id: UUID | None,
    now: datetime,
) -> Envelope:
    return _event(
        org,
        "membership",
        body_id,
        "left",
        now,
        {
            "bodyId": str(body_id),
            "bodyKind": body_kind,
            "address": checksum(address),
            "role": role,
            "withdrawn": format_amount(withdrawn),
            "proposalId": _id(proposal_id),
        },
    )


def weight_changed(org: OrgRef, *, body_id: UUID, address: str, weight: Decimal, now: datetime) -> Envelope:
    return _event(
        org,
        "membership",
        body_id,
        "weight_changed",
        now,
        {"bodyId": str(body_id), "address": checksum(address), "weight": format_amount(weight)},
    )


def funds_committed(
    org: OrgRef, *, address: str, cycle: int, amount: Decimal, status: str, now: datetime
) -> Envelope:
    return _event(
        org,
        "funds",
        org.id,
        "committed",
        now,
        {"address": checksum(address), "cycle": cycle, "amount": format_amount(amount), "status": status},
    )


def funds_withdrawn(
    org: OrgRef, *, address: str, amount: Decimal, cycles: Sequence[int], now: datetime
) -> Envelope:
    return _event(
        org,
        "funds",
        org.id,
        "withdrawn",
        now,
        {"address": checksum(address), "amount": format_amount(amount), "cycles": list(cycles)},
    )


def budget_allocated(
    org: OrgRef, *, cell_id: UUID, cycle: int, amount: Decimal, proposal_id: UUID, now: datetime
) -> Envelope:
    return _event(
        org,
        "funds",
        org.id,
        "budget_allocated",
        now,
        {
            "cellId": str(cell_id),
            "cycle": cycle,
            "amount": format_amount(amount),
            "proposalId": str(proposal_id),
        },
    )


def actions_applied(
    org: OrgRef, *, proposal_id: UUID, created_body_ids: Sequence[UUID], now: datetime
) -> Envelope:
    return _event(
        org,
        "organization",
        org.id,
        "actions_applied",
        now,
        {"proposalId": str(proposal_id), "createdBodyIds": [str(b) for b in created_body_ids]},
    )


def actions_rejected(org: OrgRef, *, proposal_id: UUID, reason: str, code: str, now: datetime) -> Envelope:
    return _event(
        org,
        "organization",
        org.id,
        "actions_rejected",
        now,
        {"proposalId": str(proposal_id), "reason": reason, "code": code},
    )


def commission_created(
    org: OrgRef,
    *,
    body_id: UUID,
    name: str,
    seats: Sequence[Mapping[str, Any]],
    selection: str,
    created_by: str,
    now: datetime,
) -> Envelope:
    """After its `body.created` (kind COMMISSION): the seat quotas and how members are selected."""
    return _event(
        org,
        "commission",
        body_id,
        "created",
        now,
        {
            "bodyId": str(body_id),
            "name": name,
            "seats": [dict(s) for s in seats],
            "selection": selection,
            "createdBy": checksum(created_by),
        },
    )


def commission_seated(
    org: OrgRef,
    *,
    body_id: UUID,
    address: str,
    group: str,
    selection: str,
    seated_by: str,
    now: datetime,
) -> Envelope:
    """A seat filled (after the member's `membership.joined`): which group, by which method."""
    return _event(
        org,
        "commission",
        body_id,
        "seated",
        now,
        {
            "bodyId": str(body_id),
            "address": checksum(address),
            "group": group,
            "selection": selection,
            "seatedBy": checksum(seated_by),
        },
    )
