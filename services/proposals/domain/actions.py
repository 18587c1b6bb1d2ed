"""A proposal's actions: parsed and validated when it is created, applied when it is enacted.

Membership applies `createCell`, `addMember`, `removeMember`, `allocateBudget` and `setCellState` (all or
none); this service applies `updatePolicy`. Validation up front refuses what could not apply now:

    the action is not one its decision module allows             INVALID_INPUT
    a body or cell that is not in the organisation               NOT_FOUND
    a target outside the deciding cell's own subtree             INVALID_INPUT  (a cell acts for its cluster)
    a core team above 9                                          CORE_TEAM_FULL
    removing someone who is not a member                         NOT_FOUND
    adding someone already a member (change a role by removing   CONFLICT
    first, in the same proposal)
    a budget above committed minus allocated for the cycle       INSUFFICIENT_FUNDS (only started cycles
                                                                 have committed funds)
    a Cell State for another cell than the one it is raised in   INVALID_INPUT
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from kit import Conflict, CoreTeamFull, InsufficientFunds, InvalidInput, NotFound

from .experiments import check_experiment, parse_experiment, parse_renewal
from .organization import (
    ROLES_BY_KIND,
    BodyKind,
    BodyView,
    OrganizationView,
    Role,
    checksum,
    normalize_address,
)
from .policy import ActionType, Decider, DecisionModule, Kind, PolicySettings, PolicyUpdate, check_override

MAX_ACTIONS = 50
MAX_CORE_TEAM = 9
MAX_NAME = 200
MAX_TEXT = 10_000
MAX_AGREEMENTS = 100
MAX_AMOUNT = Decimal(10) ** 24
MAX_AMOUNT_DECIMALS = 18
MAX_MODULE_OVERRIDES = 20


@dataclass(frozen=True)
class MemberSpec:
    address: str
    display_name: str | None


@dataclass(frozen=True)
class CreateCell:
    parent_id: UUID
    name: str
    purpose: str
    core_team: tuple[MemberSpec, ...]
    type = ActionType.CREATE_CELL

    def to_dict(self) -> dict[str, Any]:
        return {
            "createCell": {
                "parentId": str(self.parent_id),
                "name": self.name,
                "purpose": self.purpose,
                "coreTeam": [
                    {"address": checksum(m.address), "displayName": m.display_name} for m in self.core_team
                ],
            }
        }


@dataclass(frozen=True)
class AddMember:
    body_id: UUID
    address: str
    role: Role
    type = ActionType.ADD_MEMBER

    def to_dict(self) -> dict[str, Any]:
        return {
            "addMember": {
                "bodyId": str(self.body_id),
                "address": checksum(self.address),
                "role": str(self.role),
            }
        }


@dataclass(frozen=True)
class RemoveMember:
    body_id: UUID
    address: str
    type = ActionType.REMOVE_MEMBER

    def to_dict(self) -> dict[str, Any]:
        return {"removeMember": {"bodyId": str(self.body_id), "address": checksum(self.address)}}


@dataclass(frozen=True)
class AllocateBudget:
    cell_id: UUID
    cycle: int
    amount: Decimal
    type = ActionType.ALLOCATE_BUDGET

    def to_dict(self) -> dict[str, Any]:
        return {
            "allocateBudget": {
                "cellId": str(self.cell_id),
                "cycle": self.cycle,
                "amount": format_amount(self.amount),
            }
        }


@dataclass(frozen=True)
class SetCellState:
    cell_id: UUID
    purpose: str
    strategy: str
    agreements: tuple[str, ...]
    type = ActionType.SET_CELL_STATE

    def to_dict(self) -> dict[str, Any]:
        return {
            "setCellState": {
                "cellId": str(self.cell_id),
                "purpose": self.purpose,
                "strategy": self.strategy,
                "agreements": list(self.agreements),
            }
        }


@dataclass(frozen=True)
class UpdatePolicy:
    update: PolicyUpdate
    type = ActionType.UPDATE_POLICY

    def to_dict(self) -> dict[str, Any]:
        return {"updatePolicy": self.update.to_dict()}


Action = CreateCell | AddMember | RemoveMember | AllocateBudget | SetCellState | UpdatePolicy


def format_amount(amount: Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing zeros ("1000.5", "300")."""
    text = f"{amount.normalize():f}"
    return "0" if Decimal(text) == 0 else text


def is_membership_action(action: Action) -> bool:
    return action.type is not ActionType.UPDATE_POLICY


