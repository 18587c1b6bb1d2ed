"""What proposals knows of an organisation (its projection of membership's events), and who may propose.

Proposer rights (`Proposer`) against the actor's current roles in the organisation:

    RAISING_CELL_CORE_TEAM    core team of the cell the proposal is raised in
    TOP_LEVEL_CELL_CORE_TEAM  core team of the TLC
    OPERATIONAL_MEMBER        core team or contributor of any cell of the organisation
    STAKEHOLDER               member of the Stakeholder Group
    ANY_MEMBER                any signed-in member, even one of no body

Voters: the core team of a deciding cell, the stakeholders of a deciding SHG, with their current weights
at the moment voting opens (the snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

# the domain package re-exports these
from kit import checksum as checksum
from kit import normalize_address as normalize_address

from .policy import Decider, Proposer, Scope


class BodyKind(StrEnum):
    STAKEHOLDER_GROUP = "STAKEHOLDER_GROUP"
    CELL = "CELL"
    # a feedback commission (membership's seat quotas): gives feedback, never decides a proposal
    COMMISSION = "COMMISSION"


class Role(StrEnum):
    STAKEHOLDER = "STAKEHOLDER"
    CORE_TEAM = "CORE_TEAM"
    CONTRIBUTOR = "CONTRIBUTOR"
    COMMISSIONER = "COMMISSIONER"


VOTING_ROLE = {
    BodyKind.STAKEHOLDER_GROUP: Role.STAKEHOLDER,
    BodyKind.CELL: Role.CORE_TEAM,
    BodyKind.COMMISSION: Role.COMMISSIONER,
}
# roles a proposal's actions may give; commission seats are filled through membership, not by proposals
ROLES_BY_KIND = {
    BodyKind.STAKEHOLDER_GROUP: frozenset({Role.STAKEHOLDER}),
    BodyKind.CELL: frozenset({Role.CORE_TEAM, Role.CONTRIBUTOR}),
    BodyKind.COMMISSION: frozenset(),
}


@dataclass(frozen=True)
class BodyView:
    id: UUID
    kind: BodyKind
    parent_id: UUID | None
    is_top_level: bool


@dataclass(frozen=True)
class OrganizationView:
    """An organisation's structure as the projection knows it."""

    id: UUID
    slug: str
    stakeholder_group_id: UUID
    top_level_cell_id: UUID
    cycle_anchor_at: datetime
    cycle_length_seconds: int
    cycle_anchor_index: int = 0
    bodies: Mapping[UUID, BodyView] = field(default_factory=dict)

    def scope_of(self, body: BodyView) -> Scope:
        if body.kind is BodyKind.STAKEHOLDER_GROUP:
            return Scope.STAKEHOLDER_GROUP
        return Scope.TOP_LEVEL_CELL if body.id == self.top_level_cell_id or body.is_top_level else Scope.CELL

    def deciding_body_id(self, decider: Decider, raising_body: BodyView) -> UUID:
        return raising_body.id if decider is Decider.RAISING_CELL else self.stakeholder_group_id

    def is_within(self, body_id: UUID, ancestor_id: UUID) -> bool:
        """Whether `body_id` is `ancestor_id` or one of its descendants."""
        seen: set[UUID] = set()
        current: UUID | None = body_id
        while current is not None and current not in seen:
            if current == ancestor_id:
                return True
            seen.add(current)
            body = self.bodies.get(current)
            current = body.parent_id if body else None
        return False

    def cycle_starts_at(self, cycle: int) -> datetime:
        """When `cycle` starts, for cycles from the anchor on (the schedule as known now)."""
        offset = self.cycle_length_seconds * (cycle - self.cycle_anchor_index)
        return self.cycle_anchor_at + timedelta(seconds=offset)

    def current_cycle(self, now: datetime) -> int:
        if now < self.cycle_anchor_at:
            return self.cycle_anchor_index
        return self.cycle_anchor_index + int(
            (now - self.cycle_anchor_at).total_seconds() // self.cycle_length_seconds
        )

    def lineage(self, body_id: UUID) -> list[UUID]:
        """The body, then its parent, up to the root: where a more specific decision module is looked for."""
        out: list[UUID] = []
        current: UUID | None = body_id
        while current is not None and current not in out:
            out.append(current)
            body = self.bodies.get(current)
            current = body.parent_id if body else None
        return out

    def cycle_has_started(self, cycle: int, now: datetime) -> bool:
        """Cycle `cycle_anchor_index` starts at `cycle_anchor_at`, each lasting `cycle_length_seconds`; a
        change of length moves the anchor to the next boundary (`organization.cycles_changed`), so cycles
        before it keep their start."""
        if cycle < self.cycle_anchor_index:
            return True
        offset = self.cycle_length_seconds * (cycle - self.cycle_anchor_index)
        return self.cycle_anchor_at + timedelta(seconds=offset) <= now


@dataclass(frozen=True)
class ActorRoles:
    """The actor's current roles in one organisation, by body."""

    address: str
    roles: Mapping[UUID, Role] = field(default_factory=dict)

    @classmethod
    def of(cls, address: str, roles: Iterable[tuple[UUID, str]]) -> ActorRoles:
        return cls(address, {body_id: Role(role) for body_id, role in roles})


def may_propose(
    proposers: Iterable[Proposer], actor: ActorRoles, org: OrganizationView, raising: BodyView
) -> bool:
    for right in proposers:
        if right is Proposer.ANY_MEMBER:
            return True
        if right is Proposer.RAISING_CELL_CORE_TEAM and actor.roles.get(raising.id) is Role.CORE_TEAM:
            return True
        if (
            right is Proposer.TOP_LEVEL_CELL_CORE_TEAM
            and actor.roles.get(org.top_level_cell_id) is Role.CORE_TEAM
        ):
            return True
        if right is Proposer.STAKEHOLDER and actor.roles.get(org.stakeholder_group_id) is Role.STAKEHOLDER:
            return True
        if right is Proposer.OPERATIONAL_MEMBER and any(
            role in (Role.CORE_TEAM, Role.CONTRIBUTOR)
            and (b := org.bodies.get(body_id)) is not None
            and b.kind is BodyKind.CELL
            for body_id, role in actor.roles.items()
        ):
            return True
    return False


@dataclass(frozen=True)
class Voter:
    address: str
    weight: Decimal


def voters_of(body: BodyView, members: Iterable[tuple[str, str, Decimal]]) -> list[Voter]:
    """The snapshot of who may vote for `body` from its current `(address, role, weight)` members."""
    role = VOTING_ROLE[body.kind]
    return [Voter(address, weight) for address, r, weight in members if r == role]
