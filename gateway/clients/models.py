"""The services' answers as typed values (docs/internal-api.md), parsed at the boundary.

Unknown keys are ignored so that a service may add fields without breaking the gateway.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class PolicySettings(Wire):
    voting_period_seconds: int
    review_period_seconds: int
    concern_extension_seconds: int = 0
    veto_threshold_percent: int
    quorum_percent: int
    stakeholder_weighting: str = "EQUAL"
    cycle_length_seconds: int
    community_proposals: bool = False
    policy_delay_seconds: int = 0


class Policy(PolicySettings):
    modules: list[dict[str, Any]] = Field(default_factory=list)


class Organization(Wire):
    id: str
    slug: str
    name: str
    purpose: str
    stakeholder_group_id: str
    top_level_cell_id: str
    policy: dict[str, Any] = Field(default_factory=dict)
    starts_at: datetime | None = None
    created_at: datetime | None = None
    current_cycle: int | None = None


class Treasury(Wire):
    current_cycle: int
    cycle_starts_at: datetime | None = None
    cycle_ends_at: datetime | None = None
    committed: Decimal
    allocated: Decimal
    available: Decimal


class CellState(Wire):
    status: str
    purpose: str
    strategy: str = ""
    agreements: list[str] = Field(default_factory=list)
    approved_at: datetime | None = None
    proposal_id: str | None = None


class Body(Wire):
    id: str
    organization_id: str
    organization_slug: str | None = None
    kind: str
    name: str
    purpose: str = ""
    parent_id: str | None = None
    is_top_level: bool = False
    child_ids: list[str] = Field(default_factory=list)
    cell_state: CellState | None = None
    # a feedback commission's seats {group, seats, taken}, selection and who set it up
    commission: dict[str, Any] | None = None


class Membership(Wire):
    body_id: str
    address: str
    display_name: str | None = None
    role: str
    weight: Decimal = Decimal(0)
    joined_at: datetime | None = None
    seat_group: str | None = None


class Member(Wire):
    address: str
    display_name: str | None = None


class Commitment(Wire):
    cycle: int
    amount: Decimal
    status: str


class Challenge(Wire):
    message: str
    nonce: str | None = None
    expires_at: datetime | None = None


class SignedIn(Wire):
    token: str
    expires_at: datetime
    address: str


class Tally(Wire):
    for_: Decimal = Field(default=Decimal(0), alias="for")
    against: Decimal = Decimal(0)
    abstain: Decimal = Decimal(0)
    eligible: Decimal = Decimal(0)
    quorum_reached: bool = False


class Proposal(Wire):
    id: str
    organization_id: str
    organization_slug: str | None = None
    kind: str
    status: str
    title: str
    description: str = ""
    body_id: str
    deciding_body_id: str | None = None
    reviewing_body_id: str | None = None
    proposer: str
    created_at: datetime
    voting_ends_at: datetime | None = None
    voting_closed_at: datetime | None = None
    outcome: str | None = None
    vote_count: int | None = None
    enact_after: datetime | None = None
    failure_reason: str | None = None
    module_key: str | None = None
    module_version: int | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)
    tally: Tally | None = None
    # metagovernance (docs/internal-api.md): feedback window, appeals, experiments, the module as it was
    voting_starts_at: datetime | None = None
    appeal_of: str | None = None
    appealed_by: str | None = None
    experiment_id: str | None = None
    veto_threshold_percent: int | None = None
    module: dict[str, Any] | None = None


class Vote(Wire):
    voter: str
    choice: str
    weight: Decimal = Decimal(0)
    reason: str | None = None
    cast_at: datetime | None = None


class HistoryEntry(Wire):
    status: str
    at: datetime
    cause: str | None = None


class Concern(Wire):
    id: str
    reason: str
    raised_at: datetime
    raised_by: str


class Objection(Wire):
    objector: str
    weight: Decimal
    reason: str | None = None
    objected_at: datetime | None = None


class Operation(Wire):
    status: str
    enact_after: datetime | None = None
    expires_at: datetime | None = None


class Review(Wire):
    id: str
    proposal_id: str
    reviewing_body_id: str | None = None
    status: str
    starts_at: datetime
    ends_at: datetime
    extended: bool = False
    objection_weight: Decimal = Decimal(0)
    veto_threshold_weight: Decimal = Decimal(0)
    veto_threshold_percent: Decimal | None = None
    eligible_weight: Decimal | None = None
    concerns: list[Concern] = Field(default_factory=list)
    objections: list[Objection] = Field(default_factory=list)
    operation: Operation | None = None

    @field_validator("concerns", "objections", mode="before")
    @classmethod
    def _no_null_list(cls, value: Any) -> Any:
        return value or []


# --- webhooks (the timelock's) -----------------------------------------------------------------------


class Webhook(Wire):
    id: str
    organization_id: str
    organization: str
    url: str
    subjects: list[str]
    created_by: str
    created_at: datetime
    deliveries: dict[str, int] = Field(default_factory=dict)


class WebhookAttempt(Wire):
    number: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class WebhookDelivery(Wire):
    id: str
    event_id: str
    event_type: str
    subject: str
    status: str
    attempt_count: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    finished_at: datetime | None = None
    attempts: list[WebhookAttempt] = Field(default_factory=list)