# --- parsing ----------------------------------------------------------------------------------------


def _uuid(value: Any, field: str) -> UUID:
    try:
        return UUID(str(value)) if not isinstance(value, UUID) else value
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{field} is not a valid id", field=field) from None


def _text(value: Any, field: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return text


def parse_amount(value: Any, field: str) -> Decimal:
    """An exact positive amount; floats are refused since they cannot carry money exactly."""
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


def _members(raw: Any, field: str) -> tuple[MemberSpec, ...]:
    if not isinstance(raw, list | tuple):
        raise InvalidInput(f"{field} must be a list", field=field)
    specs: list[MemberSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{at} must be an object", field=at)
        address = normalize_address(item.get("address"), field=f"{at}.address")
        if address in seen:
            raise InvalidInput(f"{checksum(address)} is listed twice", field=f"{at}.address")
        seen.add(address)
        name = item.get("displayName")
        display = (
            None
            if name is None
            else (_text(name, f"{at}.displayName", max_length=MAX_NAME, required=False) or None)
        )
        specs.append(MemberSpec(address, display))
    return tuple(specs)


def _parse_one(key: str, spec: Mapping[str, Any], at: str) -> Action:
    if key == ActionType.CREATE_CELL:
        core_team = _members(spec.get("coreTeam", []), f"{at}.coreTeam")
        if len(core_team) > MAX_CORE_TEAM:
            raise CoreTeamFull(f"a core team has at most {MAX_CORE_TEAM} members", field=f"{at}.coreTeam")
        if not core_team:
            raise InvalidInput("a new cell needs at least one core team member", field=f"{at}.coreTeam")
        return CreateCell(
            parent_id=_uuid(spec.get("parentId"), f"{at}.parentId"),
            name=_text(spec.get("name"), f"{at}.name", max_length=MAX_NAME),
            purpose=_text(spec.get("purpose"), f"{at}.purpose"),
            core_team=core_team,
        )
    if key == ActionType.ADD_MEMBER:
        role = spec.get("role")
        if role not in set(Role):
            raise InvalidInput(f"unknown role {role}", field=f"{at}.role")
        return AddMember(
            body_id=_uuid(spec.get("bodyId"), f"{at}.bodyId"),
            address=normalize_address(spec.get("address"), field=f"{at}.address"),
            role=Role(role),
        )
    if key == ActionType.REMOVE_MEMBER:
        return RemoveMember(
            body_id=_uuid(spec.get("bodyId"), f"{at}.bodyId"),
            address=normalize_address(spec.get("address"), field=f"{at}.address"),
        )
    if key == ActionType.ALLOCATE_BUDGET:
        cycle = spec.get("cycle")
        if type(cycle) is not int or cycle < 0:
            raise InvalidInput("cycle must be a whole number from 0", field=f"{at}.cycle")
        return AllocateBudget(
            cell_id=_uuid(spec.get("cellId"), f"{at}.cellId"),
            cycle=cycle,
            amount=parse_amount(spec.get("amount"), f"{at}.amount"),
        )
    if key == ActionType.SET_CELL_STATE:
        agreements = spec.get("agreements", [])
        if not isinstance(agreements, list | tuple) or len(agreements) > MAX_AGREEMENTS:
            raise InvalidInput(
                f"agreements must be a list of at most {MAX_AGREEMENTS}", field=f"{at}.agreements"
            )
        return SetCellState(
            cell_id=_uuid(spec.get("cellId"), f"{at}.cellId"),
            purpose=_text(spec.get("purpose"), f"{at}.purpose"),
            strategy=_text(spec.get("strategy", ""), f"{at}.strategy", required=False),
            agreements=tuple(_text(a, f"{at}.agreements[{j}]") for j, a in enumerate(agreements)),
        )
    # updatePolicy
    settings = {k: v for k, v in spec.items() if k not in _POLICY_PARTS and v is not None}
    # validated against the defaults here for shape, and against the current settings when created
    PolicySettings().merged(settings, field_prefix=at)
    raw_modules = spec.get("modules") or []
    if not isinstance(raw_modules, list | tuple) or len(raw_modules) > MAX_MODULE_OVERRIDES:
        raise InvalidInput(f"modules must be a list of at most {MAX_MODULE_OVERRIDES}", field=f"{at}.modules")
    modules = tuple(check_override(m, field=f"{at}.modules[{j}]") for j, m in enumerate(raw_modules))
    experiment = renewal = None
    if spec.get("experiment") is not None:
        # an experiment only layers module overrides: organisation-wide settings are shared with
        # membership and would not revert cleanly
        experiment = parse_experiment(spec["experiment"], f"{at}.experiment")
        if settings or not modules:
            raise InvalidInput("an experiment changes decision modules (modules) and no settings", field=at)
    if spec.get("renewExperiment") is not None:
        renewal = parse_renewal(spec["renewExperiment"], f"{at}.renewExperiment")
        if settings or modules or experiment:
            raise InvalidInput("renewExperiment is an action of its own", field=at)
    if not settings and not modules and renewal is None:
        raise InvalidInput("updatePolicy changes nothing", field=at)
    return UpdatePolicy(PolicyUpdate(settings, modules, experiment, renewal))


_POLICY_PARTS = ("modules", "experiment", "renewExperiment")


def parse_actions(raw: Any) -> list[Action]:
    """Each action is an object with exactly one key (the GraphQL `@oneOf` ActionInput)."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidInput("actions must be a list", field="actions")
    if len(raw) > MAX_ACTIONS:
        raise InvalidInput(f"a proposal has at most {MAX_ACTIONS} actions", field="actions")
    actions: list[Action] = []
    for i, item in enumerate(raw):
        at = f"actions[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput("an action must be an object", field=at)
        keys = [k for k, v in item.items() if v is not None]
        if len(keys) != 1:
            raise InvalidInput("an action sets exactly one kind", field=at)
        key = keys[0]
        if key not in set(ActionType):
            raise InvalidInput(f"unknown action {key}", field=at)
        spec = item[key]
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"{key} must be an object", field=f"{at}.{key}")
        actions.append(_parse_one(key, spec, f"{at}.{key}"))
    return actions


def action_from_dict(raw: Mapping[str, Any]) -> Action:
    """Rebuild a stored action (already validated when the proposal was created)."""
    (key, spec), *_ = raw.items()
    if key == ActionType.UPDATE_POLICY:
        settings = {k: v for k, v in spec.items() if k not in _POLICY_PARTS}
        return UpdatePolicy(
            PolicyUpdate(
                settings,
                tuple(spec.get("modules") or ()),
                spec.get("experiment"),
                spec.get("renewExperiment"),
            )
        )
    return _parse_one(key, spec, "action")


# --- validation against the organisation ---------------------------------------------------------


@dataclass(frozen=True)
class ActionContext:
    """What validation needs to know now: the organisation, members of the bodies the actions name,
    funds available (committed minus allocated) per cycle they name, and the current settings."""

    org: OrganizationView
    members: Mapping[UUID, Mapping[str, Role]] = field(default_factory=dict)
    available_funds: Mapping[int, Decimal] = field(default_factory=dict)
    settings: PolicySettings = field(default_factory=PolicySettings)
    now: datetime | None = None
    # the status of each experiment a renewal names (absent: no such experiment in the organisation)
    experiments: Mapping[UUID, str] = field(default_factory=dict)


def referenced_bodies(actions: Sequence[Action]) -> set[UUID]:
    out: set[UUID] = set()
    for a in actions:
        if isinstance(a, AddMember | RemoveMember):
            out.add(a.body_id)
    return out


def referenced_cycles(actions: Sequence[Action]) -> set[int]:
    return {a.cycle for a in actions if isinstance(a, AllocateBudget)}


def referenced_experiments(actions: Sequence[Action]) -> set[UUID]:
    return {
        UUID(a.update.renew_experiment["experimentId"])
        for a in actions
        if isinstance(a, UpdatePolicy) and a.update.renew_experiment
    }


def validate_actions(
    actions: Sequence[Action],
    *,
    kind: Kind,
    module: DecisionModule,
    raising: BodyView,
    ctx: ActionContext,
) -> None:
    org = ctx.org
    # a cell's own decisions reach only its cluster; the SHG's reach the whole organisation
    reach = raising.id if module.decider is Decider.RAISING_CELL else None
    members: dict[UUID, dict[str, Role]] = {b: dict(m) for b, m in ctx.members.items()}
    spent: dict[int, Decimal] = {}
    cell_states = 0

    def body(body_id: UUID, at: str, *, cell: bool = False) -> BodyView:
        b = org.bodies.get(body_id)
        if b is None or (cell and b.kind is not BodyKind.CELL):
            raise NotFound(f"no {'cell' if cell else 'body'} {body_id} in this organisation", field=at)
        if reach is not None and not org.is_within(body_id, reach):
            raise InvalidInput(
                "a cell's proposal can only act on the cell itself and its sub-cells", field=at
            )
        return b

    def core_count(body_id: UUID) -> int:
        return sum(1 for r in members.get(body_id, {}).values() if r is Role.CORE_TEAM)

    for i, action in enumerate(actions):
        at = f"actions[{i}].{action.type}"
        if action.type not in module.allowed_actions:
            allowed = ", ".join(module.allowed_actions) or "none"
            raise InvalidInput(
                f"a {kind} proposal cannot {action.type} (allowed: {allowed})", field=f"actions[{i}]"
            )
        if isinstance(action, CreateCell):
            body(action.parent_id, f"{at}.parentId", cell=True)
        elif isinstance(action, AddMember):
            target = body(action.body_id, f"{at}.bodyId")
            if action.role not in ROLES_BY_KIND[target.kind]:
                raise InvalidInput(
                    f"role {action.role} does not exist in a {target.kind}", field=f"{at}.role"
                )
            current = members.setdefault(action.body_id, {})
            previous = current.get(action.address)
            if previous is not None:
                # as membership applies it: a role changes by removeMember then addMember
                raise Conflict(
                    f"{checksum(action.address)} is already {previous} of that body", field=f"{at}.address"
                )
            if action.role is Role.CORE_TEAM and core_count(action.body_id) >= MAX_CORE_TEAM:
                raise CoreTeamFull(f"a core team has at most {MAX_CORE_TEAM} members", field=f"{at}.bodyId")
            current[action.address] = action.role
        elif isinstance(action, RemoveMember):
            body(action.body_id, f"{at}.bodyId")
            current = members.setdefault(action.body_id, {})
            if current.pop(action.address, None) is None:
                raise NotFound(
                    f"{checksum(action.address)} is not a member of that body", field=f"{at}.address"
                )
        elif isinstance(action, AllocateBudget):
            body(action.cell_id, f"{at}.cellId", cell=True)
            if ctx.now is not None and not org.cycle_has_started(action.cycle, ctx.now):
                raise InsufficientFunds(
                    f"cycle {action.cycle} has not started: nothing is committed to it yet",
                    field=f"{at}.amount",
                )
            spent[action.cycle] = spent.get(action.cycle, Decimal(0)) + action.amount
            available = ctx.available_funds.get(action.cycle, Decimal(0))
            if spent[action.cycle] > available:
                raise InsufficientFunds(
                    f"budgets of {format_amount(spent[action.cycle])} exceed the {format_amount(available)} "
                    f"committed and unallocated in cycle {action.cycle}",
                    field=f"{at}.amount",
                )
        elif isinstance(action, SetCellState):
            body(action.cell_id, f"{at}.cellId", cell=True)
            if kind is Kind.CELL_STATE and action.cell_id != raising.id:
                raise InvalidInput(
                    "a CELL_STATE proposal sets the Cell State of the cell it is raised in",
                    field=f"{at}.cellId",
                )
            cell_states += 1
            if cell_states > 1:
                raise InvalidInput("a proposal sets at most one Cell State", field=f"actions[{i}]")
        elif isinstance(action, UpdatePolicy):
            ctx.settings.merged(action.update.settings, field_prefix=at)
            _check_policy_parts(action.update, at, ctx)


def _check_policy_parts(update: PolicyUpdate, at: str, ctx: ActionContext) -> None:
    """What a policy change names must be in the organisation: feedback commissions, an experiment's
    bodies (and an end still ahead), the experiment a renewal renews (not already adopted)."""
    for j, o in enumerate(update.modules):
        commission = o.get("feedbackCommissionId")
        if commission is not None:
            body = ctx.org.bodies.get(UUID(commission))
            if body is None or body.kind is not BodyKind.COMMISSION:
                raise NotFound(
                    f"no commission {commission} in this organisation",
                    field=f"{at}.modules[{j}].feedbackCommissionId",
                )
    if update.experiment is not None and ctx.now is not None:
        check_experiment(update.experiment, ctx.org, ctx.now, f"{at}.experiment")
    if update.renew_experiment is not None:
        experiment_id = UUID(update.renew_experiment["experimentId"])
        status = ctx.experiments.get(experiment_id)
        if status is None:
            raise NotFound(
                "no such experiment in this organisation", field=f"{at}.renewExperiment.experimentId"
            )
        if status == "ADOPTED":
            raise Conflict("the experiment was already adopted for good", field=f"{at}.renewExperiment")
