"""What a proposal does when enacted, as clients read it back (the output side of `ActionInput`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from gateway.schema.enums import Role
from gateway.schema.validation import checksum


@strawberry.type(description="A member to add with a new cell.")
class MemberSpec:
    address: str = strawberry.field(description="EIP-55 checksummed address.")
    display_name: str | None = strawberry.field(description="Display name given with it.")


@strawberry.type(description="Action: create a cell under a parent cell.")
class CreateCellAction:
    parent_id: strawberry.ID = strawberry.field(description="The parent cell.")
    name: str = strawberry.field(description="The new cell's name.")
    purpose: str = strawberry.field(description="The new cell's purpose.")
    core_team: list[MemberSpec] = strawberry.field(description="Its founding core team (at most 9).")


@strawberry.type(description="Action: add a member to a body with a role.")
class AddMemberAction:
    body_id: strawberry.ID = strawberry.field(description="The body joined.")
    address: str = strawberry.field(description="The member added.")
    role: Role = strawberry.field(description="The role given.")


@strawberry.type(description="Action: remove a member from a body.")
class RemoveMemberAction:
    body_id: strawberry.ID = strawberry.field(description="The body left.")
    address: str = strawberry.field(description="The member removed.")


@strawberry.type(description="Action: allocate a budget to a cell for a funding cycle.")
class AllocateBudgetAction:
    cell_id: strawberry.ID = strawberry.field(description="The cell funded.")
    cycle: int = strawberry.field(description="The funding cycle.")
    amount: Decimal = strawberry.field(
        description="The amount (never above what is committed and unallocated)."
    )


@strawberry.type(description="Action: set a cell's Cell State.")
class SetCellStateAction:
    cell_id: strawberry.ID = strawberry.field(description="The cell.")
    purpose: str = strawberry.field(description="New purpose.")
    strategy: str = strawberry.field(description="New strategy.")
    agreements: list[str] = strawberry.field(description="New agreements.")


@strawberry.type(description="Action: change decision settings (only the settings given change).")
class UpdatePolicyAction:
    changes: JSON = strawberry.field(description="The settings changed, by name (as in PolicyInput).")


ProposalAction = Annotated[
    CreateCellAction
    | AddMemberAction
    | RemoveMemberAction
    | AllocateBudgetAction
    | SetCellStateAction
    | UpdatePolicyAction,
    strawberry.union("ProposalAction", description="One thing a proposal does when enacted."),
]


def action_from_wire(action: dict[str, Any]) -> Any:
    kind, spec = next(((k, v) for k, v in action.items() if v is not None), (None, None))
    if not isinstance(spec, dict):
        return None
    if kind == "createCell":
        return CreateCellAction(
            parent_id=strawberry.ID(str(spec.get("parentId"))),
            name=str(spec.get("name", "")),
            purpose=str(spec.get("purpose", "")),
            core_team=[
                MemberSpec(address=checksum(str(c.get("address"))), display_name=c.get("displayName"))
                for c in spec.get("coreTeam") or []
            ],
        )
    if kind == "addMember":
        return AddMemberAction(
            body_id=strawberry.ID(str(spec.get("bodyId"))),
            address=checksum(str(spec.get("address"))),
            role=Role(spec.get("role")),
        )
    if kind == "removeMember":
        return RemoveMemberAction(
            body_id=strawberry.ID(str(spec.get("bodyId"))), address=checksum(str(spec.get("address")))
        )
    if kind == "allocateBudget":
        return AllocateBudgetAction(
            cell_id=strawberry.ID(str(spec.get("cellId"))),
            cycle=int(spec.get("cycle", 0)),
            amount=Decimal(str(spec.get("amount"))),
        )
    if kind == "setCellState":
        return SetCellStateAction(
            cell_id=strawberry.ID(str(spec.get("cellId"))),
            purpose=str(spec.get("purpose", "")),
            strategy=str(spec.get("strategy", "")),
            agreements=[str(a) for a in spec.get("agreements") or []],
        )
    if kind == "updatePolicy":
        return UpdatePolicyAction(changes={k: v for k, v in spec.items() if v is not None})
    return None
