"""HTTP input and output of the membership API: camelCase JSON, amounts and weights as decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Input(Schema):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- input -----------------------------------------------------------------------------------------


class MemberInput(Input):
    address: str
    display_name: str | None = None


class CellInput(Input):
    name: str
    purpose: str
    core_team: list[MemberInput] = Field(default_factory=list)


class PolicyInput(Input):
    """All optional; what is absent takes the seed's default (`domain.DEFAULT_POLICY`)."""

    voting_period_seconds: StrictInt | None = None
    review_period_seconds: StrictInt | None = None
    concern_extension_seconds: StrictInt | None = None
    veto_threshold_percent: StrictInt | None = None
    quorum_percent: StrictInt | None = None
    stakeholder_weighting: str | None = None
    cycle_length_seconds: StrictInt | None = None
    community_proposals: StrictBool | None = None
    policy_delay_seconds: StrictInt | None = None


class CreateOrganizationInput(Input):
    slug: str
    name: str
    purpose: str
    stakeholders: list[MemberInput] = Field(default_factory=list)
    top_level_cell: CellInput
    policy: PolicyInput | None = None


class CommitInput(Input):
    cycle: StrictInt
    amount: str = Field(description='A positive decimal string, e.g. "1000.50".')


class SeatGroupInput(Input):
    group: Any = None
    seats: Any = None


class SeatInput(Input):
    address: str
    group: str
    display_name: str | None = None


class CommissionInput(Input):
    name: str
    purpose: str
    seats: list[SeatGroupInput]
    selection: str
    members: list[SeatInput] = Field(default_factory=list)


class DrawInput(Input):
    group: str
    from_body_id: str
    count: StrictInt | None = None


class ChallengeInput(Input):
    address: str


class SignInInput(Input):
    message: str = Field(max_length=4096)
    signature: str = Field(max_length=1024)


# --- output ----------------------------------------------------------------------------------------


class Organization(Schema):
    id: str
    slug: str
    name: str
    purpose: str
    stakeholder_group_id: str
    top_level_cell_id: str
    policy: dict[str, Any]
    starts_at: datetime
    created_at: datetime
    current_cycle: int


class CellState(Schema):
    status: str
    purpose: str
    strategy: str
    agreements: list[str]
    approved_at: datetime | None
    proposal_id: str | None


class SeatGroup(Schema):
    group: str
    seats: int
    taken: int


class CommissionInfo(Schema):
    seats: list[SeatGroup]
    selection: str
    created_by: str


class Body(Schema):
    id: str
    organization_id: str
    organization_slug: str
    kind: str
    name: str
    purpose: str
    parent_id: str | None
    is_top_level: bool
    child_ids: list[str]
    cell_state: CellState | None
    core_team_count: int
    created_at: datetime
    commission: CommissionInfo | None = None


class BodySummary(Schema):
    id: str
    organization_id: str
    organization_slug: str
    kind: str
    name: str
    is_top_level: bool


class Membership(Schema):
    body_id: str
    address: str
    display_name: str | None
    role: str
    weight: str = Field(description="Decimal string; 0 once left.")
    joined_at: datetime
    joined_proposal_id: str | None = None
    left_at: datetime | None = None
    left_proposal_id: str | None = None
    seat_group: str | None = None


class MembershipWithBody(Membership):
    body: BodySummary


class Member(Schema):
    address: str
    display_name: str | None


class Treasury(Schema):
    current_cycle: int
    cycle_starts_at: datetime
    cycle_ends_at: datetime
    committed: str
    allocated: str
    available: str


class Commitment(Schema):
    id: str
    address: str
    cycle: int
    amount: str
    status: str
    created_at: datetime


class LeaveResult(Schema):
    withdrawn: str
    cycles: list[int]


class Challenge(Schema):
    message: str
    nonce: str
    expires_at: datetime


class SignInResult(Schema):
    token: str
    expires_at: datetime
    address: str


T = TypeVar("T")


class Page(Schema, Generic[T]):
    items: list[T]
    total_count: int
    end_cursor: str | None
    has_next_page: bool


class Items(Schema, Generic[T]):
    items: list[T]
