"""The proposals service's metagovernance routes (docs/internal-api.md, "Proposals HTTP API" >
metagovernance): appeals, feedback, the module registry, experiments, polls and milestones.

A mixin of `ProposalsClient`: the same service, the same connection pool and identity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from gateway.clients.base import Page, ServiceClient, segment
from gateway.clients.models import Body, Proposal, Wire
from kit import DomainError


class Feedback(Wire):
    id: str
    proposal_id: str
    commission_id: str
    author: str
    text: str
    given_at: datetime


class Experiment(Wire):
    id: str
    organization_id: str
    proposal_id: str
    hypothesis: str
    success_measures: list[str] = Field(default_factory=list)
    body_ids: list[str] = Field(default_factory=list)
    module_keys: list[str] = Field(default_factory=list)
    overrides: dict[str, Any] = Field(default_factory=dict)
    status: str
    started_at: datetime
    ends_at: datetime | None = None
    cycles: int | None = None
    renewals: list[dict[str, Any]] = Field(default_factory=list)
    ended_at: datetime | None = None
    figures: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    retrospective: str | None = None
    retrospective_by: str | None = None
    retrospective_at: datetime | None = None


class PollOption(Wire):
    option: str
    count: int


class Poll(Wire):
    id: str
    organization_id: str
    body_id: str | None = None
    proposal_id: str | None = None
    question: str
    options: list[str]
    multiple: bool = False
    created_by: str
    created_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None
    status: str
    results: list[PollOption] = Field(default_factory=list)
    voter_count: int = 0
    my_choices: list[int] | None = None


class ModuleVersion(Wire):
    version: int
    at: datetime
    cause: str
    proposal_id: str | None = None
    experiment_id: str | None = None
    scope: list[str] = Field(default_factory=list)
    changes: dict[str, Any] = Field(default_factory=dict)
    module: dict[str, Any] = Field(default_factory=dict)


class Milestone(Wire):
    id: str
    phase: str
    title: str
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    module_keys: list[str] = Field(default_factory=list)
    proposal_ids: list[str] = Field(default_factory=list)
    status: str
    created_by: str
    created_at: datetime
    completed_at: datetime | None = None


class Phase(Wire):
    phase: str
    milestones: int
    done: int
    complete: bool


class MilestoneGraph(Wire):
    organization_id: str
    current_phase: str | None = None
    complete: bool = False
    phases: list[Phase] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)


class MetagovernanceRoutes(ServiceClient):
    # --- appeals and feedback ------------------------------------------------------------------------

    async def appeal(self, proposal_id: str, payload: dict[str, Any]) -> Proposal:
        return Proposal.model_validate(
            await self.post(f"/v1/proposals/{segment(proposal_id)}/appeal", payload)
        )

    async def give_feedback(self, proposal_id: str, text: str) -> Feedback:
        doc = await self.post(f"/v1/proposals/{segment(proposal_id)}/feedback", {"text": text})
        return Feedback.model_validate(doc)

    async def feedback(self, proposal_id: str) -> list[Feedback] | None:
        """The feedback on a proposal; None when the caller may not read it."""
        try:
            doc = await self.get(f"/v1/proposals/{segment(proposal_id)}/feedback")
        except DomainError as exc:  # a refusal to read is an answer here, not an error
            if exc.code == "FORBIDDEN":
                return None
            raise
        return [Feedback.model_validate(item) for item in doc["items"]]

    # --- registry and experiments ----------------------------------------------------------------------

    async def registry(self, organization_id: str) -> list[dict[str, Any]]:
        doc = await self.get_projected(f"/v1/organizations/{segment(organization_id)}/registry")
        return [] if doc is None else list(doc["modules"])

    async def experiments(
        self, organization_id: str, *, statuses: Sequence[str] = (), first: int = 20, after: str | None = None
    ) -> Page:
        params: list[tuple[str, str | int]] = [("first", first), *(("status", s) for s in statuses)]
        if after:
            params.append(("after", after))
        return Page.parse(
            await self.get(f"/v1/organizations/{segment(organization_id)}/experiments", params=params)
        )

    async def experiment(self, experiment_id: str) -> Experiment | None:
        doc = await self.get_optional(f"/v1/experiments/{segment(experiment_id)}")
        return None if doc is None else Experiment.model_validate(doc)

    async def write_retrospective(self, experiment_id: str, text: str) -> Experiment:
        doc = await self.post(f"/v1/experiments/{segment(experiment_id)}/retrospective", {"text": text})
        return Experiment.model_validate(doc)

    # --- polls -------------------------------------------------------------------------------------------

    async def create_poll(self, organization_id: str, payload: dict[str, Any]) -> Poll:
        doc = await self.post(f"/v1/organizations/{segment(organization_id)}/polls", payload)
        return Poll.model_validate(doc)

    async def poll(self, poll_id: str) -> Poll | None:
        doc = await self.get_optional(f"/v1/polls/{segment(poll_id)}")
        return None if doc is None else Poll.model_validate(doc)

    async def polls(
        self,
        organization_id: str,
        *,
        proposal_id: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Page:
        params: dict[str, Any] = {"first": first}
        if proposal_id:
            params["proposalId"] = proposal_id
        if after:
            params["after"] = after
        return Page.parse(
            await self.get(f"/v1/organizations/{segment(organization_id)}/polls", params=params)
        )

    async def polls_of_proposals(self, proposal_ids: Sequence[str]) -> list[Poll]:
        doc = await self.get("/v1/polls", params={"proposalIds": ",".join(proposal_ids)})
        return [Poll.model_validate(item) for item in doc["items"]]

    async def answer_poll(self, poll_id: str, choices: list[int]) -> Poll:
        doc = await self.post(f"/v1/polls/{segment(poll_id)}/answers", {"choices": choices})
        return Poll.model_validate(doc)

    async def link_poll(self, poll_id: str, proposal_id: str) -> Poll:
        doc = await self.post(f"/v1/polls/{segment(poll_id)}/link", {"proposalId": proposal_id})
        return Poll.model_validate(doc)

    # --- milestones ---------------------------------------------------------------------------------------

    async def milestones(self, organization_id: str) -> MilestoneGraph | None:
        doc = await self.get_optional(f"/v1/organizations/{segment(organization_id)}/milestones")
        return None if doc is None else MilestoneGraph.model_validate(doc)

    async def create_milestone(self, organization_id: str, payload: dict[str, Any]) -> MilestoneGraph:
        doc = await self.post(f"/v1/organizations/{segment(organization_id)}/milestones", payload)
        return MilestoneGraph.model_validate(doc)

    async def link_milestone(self, milestone_id: str, payload: dict[str, Any]) -> MilestoneGraph:
        doc = await self.post(f"/v1/milestones/{segment(milestone_id)}/links", payload)
        return MilestoneGraph.model_validate(doc)


class CommissionRoutes(ServiceClient):
    """The membership service's commission routes (a mixin of `MembershipClient`)."""

    async def create_commission(self, slug: str, payload: dict[str, Any]) -> Body:
        return Body.model_validate(await self.post(f"/v1/organizations/{segment(slug)}/commissions", payload))

    async def commissions(self, slug: str) -> list[Body]:
        doc = await self.get(f"/v1/organizations/{segment(slug)}/commissions")
        return [Body.model_validate(item) for item in doc["items"]]

    async def seat_commissioner(self, body_id: str, payload: dict[str, Any]) -> Body:
        return Body.model_validate(await self.post(f"/v1/bodies/{segment(body_id)}/seats", payload))

    async def draw_commissioners(self, body_id: str, payload: dict[str, Any]) -> Body:
        return Body.model_validate(await self.post(f"/v1/bodies/{segment(body_id)}/draw", payload))
