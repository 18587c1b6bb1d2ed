"""Membership rules: who belongs where, with what weight, and whose money is where.

Pure: no database, web or messaging imports; every rule that depends on time takes `now`.

Errors raised here (all `kit.errors`):
    InvalidInput       malformed slug, address, amount, policy, action or role for the body kind
    CoreTeamFull       a cell would have more than `MAX_CORE_TEAM` core team members
    InsufficientFunds  a budget above what is committed and unallocated for a started cycle
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from uuid import UUID

from kit import CoreTeamFull, InsufficientFunds, InvalidInput, checksum, normalize_address

# The seed's model. The proposals service keeps its own copy keyed by the same names; this is the one
# place membership reads them from.
DEFAULT_POLICY: Mapping[str, int | str | bool] = MappingProxyType(
    {
        "votingPeriodSeconds": 604_800,
        "reviewPeriodSeconds": 604_800,
        "concernExtensionSeconds": 259_200,
        "vetoThresholdPercent": 33,
        "quorumPercent": 20,
        "stakeholderWeighting": "EQUAL",
        "cycleLengthSeconds": 7_776_000,
        "communityProposals": False,
        "policyDelaySeconds": 7_776_000,
    }
)

# "A core team of fewer than 10 people" (seed 000). The database enforces it too (CHECK constraint).
MAX_CORE_TEAM = 9
MAX_SECONDS = 10 * 365 * 24 * 3600
MAX_AMOUNT_DECIMALS = 18
MAX_AMOUNT = Decimal(10) ** 24
MAX_CYCLES_AHEAD = 1000
MAX_NAME = 200
MAX_TEXT = 10_000
MAX_AGREEMENTS = 100
MAX_MEMBERS_LISTED = 1000

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,46})[a-z0-9]$")


class StakeholderWeighting(StrEnum):
    EQUAL = "EQUAL"
    COMMITTED_FUNDS = "COMMITTED_FUNDS"


class BodyKind(StrEnum):
    STAKEHOLDER_GROUP = "STAKEHOLDER_GROUP"
    CELL = "CELL"
    # a feedback commission (seed 002): seats by group, gives feedback on drafts, decides nothing
    COMMISSION = "COMMISSION"


class Role(StrEnum):
    STAKEHOLDER = "STAKEHOLDER"
    CORE_TEAM = "CORE_TEAM"
    CONTRIBUTOR = "CONTRIBUTOR"
    COMMISSIONER = "COMMISSIONER"


class CellStateStatus(StrEnum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"


class CommitmentStatus(StrEnum):
    COMMITTED = "COMMITTED"
    PLEDGED = "PLEDGED"
    WITHDRAWN = "WITHDRAWN"


# --- identifiers and values ----------------------------------------------------------------------


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise InvalidInput(
            "slug must be 3-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
            field="slug",
        )
    return slug


def clean_text(value: Any, *, field: str, max_length: int = MAX_TEXT, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return text


def clean_display_name(value: Any, *, field: str = "displayName") -> str | None:
    if value is None:
        return None
    text = clean_text(value, field=field, max_length=MAX_NAME, required=False)
    return text or None


def parse_amount(value: Any, *, field: str = "amount") -> Decimal:
    """An exact, positive amount. Floats are refused: they cannot carry money exactly."""
    if isinstance(value, bool | float):
        raise InvalidInput("amount must be a decimal string", field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("amount must be a decimal number", field=field) from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput("amount must be positive", field=field)
    if amount >= MAX_AMOUNT:
        raise InvalidInput("amount is too large", field=field)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_AMOUNT_DECIMALS:
        raise InvalidInput(f"amount has more than {MAX_AMOUNT_DECIMALS} decimals", field=field)
    return amount


def format_amount(amount: Decimal) -> str:
    """Canonical decimal string: plain notation, no trailing zeros ("1000.50" → "1000.5"), so sums of
    amounts given at different scales read the same."""
    if amount == 0:
        return "0"
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_uuid(value: Any, *, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{field} is not a valid id", field=field) from None


# --- policy ----------------------------------------------------------------------------------------

_SECONDS_MIN = {
    "votingPeriodSeconds": 1,
    "reviewPeriodSeconds": 1,
    "cycleLengthSeconds": 1,
    # zero is meaningful for these two: no extension, no delay
    "concernExtensionSeconds": 0,
    "policyDelaySeconds": 0,
}
_PERCENTS = ("vetoThresholdPercent", "quorumPercent")


def effective_policy(overrides: Mapping[str, Any] | None = None) -> dict[str, int | str | bool]:
    """The defaults with the given overrides applied (None means "use the default"), validated."""
    policy: dict[str, int | str | bool] = dict(DEFAULT_POLICY)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_POLICY:
            raise InvalidInput(f"unknown policy setting {key}", field=f"policy.{key}")
        if value is not None:
            policy[key] = value
    for key, minimum in _SECONDS_MIN.items():
        value = policy[key]
        if type(value) is not int or not minimum <= value <= MAX_SECONDS:
            raise InvalidInput(
                f"{key} must be a whole number of seconds from {minimum} to {MAX_SECONDS}",
                field=f"policy.{key}",
            )
    for key in _PERCENTS:
        value = policy[key]
        if type(value) is not int or not 1 <= value <= 100:
            raise InvalidInput(f"{key} must be a whole percent from 1 to 100", field=f"policy.{key}")
    if policy["stakeholderWeighting"] not in set(StakeholderWeighting):
        raise InvalidInput(
            "stakeholderWeighting must be EQUAL or COMMITTED_FUNDS", field="policy.stakeholderWeighting"
        )
    policy["stakeholderWeighting"] = str(policy["stakeholderWeighting"])
    if type(policy["communityProposals"]) is not bool:
        raise InvalidInput("communityProposals must be true or false", field="policy.communityProposals")
    return policy


# --- funding cycles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleSegment:
    """From cycle `first_cycle` (starting at `starts_at`) on, each cycle lasts `length_seconds`."""

    first_cycle: int
    starts_at: datetime
    length_seconds: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "firstCycle": self.first_cycle,
            "startsAt": self.starts_at.isoformat(),
            "lengthSeconds": self.length_seconds,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CycleSegment:
        return cls(int(raw["firstCycle"]), datetime.fromisoformat(raw["startsAt"]), int(raw["lengthSeconds"]))


@dataclass(frozen=True)
class CycleSchedule:
    """Funding cycles, numbered from 0 at the organisation's start.

    A change of cycle length (a `POLICY` proposal) takes effect at the next cycle boundary: it adds a
    segment and never moves a cycle that is running or already numbered, so funds pledged to cycle N
    still mean cycle N. Segments are in ascending order; the last one is in force from its start.
    """

    segments: tuple[CycleSegment, ...]

    @classmethod
    def starting(cls, at: datetime, length_seconds: int) -> CycleSchedule:
        return cls((CycleSegment(0, at, length_seconds),))

    @property
    def latest(self) -> CycleSegment:
        return self.segments[-1]

    def current(self, now: datetime) -> int:
        """The cycle running at `now` (cycle 0 before the first start, which only clock skew makes)."""
        segment = next((s for s in reversed(self.segments) if s.starts_at <= now), self.segments[0])
        elapsed = (now - segment.starts_at) // timedelta(seconds=segment.length_seconds)
        return max(segment.first_cycle + elapsed, 0)

    def starts_at(self, cycle: int) -> datetime:
        segment = next((s for s in reversed(self.segments) if s.first_cycle <= cycle), self.segments[0])
        return segment.starts_at + timedelta(seconds=segment.length_seconds * (cycle - segment.first_cycle))

    def length_of(self, cycle: int) -> int:
        return next(
            (s for s in reversed(self.segments) if s.first_cycle <= cycle), self.segments[0]
        ).length_seconds

    def has_started(self, cycle: int, now: datetime) -> bool:
        return self.starts_at(cycle) <= now

    def with_length(self, length_seconds: int, now: datetime) -> CycleSchedule:
        """The schedule after a change of cycle length decided at `now`: from the next cycle on.

        A second change before the first took effect replaces it.
        """
        following = self.current(now) + 1
        kept = tuple(s for s in self.segments if s.first_cycle < following)
        if kept[-1].length_seconds == length_seconds:
            return CycleSchedule(kept)
        return CycleSchedule((*kept, CycleSegment(following, self.starts_at(following), length_seconds)))


def commitment_status(schedule: CycleSchedule, cycle: int, now: datetime, *, withdrawn: bool) -> str:
    """Funds in a started cycle stay with the project (COMMITTED); later ones are only PLEDGED."""
    if withdrawn:
        return CommitmentStatus.WITHDRAWN
    if schedule.has_started(cycle, now):
        return CommitmentStatus.COMMITTED
    return CommitmentStatus.PLEDGED


def check_commit_cycle(schedule: CycleSchedule, cycle: int, now: datetime) -> None:
    if type(cycle) is not int:
        raise InvalidInput("cycle must be a whole number", field="cycle")
    current = schedule.current(now)
    if cycle < current:
        raise InvalidInput(f"cycle {cycle} is over; the current cycle is {current}", field="cycle")
    if cycle > current + MAX_CYCLES_AHEAD:
        raise InvalidInput(f"cycle {cycle} is too far ahead", field="cycle")


@dataclass(frozen=True)
class Pledge:
    id: UUID
    cycle: int
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    amount: Decimal
    cycles: tuple[int, ...]
    pledge_ids: tuple[UUID, ...]


def exit_refund(schedule: CycleSchedule, pledges: Iterable[Pledge], now: datetime) -> Refund:
    """Right of exit: a leaving stakeholder takes back exactly what is pledged to unstarted cycles.

    `pledges` are the member's funds not yet withdrawn; funds in cycles that have started stay.
    """
    returned = [p for p in pledges if not schedule.has_started(p.cycle, now)]
    total = sum((p.amount for p in returned), Decimal(0))
    return Refund(
        amount=total,
        cycles=tuple(sorted({p.cycle for p in returned})),
        pledge_ids=tuple(p.id for p in returned),
    )


def check_allocation(
    schedule: CycleSchedule,
    cycle: int,
    now: datetime,
    *,
    committed: Decimal,
    allocated: Decimal,
    amount: Decimal,
) -> None:
    """A budget comes only from funds committed to a started cycle and not yet allocated."""
    if cycle < 0 or not schedule.has_started(cycle, now):
        raise InsufficientFunds(
            f"cycle {cycle} has not started: nothing is committed to it yet", field="amount"
        )
    available = committed - allocated
    if amount > available:
        raise InsufficientFunds(
            f"budget {format_amount(amount)} exceeds the {format_amount(available)} "
            f"available in cycle {cycle}",
            field="amount",
        )


# --- roles and weights -----------------------------------------------------------------------------

_ROLES_BY_KIND = {
    BodyKind.STAKEHOLDER_GROUP: {Role.STAKEHOLDER},
    BodyKind.CELL: {Role.CORE_TEAM, Role.CONTRIBUTOR},
    BodyKind.COMMISSION: {Role.COMMISSIONER},
}


def check_role(kind: str, role: str, *, field: str = "role") -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role}", field=field) from None
    if parsed not in _ROLES_BY_KIND[BodyKind(kind)]:
        raise InvalidInput(f"role {parsed} does not exist in a {kind}", field=field)
    return parsed


def check_core_team_size(size: int, *, field: str = "coreTeam") -> None:
    if size > MAX_CORE_TEAM:
        raise CoreTeamFull(f"a core team has at most {MAX_CORE_TEAM} members", field=field)


def weight_of(role: str, weighting: str, pledged: Decimal) -> Decimal:
    """Voting weight of a membership.

    Stakeholders: 1 each under EQUAL; under COMMITTED_FUNDS, the member's total amount pledged to the
    organisation and not withdrawn (whether its cycle has started or not). Core team: one member one
    vote. Contributors: no vote.
    """
    if role == Role.STAKEHOLDER:
        return Decimal(1) if weighting == StakeholderWeighting.EQUAL else pledged
    if role == Role.CORE_TEAM:
        return Decimal(1)
    return Decimal(0)


# --- cell state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellState:
    status: str
    purpose: str
    strategy: str
    agreements: tuple[str, ...]
    approved_at: datetime | None
    proposal_id: UUID | None

    @classmethod
    def draft(cls, purpose: str) -> CellState:
        return cls(CellStateStatus.DRAFT, purpose, "", (), None, None)

    @classmethod
    def approved(
        cls, purpose: str, strategy: str, agreements: Sequence[str], now: datetime, proposal_id: UUID
    ) -> CellState:
        """A Cell State is only ever approved by an enacted proposal, which is recorded with it."""
        return cls(CellStateStatus.APPROVED, purpose, strategy, tuple(agreements), now, proposal_id)


# --- members in input ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSpec:
    address: str
    display_name: str | None


def parse_member_specs(raw: Any, *, field: str) -> tuple[MemberSpec, ...]:
    if not isinstance(raw, list | tuple) or len(raw) > MAX_MEMBERS_LISTED:
        raise InvalidInput(f"{field} must be a list of at most {MAX_MEMBERS_LISTED}", field=field)
    specs: list[MemberSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{field}[{i}] must be an object", field=f"{field}[{i}]")
        address = normalize_address(item.get("address"), field=f"{field}[{i}].address")
        if address in seen:
            raise InvalidInput(f"{checksum(address)} is listed twice", field=f"{field}[{i}].address")
        seen.add(address)
        specs.append(
            MemberSpec(
                address, clean_display_name(item.get("displayName"), field=f"{field}[{i}].displayName")
            )
        )
    return tuple(specs)


# --- actions that membership applies ---------------------------------------------------------------


@dataclass(frozen=True)
class CreateCell:
    parent_id: UUID
    name: str
    purpose: str
    core_team: tuple[MemberSpec, ...]


@dataclass(frozen=True)
class AddMember:
    body_id: UUID
    address: str
    role: str


@dataclass(frozen=True)
class RemoveMember:
    body_id: UUID
    address: str


@dataclass(frozen=True)
class AllocateBudget:
    cell_id: UUID
    cycle: int
    amount: Decimal


@dataclass(frozen=True)
class SetCellState:
    cell_id: UUID
    purpose: str
    strategy: str
    agreements: tuple[str, ...]


Action = CreateCell | AddMember | RemoveMember | AllocateBudget | SetCellState

OWNED_ACTIONS = frozenset({"createCell", "addMember", "removeMember", "allocateBudget", "setCellState"})
OTHER_ACTIONS = frozenset({"updatePolicy"})


def _parse_action(key: str, spec: Mapping[str, Any], at: str) -> Action:
    if key == "createCell":
        core_team = parse_member_specs(spec.get("coreTeam", []), field=f"{at}.coreTeam")
        check_core_team_size(len(core_team), field=f"{at}.coreTeam")
        return CreateCell(
            parent_id=parse_uuid(spec.get("parentId"), field=f"{at}.parentId"),
            name=clean_text(spec.get("name"), field=f"{at}.name", max_length=MAX_NAME),
            purpose=clean_text(spec.get("purpose"), field=f"{at}.purpose"),
            core_team=core_team,
        )
    if key == "addMember":
        role = spec.get("role")
        if role not in set(Role):
            raise InvalidInput(f"unknown role {role}", field=f"{at}.role")
        return AddMember(
            body_id=parse_uuid(spec.get("bodyId"), field=f"{at}.bodyId"),
            address=normalize_address(spec.get("address"), field=f"{at}.address"),
            role=str(role),
        )
    if key == "removeMember":
        return RemoveMember(
            body_id=parse_uuid(spec.get("bodyId"), field=f"{at}.bodyId"),
            address=normalize_address(spec.get("address"), field=f"{at}.address"),
        )
    if key == "allocateBudget":
        cycle = spec.get("cycle")
        if type(cycle) is not int or cycle < 0:
            raise InvalidInput("cycle must be a whole number from 0", field=f"{at}.cycle")
        return AllocateBudget(
            cell_id=parse_uuid(spec.get("cellId"), field=f"{at}.cellId"),
            cycle=cycle,
            amount=parse_amount(spec.get("amount"), field=f"{at}.amount"),
        )
    agreements = spec.get("agreements", [])
    if not isinstance(agreements, list | tuple) or len(agreements) > MAX_AGREEMENTS:
        raise InvalidInput(f"agreements must be a list of at most {MAX_AGREEMENTS}", field=f"{at}.agreements")
    return SetCellState(
        cell_id=parse_uuid(spec.get("cellId"), field=f"{at}.cellId"),
        purpose=clean_text(spec.get("purpose"), field=f"{at}.purpose"),
        strategy=clean_text(spec.get("strategy"), field=f"{at}.strategy", required=False),
        agreements=tuple(clean_text(a, field=f"{at}.agreements[{j}]") for j, a in enumerate(agreements)),
    )


def parse_actions(raw: Any) -> list[Action]:
    """The actions membership applies, in order; `updatePolicy` belongs to proposals and is skipped.

    Each action is an object with exactly one key (the GraphQL `@oneOf` ActionInput).
    """
    if not isinstance(raw, list | tuple):
        raise InvalidInput("actions must be a list", field="actions")
    actions: list[Action] = []
    for i, item in enumerate(raw):
        at = f"actions[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput("an action must be an object", field=at)
        keys = [k for k, v in item.items() if v is not None]
        if len(keys) != 1:
            raise InvalidInput("an action sets exactly one kind", field=at)
        key = keys[0]
        if key in OTHER_ACTIONS:
            continue
        if key not in OWNED_ACTIONS:
            raise InvalidInput(f"unknown action {key}", field=at)
        spec = item[key]
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"{key} must be an object", field=f"{at}.{key}")
        actions.append(_parse_action(key, spec, f"{at}.{key}"))
    return actions


# --- feedback commissions --------------------------------------------------------------------------
#
# A commission (seed 002's Collective Feedback Commission: "10 highly engaged Citizens and 15 high
# context delegates") is a body of seats by group, each group with its quota, and a selection method
# recorded with it. It never decides a proposal; a decision module may ask its feedback on drafts before
# voting opens (the proposals service). The TLC core team or the Stakeholder Group's members create it
# and fill its seats: naming members (APPOINTED, or the winners of an ELECTED process held elsewhere,
# e.g. a poll) or drawing them at random from a body's current members (RANDOM). Any seat holder may
# leave (right of exit), which frees the seat.

MAX_SEAT_GROUPS = 10
MAX_SEATS = 100
MAX_GROUP_NAME = 40


class Selection(StrEnum):
    APPOINTED = "APPOINTED"
    ELECTED = "ELECTED"
    RANDOM = "RANDOM"


@dataclass(frozen=True)
class SeatGroup:
    group: str
    seats: int

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "seats": self.seats}


def parse_seats(raw: Any, *, field: str = "seats") -> tuple[SeatGroup, ...]:
    """Seat quotas by group: 1 to 10 groups with distinct names, 1 to 100 seats each."""
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= MAX_SEAT_GROUPS:
        raise InvalidInput(f"{field} lists 1 to {MAX_SEAT_GROUPS} seat groups", field=field)
    groups: list[SeatGroup] = []
    for i, item in enumerate(raw):
        at = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{at} must be an object", field=at)
        name = clean_text(item.get("group"), field=f"{at}.group", max_length=MAX_GROUP_NAME)
        if any(g.group == name for g in groups):
            raise InvalidInput(f"the group {name} is listed twice", field=f"{at}.group")
        seats = item.get("seats")
        if type(seats) is not int or not 1 <= seats <= MAX_SEATS:
            raise InvalidInput(f"seats must be a whole number from 1 to {MAX_SEATS}", field=f"{at}.seats")
        groups.append(SeatGroup(name, seats))
    return tuple(groups)


def parse_selection(raw: Any) -> Selection:
    try:
        return Selection(raw)
    except ValueError:
        raise InvalidInput(f"selection must be one of {', '.join(Selection)}", field="selection") from None


def free_seats(groups: Sequence[SeatGroup], taken: Mapping[str, int], group: str) -> int:
    """How many seats of `group` are free; InvalidInput for a group the commission does not have."""
    quota = next((g.seats for g in groups if g.group == group), None)
    if quota is None:
        raise InvalidInput(f"the commission has no seat group {group!r}", field="group")
    return max(quota - taken.get(group, 0), 0)
