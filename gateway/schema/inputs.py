"""Input types: what clients send. `ActionInput` is a @oneOf input: exactly one action per entry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from gateway.schema.enums import ProposalKind, Role, StakeholderWeighting
from gateway.schema.metagovernance import ChangeModulesInput, RenewExperimentInput


def to_wire(value: Any) -> Any:
    """An input as the services take it: camelCase keys, unset fields left out, enums by value."""
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is None:
        return value
    out: dict[str, Any] = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is strawberry.UNSET:
            continue
        out[field.graphql_name or _camel(field.python_name)] = to_wire(item)
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.input(description="A member named in input: address (any case) and optional display name.")
class MemberInput:
    address: str = strawberry.field(description="Ethereum address, any case.")
    display_name: str | None = strawberry.field(default=strawberry.UNSET, description="Name to show.")


@strawberry.input(description="The Top Level Cell founded with an organisation.")
class CellInput:
    name: str = strawberry.field(description="The cell's name.")
    purpose: str = strawberry.field(description="The cell's purpose.")
    core_team: list[MemberInput] = strawberry.field(description="Founding core team, at most 9.")


@strawberry.input(description="Decision settings; every field optional (defaults follow the seed's model).")
class PolicyInput:
    voting_period_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Voting period."
    )
    review_period_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Optimistic review period."
    )
    concern_extension_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Extension the first concern brings (once)."
    )
    veto_threshold_percent: int | None = strawberry.field(
        default=strawberry.UNSET, description="Percent of SHG weight that blocks a reviewed proposal."
    )
    quorum_percent: int | None = strawberry.field(
        default=strawberry.UNSET, description="Percent of eligible weight that must vote."
    )
    stakeholder_weighting: StakeholderWeighting | None = strawberry.field(
        default=strawberry.UNSET, description="How SHG votes are weighted."
    )
    cycle_length_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Length of a funding cycle."
    )
    community_proposals: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether COMMUNITY proposals are enabled."
    )
    policy_delay_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Delay before a passed POLICY change is enacted."
    )


@strawberry.input(description="Found an organisation with its Stakeholder Group and Top Level Cell.")
class CreateOrganizationInput:
    slug: str = strawberry.field(description="3-48 characters of a-z, 0-9 and '-'.")
    name: str = strawberry.field(description="Display name.")
    purpose: str = strawberry.field(description="What the project is for.")
    stakeholders: list[MemberInput] = strawberry.field(description="The founding Stakeholder Group.")
    top_level_cell: CellInput = strawberry.field(description="The Top Level Cell and its core team.")
    policy: PolicyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Decision settings; defaults for what is left out."
    )


@strawberry.input(description="Create a cell under a parent cell.")
class CreateCellInput:
    parent_id: strawberry.ID = strawberry.field(description="The parent cell.")
    name: str = strawberry.field(description="The new cell's name.")
    purpose: str = strawberry.field(description="The new cell's purpose.")
    core_team: list[MemberInput] = strawberry.field(description="Its founding core team, at most 9.")


@strawberry.input(description="Add a member to a body with a role.")
class AddMemberInput:
    body_id: strawberry.ID = strawberry.field(description="The body.")
    address: str = strawberry.field(description="The member's address, any case.")
    role: Role = strawberry.field(description="STAKEHOLDER for the SHG; CORE_TEAM or CONTRIBUTOR for a cell.")


@strawberry.input(description="Remove a member from a body.")
class RemoveMemberInput:
    body_id: strawberry.ID = strawberry.field(description="The body.")
    address: str = strawberry.field(description="The member's address, any case.")


@strawberry.input(description="Allocate a budget to a cell for a funding cycle.")
class AllocateBudgetInput:
    cell_id: strawberry.ID = strawberry.field(description="The cell.")
    cycle: int = strawberry.field(description="The funding cycle.")
    amount: Decimal = strawberry.field(description="At most what is committed and unallocated for the cycle.")


@strawberry.input(description="Set a cell's Cell State.")
class SetCellStateInput:
    cell_id: strawberry.ID = strawberry.field(description="The cell.")
    purpose: str = strawberry.field(description="Purpose.")
    strategy: str = strawberry.field(description="Strategy.")
    agreements: list[str] = strawberry.field(description="Agreements.")


@strawberry.input(one_of=True, description="One action of a proposal: set exactly one field.")
class ActionInput:
    create_cell: CreateCellInput | None = strawberry.field(
        default=strawberry.UNSET, description="Create a cell."
    )
    add_member: AddMemberInput | None = strawberry.field(
        default=strawberry.UNSET, description="Add a member."
    )
    remove_member: RemoveMemberInput | None = strawberry.field(
        default=strawberry.UNSET, description="Remove a member."
    )
    allocate_budget: AllocateBudgetInput | None = strawberry.field(
        default=strawberry.UNSET, description="Allocate a budget."
    )
    set_cell_state: SetCellStateInput | None = strawberry.field(
        default=strawberry.UNSET, description="Set a Cell State."
    )
    update_policy: PolicyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Change decision settings."
    )
    change_modules: ChangeModulesInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Change decision modules (POLICY), lastingly or as a time-bound experiment.",
    )
    renew_experiment: RenewExperimentInput | None = strawberry.field(
        default=strawberry.UNSET, description="Renew an experiment (POLICY): a new end, or for good."
    )


@strawberry.input(description="A new proposal.")
class CreateProposalInput:
    body_id: strawberry.ID = strawberry.field(description="The body the proposal is made to.")
    kind: ProposalKind = strawberry.field(description="What it asks for.")
    title: str = strawberry.field(description="Short title.")
    description: str = strawberry.field(description="The full text.")
    actions: list[ActionInput] | None = strawberry.field(
        default=strawberry.UNSET, description="What it does when enacted; none makes it a signal."
    )
