"""HTTP input and output of appeals, feedback, the registry, experiments, polls and milestones
(docs/internal-api.md, "Proposals HTTP API" > metagovernance). Inputs are loose; the domain validates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .. import domain
from ..domain.polls import Poll as PollDomain
from ..schemas import Wire


class FeedbackInput(Wire):
    text: Any = None


class Feedback(Wire):
    id: str
    proposal_id: str
    commission_id: str
    author: str
    text: str
    given_at: datetime


def feedback_out(proposal_id: Any, f: domain.FeedbackEntry) -> Feedback:
    return Feedback(
        id=str(f.id),
        proposal_id=str(proposal_id),
        commission_id=str(f.commission_id),
        author=domain.checksum(f.author),
        text=f.text,
        given_at=f.given_at,
    )


class RetrospectiveInput(Wire):
    text: Any = None


class Experiment(Wire):
    id: str
    organization_id: str
    organization_slug: str
    proposal_id: str
    hypothesis: str
    success_measures: list[str]
    body_ids: list[str]
    module_keys: list[str]
    overrides: dict[str, dict[str, Any]]
    status: str
    started_at: datetime
    ends_at: datetime | None
    cycles: int | None
    renewals: list[dict[str, Any]]
    ended_at: datetime | None
    figures: dict[str, Any] | None
    baseline: dict[str, Any] | None
    retrospective: str | None
    retrospective_by: str | None
    retrospective_at: datetime | None


def experiment_out(e: domain.Experiment) -> Experiment:
    return Experiment(
        id=str(e.id),
        organization_id=str(e.organization_id),
        organization_slug=e.organization_slug,
        proposal_id=str(e.proposal_id),
        hypothesis=e.hypothesis,
        success_measures=list(e.success_measures),
        body_ids=[str(b) for b in e.body_ids],
        module_keys=e.module_keys,
        overrides=e.overrides,
        status=str(e.status),
        started_at=e.started_at,
        ends_at=e.ends_at,
        cycles=e.cycles,
        renewals=e.renewals,
        ended_at=e.ended_at,
        figures=e.figures,
        baseline=e.baseline,
        retrospective=e.retrospective,
        retrospective_by=domain.checksum(e.retrospective_by) if e.retrospective_by else None,
        retrospective_at=e.retrospective_at,
    )


class PollInput(Wire):
    question: Any = None
    options: Any = None
    multiple: Any = False
    closes_at: Any = None
    body_id: Any = None
    proposal_id: Any = None


class AnswerInput(Wire):
    choices: Any = None


class LinkPollInput(Wire):
    proposal_id: Any = None


class PollOption(Wire):
    option: str
    count: int


class Poll(Wire):
    id: str
    organization_id: str
    organization_slug: str
    body_id: str | None
    proposal_id: str | None
    question: str
    options: list[str]
    multiple: bool
    created_by: str
    created_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    status: str
    results: list[PollOption]
    voter_count: int
    my_choices: list[int] | None = None


def poll_out(p: PollDomain, my_choices: list[int] | None = None) -> Poll:
    return Poll(
        id=str(p.id),
        organization_id=str(p.organization_id),
        organization_slug=p.organization_slug,
        body_id=str(p.body_id) if p.body_id else None,
        proposal_id=str(p.proposal_id) if p.proposal_id else None,
        question=p.question,
        options=list(p.options),
        multiple=p.multiple,
        created_by=domain.checksum(p.created_by),
        created_at=p.created_at,
        closes_at=p.closes_at,
        closed_at=p.closed_at,
        status="OPEN" if p.is_open else "CLOSED",
        results=[PollOption.model_validate(r) for r in p.results()],
        voter_count=p.voter_count,
        my_choices=my_choices,
    )


class MilestoneInput(Wire):
    phase: Any = None
    title: Any = None
    description: Any = ""
    depends_on: Any = None
    module_keys: Any = None
    proposal_ids: Any = None


class MilestoneLinksInput(Wire):
    depends_on: Any = None
    module_keys: Any = None
    proposal_ids: Any = None


class Milestone(Wire):
    id: str
    phase: str
    title: str
    description: str
    depends_on: list[str]
    module_keys: list[str]
    proposal_ids: list[str]
    status: str
    created_by: str
    created_at: datetime
    completed_at: datetime | None


class Phase(Wire):
    phase: str
    milestones: int
    done: int
    complete: bool


class MilestoneGraph(Wire):
    organization_id: str
    current_phase: str | None
    complete: bool
    phases: list[Phase]
    milestones: list[Milestone]


class ModuleVersionOut(Wire):
    version: int
    at: datetime
    cause: str
    proposal_id: str | None
    experiment_id: str | None
    scope: list[str]
    changes: dict[str, Any]
    module: dict[str, Any]


class RegistryModule(Wire):
    """A module as `Module` (docs) plus its current variants and its version history."""

    model_config = Wire.model_config | {"extra": "allow"}

    key: str
    variants: list[dict[str, Any]] = Field(default_factory=list)
    history: list[ModuleVersionOut] = Field(default_factory=list)


class Registry(Wire):
    organization_id: str
    modules: list[RegistryModule]
