"""Metagovernance in the schema (seeds 002 and 004): the decision-module registry and its history,
experiments with their retrospectives, polls, the decentralisation milestones, a commission's feedback
before voting, and appeals.

The root `Query` and `Mutation` inherit `MetagovernanceQuery` and `MetagovernanceMutation`; `Proposal`
reaches the proposal-bound parts (polls, feedback, appeal, experiment) through lazy references here.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.clients import metagovernance as mg
from gateway.context import Context
from gateway.schema import pagination
from gateway.schema.enums import ProposalKind
from gateway.schema.errors import UserError, guarded, refusals
from gateway.schema.pagination import Connection, connection
from gateway.schema.policy import DecisionModule
from gateway.schema.types import Body, Member, Proposal
from gateway.schema.validation import is_slug, is_uuid, require_uuid
from kit import InvalidInput, NotFound


async def _organization_id(info: Info[Context, None], slug: str, field: str = "organization") -> str:
    org = await info.context.loaders.organization_by_slug.load(slug) if is_slug(slug) else None
    if org is None:
        raise NotFound(f"no organisation {slug!r}", field=field)
    return org.id


def _id(value: strawberry.ID, field: str, what: str) -> str:
    try:
        return require_uuid(value, field)
    except InvalidInput:
        raise NotFound(f"no such {what}", field=field) from None


# --- enums ------------------------------------------------------------------------------------------


@strawberry.enum(description="Why a decision module got a new version.")
class ModuleChangeCause(Enum):
    FOUNDED = strawberry.enum_value("FOUNDED", description="Made with the organisation.")
    PROPOSAL = strawberry.enum_value("PROPOSAL", description="An enacted POLICY proposal changed it.")
    EXPERIMENT_STARTED = strawberry.enum_value(
        "EXPERIMENT_STARTED", description="An experiment started (a variant for some bodies, or all)."
    )
    EXPERIMENT_ENDED = strawberry.enum_value(
        "EXPERIMENT_ENDED", description="An experiment ended unrenewed: its scope returned to these terms."
    )
    EXPERIMENT_RENEWED = strawberry.enum_value(
        "EXPERIMENT_RENEWED", description="A renewal enacted after the end put the experiment back."
    )


@strawberry.enum(description="Where an experiment stands.")
class ExperimentStatus(Enum):
    RUNNING = strawberry.enum_value("RUNNING", description="In force until endsAt, unless renewed.")
    ENDED = strawberry.enum_value("ENDED", description="Ended unrenewed: its change reverted by itself.")
    ADOPTED = strawberry.enum_value("ADOPTED", description="Renewed for good: its change stays.")


@strawberry.enum(description="Whether a poll takes answers.")
class PollStatus(Enum):
    OPEN = strawberry.enum_value("OPEN", description="Taking answers until closesAt.")
    CLOSED = strawberry.enum_value("CLOSED", description="Closed; the results are final.")


@strawberry.enum(description="Where a decentralisation milestone stands.")
class MilestoneStatus(Enum):
    WAITING = strawberry.enum_value("WAITING", description="A milestone it depends on is not done.")
    IN_PROGRESS = strawberry.enum_value("IN_PROGRESS", description="Its dependencies are done; it is not.")
    DONE = strawberry.enum_value(
        "DONE", description="Every proposal and module linked to it is done, and its dependencies."
    )


@strawberry.enum(description="A body's way of deciding, for a module override.")
class DecisionRuleType(Enum):
    MAJORITY = strawberry.enum_value("MAJORITY", description="More FOR than AGAINST, with quorum.")
    SUPERMAJORITY = strawberry.enum_value("SUPERMAJORITY", description="FOR at least thresholdPercent.")
    CONSENT = strawberry.enum_value("CONSENT", description="Passes unless someone objects.")
    UNANIMITY = strawberry.enum_value("UNANIMITY", description="Everyone votes, nobody against.")


@strawberry.enum(description="How a feedback commission's members are selected.")
class CommissionSelection(Enum):
    APPOINTED = strawberry.enum_value("APPOINTED", description="Named by the TLC core team or the SHG.")
    ELECTED = strawberry.enum_value("ELECTED", description="Elected elsewhere (e.g. a poll), then seated.")
    RANDOM = strawberry.enum_value("RANDOM", description="Drawn by lot from a body's members.")


# --- commissions ------------------------------------------------------------------------------------


@strawberry.type(description="A seat group of a feedback commission and its quota.")
class SeatGroup:
    group: str = strawberry.field(description="The group, e.g. SHG or OPERATIONAL.")
    seats: int = strawberry.field(description="Its quota of seats.")
    taken: int = strawberry.field(description="Seats held now.")


@strawberry.type(description="A feedback commission's seats by group and how its members are selected.")
class CommissionInfo:
    seats: list[SeatGroup] = strawberry.field(
        description="Seat groups with quotas, e.g. 10 SHG + 15 OPERATIONAL."
    )
    selection: CommissionSelection = strawberry.field(description="How members are selected.")
    created_by: Member | None = strawberry.field(description="Who set it up.")


def commission_info(raw: dict[str, Any] | None) -> CommissionInfo | None:
    if not raw:
        return None
    return CommissionInfo(
        seats=[
            SeatGroup(group=str(g["group"]), seats=int(g["seats"]), taken=int(g.get("taken", 0)))
            for g in raw.get("seats") or []
        ],
        selection=CommissionSelection(raw.get("selection", "APPOINTED")),
        created_by=Member.of(raw["createdBy"]) if raw.get("createdBy") else None,
    )


# --- the registry -----------------------------------------------------------------------------------


@strawberry.type(description="One version of a decision module: its terms in a scope, and why they changed.")
class ModuleVersion:
    version: int = strawberry.field(description="Version number (counted per module key, variants included).")
    at: datetime = strawberry.field(description="When the version took effect.")
    cause: ModuleChangeCause = strawberry.field(description="Why.")
    scope_body_ids: list[strawberry.ID] = strawberry.field(
        description="The bodies the version applies to; empty for the organisation-wide module."
    )
    changes: JSON = strawberry.field(
        description="What changed from the terms in force before in that scope: {field: {from, to}}."
    )
    module: DecisionModule = strawberry.field(description="The terms of this version.")
    proposal_id: strawberry.Private[str | None]
    experiment_id: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, model: mg.ModuleVersion) -> ModuleVersion:
        return cls(
            version=model.version,
            at=model.at,
            cause=ModuleChangeCause(model.cause),
            scope_body_ids=[strawberry.ID(b) for b in model.scope],
            changes=model.changes,
            module=DecisionModule.from_wire(model.module),
            proposal_id=model.proposal_id,
            experiment_id=model.experiment_id,
        )

    @strawberry.field(description="The enacted proposal that made it, if any.")
    async def proposal(self, info: Info[Context, None]) -> Proposal | None:
        if not self.proposal_id:
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(self.proposal_id))

    @strawberry.field(description="The experiment that started or ended with it, if any.")
    async def experiment(self, info: Info[Context, None]) -> Experiment | None:
        if not self.experiment_id:
            return None
        return Experiment.maybe(await info.context.loaders.experiment.load(self.experiment_id))


@strawberry.type(
    description="A decision module of the registry: its organisation-wide terms now, the variants "
    "experiments made for some bodies, and every version with the proposal that made it."
)
class RegisteredModule(DecisionModule):
    variants: list[DecisionModule] = strawberry.field(
        default_factory=list, description="Variants in force for some bodies (experiments), oldest first."
    )
    history: list[ModuleVersion] = strawberry.field(
        default_factory=list, description="Every version, oldest first."
    )

    @classmethod
    def from_registry(cls, raw: dict[str, Any]) -> RegisteredModule:
        base = DecisionModule.from_wire(raw)
        return cls(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
            variants=[DecisionModule.from_wire(v) for v in raw.get("variants") or []],
            history=[
                ModuleVersion.from_model(mg.ModuleVersion.model_validate(h)) for h in raw.get("history") or []
            ],
        )


# --- experiments ------------------------------------------------------------------------------------


@strawberry.type(description="What happened under an experiment (or its baseline), measured.")
class ExperimentFigures:
    proposals_raised: int = strawberry.field(description="Proposals raised under it.")
    proposals_decided: int = strawberry.field(description="Of those, decided (vote and any review over).")
    proposals_passed: int = strawberry.field(description="Of those, passed.")
    proposals_blocked: int = strawberry.field(description="Of those, blocked by the Stakeholder Group.")
    proposals_open: int = strawberry.field(description="Still undecided.")
    average_time_to_decision_seconds: float | None = strawberry.field(
        description="Mean time from proposal to decision."
    )
    participation_percent: float | None = strawberry.field(
        description="Mean share of the eligible weight that voted, once voting closed."
    )

    @classmethod
    def maybe(cls, raw: dict[str, Any] | None) -> ExperimentFigures | None:
        if not raw:
            return None
        return cls(
            proposals_raised=int(raw.get("proposalsRaised", 0)),
            proposals_decided=int(raw.get("proposalsDecided", 0)),
            proposals_passed=int(raw.get("proposalsPassed", 0)),
            proposals_blocked=int(raw.get("proposalsBlocked", 0)),
            proposals_open=int(raw.get("proposalsOpen", 0)),
            average_time_to_decision_seconds=raw.get("averageTimeToDecisionSeconds"),
            participation_percent=raw.get("participationPercent"),
        )


@strawberry.type(description="An experiment's retrospective: the measured figures and what was learned.")
class Retrospective:
    figures: ExperimentFigures | None = strawberry.field(
        description="Proposals under the experiment, measured at its end (now, for an adopted one)."
    )
    baseline: ExperimentFigures | None = strawberry.field(
        description="The same modules' other proposals of that time, for comparison."
    )
    text: str | None = strawberry.field(description="What was learned, once written.")
    written_by: Member | None = strawberry.field(description="Who wrote it.")
    written_at: datetime | None = strawberry.field(description="When.")


@strawberry.type(description="A renewal of an experiment, by an enacted POLICY proposal.")
class ExperimentRenewal:
    at: datetime = strawberry.field(description="When it was enacted.")
    ends_at: datetime | None = strawberry.field(description="The new end; null: adopted for good.")
    proposal_id: strawberry.ID = strawberry.field(description="The renewal proposal.")


@strawberry.type(
    description="A time-bound POLICY change (seed 002): a hypothesis tested on some bodies (or all) "
    "until its end, when it reverts by itself unless renewed; then a retrospective."
)
class Experiment:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    status: ExperimentStatus = strawberry.field(description="Where it stands.")
    hypothesis: str = strawberry.field(description="What it tests.")
    success_measures: list[str] = strawberry.field(description="How success is judged.")
    body_ids: list[strawberry.ID] = strawberry.field(
        description="The bodies it applies to (and their sub-cells); empty: the whole organisation."
    )
    module_keys: list[str] = strawberry.field(description="The decision modules it changes.")
    overrides: JSON = strawberry.field(description="The module overrides it applies, by module key.")
    started_at: datetime = strawberry.field(description="When its proposal was enacted.")
    ends_at: datetime | None = strawberry.field(description="When it reverts unless renewed (null: adopted).")
    cycles: int | None = strawberry.field(description="Its length in funding cycles, if given so.")
    ended_at: datetime | None = strawberry.field(description="When it ended.")
    renewals: list[ExperimentRenewal] = strawberry.field(description="Renewals, oldest first.")
    figures: ExperimentFigures | None = strawberry.field(description="Measured so far (final once ended).")
    model: strawberry.Private[mg.Experiment]

    @classmethod
    def from_model(cls, model: mg.Experiment) -> Experiment:
        return cls(
            id=strawberry.ID(model.id),
            status=ExperimentStatus(model.status),
            hypothesis=model.hypothesis,
            success_measures=list(model.success_measures),
            body_ids=[strawberry.ID(b) for b in model.body_ids],
            module_keys=list(model.module_keys),
            overrides=model.overrides,
            started_at=model.started_at,
            ends_at=model.ends_at,
            cycles=model.cycles,
            ended_at=model.ended_at,
            renewals=[
                ExperimentRenewal(
                    at=datetime.fromisoformat(str(r["at"]).replace("Z", "+00:00")),
                    ends_at=datetime.fromisoformat(str(r["endsAt"]).replace("Z", "+00:00"))
                    if r.get("endsAt")
                    else None,
                    proposal_id=strawberry.ID(str(r["proposalId"])),
                )
                for r in model.renewals
            ],
            figures=ExperimentFigures.maybe(model.figures),
            model=model,
        )

    @classmethod
    def maybe(cls, model: mg.Experiment | None) -> Experiment | None:
        return None if model is None else cls.from_model(model)

    @strawberry.field(description="The retrospective, once the experiment has ended (or was adopted).")
    def retrospective(self) -> Retrospective | None:
        m = self.model
        if m.status == "RUNNING":
            return None
        return Retrospective(
            figures=ExperimentFigures.maybe(m.figures),
            baseline=ExperimentFigures.maybe(m.baseline),
            text=m.retrospective,
            written_by=Member.of(m.retrospective_by) if m.retrospective_by else None,
            written_at=m.retrospective_at,
        )

    @strawberry.field(description="The POLICY proposal that started it.")
    async def proposal(self, info: Info[Context, None]) -> Proposal | None:
        return Proposal.maybe(await info.context.loaders.proposal.load(self.model.proposal_id))

    @strawberry.field(description="The bodies it applies to.")
    async def bodies(self, info: Info[Context, None]) -> list[Body]:
        found = await info.context.loaders.body.load_many(self.model.body_ids)
        return [Body.from_model(b) for b in found if b is not None]


# --- polls ------------------------------------------------------------------------------------------


@strawberry.type(description="One option of a poll and how many chose it.")
class PollOption:
    index: int = strawberry.field(description="The option's number, as given in answerPoll's choices.")
    label: str = strawberry.field(description="The option.")
    count: int = strawberry.field(description="How many members chose it.")


@strawberry.type(description="A non-binding poll, open to every member of an organisation (or of a body).")
class Poll:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    question: str = strawberry.field(description="The question.")
    multiple: bool = strawberry.field(description="Whether several options may be chosen.")
    status: PollStatus = strawberry.field(description="OPEN or CLOSED.")
    created_at: datetime = strawberry.field(description="When it was made.")
    closes_at: datetime = strawberry.field(description="When it stops taking answers.")
    closed_at: datetime | None = strawberry.field(description="When it closed.")
    options: list[PollOption] = strawberry.field(description="The options with their counts (live).")
    voter_count: int = strawberry.field(description="How many members answered.")
    my_choices: list[int] | None = strawberry.field(description="The signed-in member's answer, if any.")
    created_by: Member = strawberry.field(description="Who made it.")
    model: strawberry.Private[mg.Poll]

    @classmethod
    def from_model(cls, model: mg.Poll) -> Poll:
        return cls(
            id=strawberry.ID(model.id),
            question=model.question,
            multiple=model.multiple,
            status=PollStatus(model.status),
            created_at=model.created_at,
            closes_at=model.closes_at,
            closed_at=model.closed_at,
            options=[PollOption(index=i, label=r.option, count=r.count) for i, r in enumerate(model.results)],
            voter_count=model.voter_count,
            my_choices=model.my_choices,
            created_by=Member.of(model.created_by),
            model=model,
        )

    @strawberry.field(description="The body it is limited to; null: the whole organisation.")
    async def body(self, info: Info[Context, None]) -> Body | None:
        if not self.model.body_id:
            return None
        return Body.maybe(await info.context.loaders.body.load(self.model.body_id))

    @strawberry.field(description="The proposal it is evidence for, if linked.")
    async def proposal(self, info: Info[Context, None]) -> Proposal | None:
        if not self.model.proposal_id:
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(self.model.proposal_id))


# --- milestones -------------------------------------------------------------------------------------


@strawberry.type(
    description="A decentralisation milestone (seed 004) in the organisation's dependency graph."
)
class Milestone:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    phase: str = strawberry.field(description="The phase it belongs to (e.g. A, B, C).")
    title: str = strawberry.field(description="What is achieved.")
    description: str = strawberry.field(description="More about it.")
    status: MilestoneStatus = strawberry.field(description="WAITING, IN_PROGRESS or DONE.")
    depends_on_ids: list[strawberry.ID] = strawberry.field(description="The milestones it depends on.")
    module_keys: list[str] = strawberry.field(
        description="Decision modules whose change (by an enacted proposal) completes it."
    )
    created_by: Member = strawberry.field(description="Who set it.")
    created_at: datetime = strawberry.field(description="When.")
    completed_at: datetime | None = strawberry.field(description="When it was done.")
    proposal_ids: strawberry.Private[list[str]]

    @classmethod
    def from_model(cls, model: mg.Milestone) -> Milestone:
        return cls(
            id=strawberry.ID(model.id),
            phase=model.phase,
            title=model.title,
            description=model.description,
            status=MilestoneStatus(model.status),
            depends_on_ids=[strawberry.ID(d) for d in model.depends_on],
            module_keys=list(model.module_keys),
            created_by=Member.of(model.created_by),
            created_at=model.created_at,
            completed_at=model.completed_at,
            proposal_ids=list(model.proposal_ids),
        )

    @strawberry.field(description="Proposals whose enactment completes it.")
    async def proposals(self, info: Info[Context, None]) -> list[Proposal]:
        found = await info.context.loaders.proposal.load_many(self.proposal_ids)
        return [Proposal.from_model(p) for p in found if p is not None]


@strawberry.type(description="A phase of the path to decentralisation and its progress.")
class MilestonePhase:
    phase: str = strawberry.field(description="The phase's name; phases are ordered by name.")
    milestones: int = strawberry.field(description="How many milestones it holds.")
    done: int = strawberry.field(description="How many are done.")
    complete: bool = strawberry.field(description="Whether all are done.")


@strawberry.type(description="An organisation's milestone graph and the phase it is in.")
class MilestoneGraph:
    current_phase: str | None = strawberry.field(
        description="The first phase with a milestone not done (the last phase once all are done)."
    )
    complete: bool = strawberry.field(description="Whether every milestone is done.")
    phases: list[MilestonePhase] = strawberry.field(description="Every phase in order.")
    milestones: list[Milestone] = strawberry.field(description="Every milestone, oldest first.")

    @classmethod
    def from_model(cls, model: mg.MilestoneGraph) -> MilestoneGraph:
        return cls(
            current_phase=model.current_phase,
            complete=model.complete,
            phases=[
                MilestonePhase(phase=p.phase, milestones=p.milestones, done=p.done, complete=p.complete)
                for p in model.phases
            ],
            milestones=[Milestone.from_model(m) for m in model.milestones],
        )


# --- on a proposal: feedback, polls, appeal, experiment -------------------------------------------------


@strawberry.type(description="Feedback a commission member gave on a draft proposal.")
class Feedback:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    text: str = strawberry.field(description="The feedback.")
    given_at: datetime = strawberry.field(description="When.")
    author: Member = strawberry.field(description="The commission member.")

    @classmethod
    def from_model(cls, model: mg.Feedback) -> Feedback:
        return cls(
            id=strawberry.ID(model.id),
            text=model.text,
            given_at=model.given_at,
            author=Member.of(model.author),
        )


@strawberry.type(description="The commission's feedback stage of a proposal, before voting opens.")
class ProposalFeedback:
    commission_id: strawberry.ID = strawberry.field(description="The commission asked.")
    voting_starts_at: datetime | None = strawberry.field(description="When feedback ends and voting opens.")
    public: bool = strawberry.field(description="Whether everyone may read the feedback.")
    visible: bool = strawberry.field(description="Whether the signed-in member may read it.")
    entries: list[Feedback] = strawberry.field(
        description="The feedback, oldest first (empty if not visible)."
    )

    @strawberry.field(description="The commission.")
    async def commission(self, info: Info[Context, None]) -> Body | None:
        return Body.maybe(await info.context.loaders.body.load(str(self.commission_id)))


async def proposal_feedback(info: Info[Context, None], proposal: Any) -> ProposalFeedback | None:
    module = proposal.model.module or {}
    feedback = module.get("feedback")
    if not feedback:
        return None
    entries = await info.context.loaders.feedback.load(proposal.model.id)
    return ProposalFeedback(
        commission_id=strawberry.ID(str(feedback["commissionId"])),
        voting_starts_at=proposal.model.voting_starts_at,
        public=bool(feedback.get("public")),
        visible=entries is not None,
        entries=[Feedback.from_model(f) for f in entries or []],
    )


async def proposal_polls(info: Info[Context, None], proposal_id: str) -> list[Poll]:
    return [Poll.from_model(p) for p in await info.context.loaders.polls_by_proposal.load(proposal_id)]


async def experiment_of(info: Info[Context, None], experiment_id: str | None) -> Experiment | None:
    if not experiment_id:
        return None
    return Experiment.maybe(await info.context.loaders.experiment.load(experiment_id))


# --- queries ----------------------------------------------------------------------------------------


@strawberry.type(description="Metagovernance reads.")
class MetagovernanceQuery:
    @strawberry.field(
        description="The decision-module registry of an organisation: every module with who proposes, "
        "who decides by which rule, who reviews, the delay, its variants and its version history."
    )
    async def decision_modules(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        kind: Annotated[ProposalKind | None, strawberry.argument(description="Only this kind.")] = None,
    ) -> list[RegisteredModule]:
        org_id = await _organization_id(info, organization)
        modules = await info.context.loaders.registry.load(org_id)
        return [
            RegisteredModule.from_registry(m) for m in modules if kind is None or m.get("kind") == kind.value
        ]

    @strawberry.field(description="An organisation's experiments, newest first.")
    async def experiments(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        status: Annotated[
            list[ExperimentStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Experiment]:
        org_id = await _organization_id(info, organization)
        client = info.context.proposals
        statuses = [s.value for s in status or []]
        w = await pagination.window(
            lambda n, a: client.experiments(org_id, statuses=statuses, first=n, after=a), first, after
        )
        return connection(w, [Experiment.from_model(mg.Experiment.model_validate(i)) for i in w.items])

    @strawberry.field(description="An experiment by id; null if there is none.")
    async def experiment(
        self, info: Info[Context, None], id: Annotated[strawberry.ID, strawberry.argument(description="Id.")]
    ) -> Experiment | None:
        return await experiment_of(info, str(id)) if is_uuid(id) else None

    @strawberry.field(description="An organisation's polls, newest first.")
    async def polls(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Poll]:
        org_id = await _organization_id(info, organization)
        client = info.context.proposals
        w = await pagination.window(lambda n, a: client.polls(org_id, first=n, after=a), first, after)
        return connection(w, [Poll.from_model(mg.Poll.model_validate(i)) for i in w.items])

    @strawberry.field(description="A poll by id, with the signed-in member's answer; null if there is none.")
    async def poll(
        self, info: Info[Context, None], id: Annotated[strawberry.ID, strawberry.argument(description="Id.")]
    ) -> Poll | None:
        if not is_uuid(id):
            return None
        found = await info.context.proposals.poll(str(id))
        return None if found is None else Poll.from_model(found)

    @strawberry.field(description="An organisation's feedback commissions, oldest first.")
    async def commissions(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
    ) -> list[Body]:
        if not is_slug(organization):
            raise NotFound(f"no organisation {organization!r}", field="organization")
        found = await info.context.membership.commissions(organization)
        for body in found:
            info.context.loaders.body.prime(body.id, body)
        return [Body.from_model(b) for b in found]

    @strawberry.field(description="An organisation's decentralisation milestones and current phase.")
    async def milestones(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
    ) -> MilestoneGraph:
        org_id = await _organization_id(info, organization)
        graph = await info.context.proposals.milestones(org_id)
        if graph is None:
            raise NotFound(f"no organisation {organization!r}", field="organization")
        return MilestoneGraph.from_model(graph)


# --- inputs -----------------------------------------------------------------------------------------


@strawberry.input(description="Overrides of one decision module; a null value removes an override.")
class ModuleOverrideInput:
    key: str = strawberry.field(description="The module, e.g. OPERATIONAL:TOP_LEVEL_CELL.")
    rule: DecisionRuleType | None = strawberry.field(default=strawberry.UNSET, description="Decision rule.")
    quorum_percent: int | None = strawberry.field(default=strawberry.UNSET, description="Quorum.")
    threshold_percent: int | None = strawberry.field(default=strawberry.UNSET, description="Pass threshold.")
    voting_period_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Voting period."
    )
    review_window_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Optimistic review window."
    )
    veto_threshold_percent: int | None = strawberry.field(
        default=strawberry.UNSET, description="Review veto threshold."
    )
    concern_extension_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Extension the first concern brings."
    )
    delay_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Delay before enactment."
    )
    grace_period_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Time to enact once ready."
    )
    appeal_veto_threshold_percent: int | None = strawberry.field(
        default=strawberry.UNSET, description="Veto threshold of an appeal's review (never below the veto)."
    )
    feedback_commission_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A commission whose feedback is taken before voting opens."
    )
    feedback_window_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="How long feedback is taken (default 7 days)."
    )
    feedback_public: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether everyone may read the commission's feedback."
    )


@strawberry.input(description="Make a module change an experiment: time-bound, on some bodies, measured.")
class ExperimentInput:
    hypothesis: str = strawberry.field(description="What the change is expected to achieve.")
    success_measures: list[str] = strawberry.field(description="How success will be judged (at least one).")
    body_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The bodies it applies to (and their sub-cells); none: the whole organisation.",
    )
    ends_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="A fixed end; or:")
    cycles: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How many whole funding cycles it runs after the current one.",
    )


@strawberry.input(description="Action: change decision modules, lastingly or as an experiment.")
class ChangeModulesInput:
    modules: list[ModuleOverrideInput] = strawberry.field(description="The overrides, per module.")
    experiment: ExperimentInput | None = strawberry.field(
        default=strawberry.UNSET, description="Make it an experiment that reverts at its end."
    )


@strawberry.input(description="Action: renew a running (or just ended) experiment.")
class RenewExperimentInput:
    experiment_id: strawberry.ID = strawberry.field(description="The experiment.")
    ends_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="A new end; or:")
    cycles: int | None = strawberry.field(default=strawberry.UNSET, description="More funding cycles; or:")
    permanent: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: adopt the change for good."
    )


def action_to_wire(action: dict[str, Any]) -> dict[str, Any]:
    """The service's form of the two metagovernance actions: both are `updatePolicy`."""
    if "changeModules" in action:
        return {"updatePolicy": action["changeModules"]}
    if "renewExperiment" in action:
        return {"updatePolicy": {"renewExperiment": action["renewExperiment"]}}
    return action


@strawberry.input(description="A seat group of a new commission.")
class SeatGroupInput:
    group: str = strawberry.field(description="The group's name, e.g. SHG.")
    seats: int = strawberry.field(description="Its quota, 1 to 100.")


@strawberry.input(description="A member to seat on a commission.")
class SeatInput:
    address: str = strawberry.field(description="The member's address, any case.")
    group: str = strawberry.field(description="The seat group.")
    display_name: str | None = strawberry.field(default=strawberry.UNSET, description="Name to show.")


@strawberry.input(description="A new feedback commission (by the TLC core team or a stakeholder).")
class CreateCommissionInput:
    organization: str = strawberry.field(description="The organisation's slug.")
    name: str = strawberry.field(description="The commission's name.")
    purpose: str = strawberry.field(description="What it gives feedback on.")
    seats: list[SeatGroupInput] = strawberry.field(description="Seat quotas by group (1 to 10 groups).")
    selection: CommissionSelection = strawberry.field(description="How its members are selected.")
    members: list[SeatInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Members seated at once."
    )


@strawberry.input(description="A new non-binding poll.")
class CreatePollInput:
    organization: str = strawberry.field(description="The organisation's slug.")
    question: str = strawberry.field(description="The question.")
    options: list[str] = strawberry.field(description="2 to 20 options.")
    multiple: bool = strawberry.field(default=False, description="Whether several options may be chosen.")
    closes_at: datetime = strawberry.field(description="When it stops taking answers (within a year).")
    body_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Limit it to the members of this body."
    )
    proposal_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Link it to this proposal as evidence."
    )


@strawberry.input(description="A new decentralisation milestone.")
class CreateMilestoneInput:
    organization: str = strawberry.field(description="The organisation's slug.")
    phase: str = strawberry.field(description="Its phase, e.g. A.")
    title: str = strawberry.field(description="What is achieved.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="More about it.")
    depends_on: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Milestones it depends on."
    )
    module_keys: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Modules whose change completes it."
    )
    proposal_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Proposals whose enactment completes it."
    )


@strawberry.input(description="More dependencies and links for a milestone (a cycle is refused).")
class MilestoneLinksInput:
    depends_on: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="More milestones it depends on."
    )
    module_keys: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="More modules whose change completes it."
    )
    proposal_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="More proposals whose enactment completes it."
    )


# --- payloads and mutations -------------------------------------------------------------------------


@strawberry.type(description="The result of an appeal.")
class AppealPayload:
    proposal: Proposal | None = strawberry.field(default=None, description="The appeal, open for votes.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of giving feedback.")
class FeedbackPayload:
    feedback: Feedback | None = strawberry.field(default=None, description="The feedback recorded.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of writing a retrospective.")
class ExperimentPayload:
    experiment: Experiment | None = strawberry.field(default=None, description="The experiment after it.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of a change to a poll.")
class PollPayload:
    poll: Poll | None = strawberry.field(default=None, description="The poll after it.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of a change to the milestones.")
class MilestonePayload:
    milestone: Milestone | None = strawberry.field(default=None, description="The milestone changed.")
    graph: MilestoneGraph | None = strawberry.field(default=None, description="The whole graph after it.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of a change to a commission.")
class CommissionPayload:
    commission: Body | None = strawberry.field(default=None, description="The commission after it.")
    user_errors: list[UserError] = refusals()


def _present(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def _wire(value: Any) -> Any:
    # inputs.py imports this module (ActionInput's metagovernance actions): import it late
    from gateway.schema.inputs import to_wire

    return to_wire(value)


@strawberry.type(description="Metagovernance changes.")
class MetagovernanceMutation:
    @strawberry.mutation(
        description="Submit a blocked proposal again, once: reviewed with the module's higher veto threshold."
    )
    async def appeal_proposal(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The blocked proposal.")],
        title: Annotated[
            str | None, strawberry.argument(description="A new title (default: 'Appeal: …').")
        ] = None,
        description: Annotated[
            str | None, strawberry.argument(description="A new description (default: the original's).")
        ] = None,
    ) -> AppealPayload:
        async def run() -> AppealPayload:
            info.context.require_actor()
            pid = _id(proposal_id, "proposalId", "proposal")
            payload = {k: v for k, v in {"title": title, "description": description}.items() if v is not None}
            appeal = await info.context.proposals.appeal(pid, payload)
            info.context.loaders.prime_proposal(appeal)
            return AppealPayload(proposal=Proposal.from_model(appeal))

        return await guarded(AppealPayload, run)

    @strawberry.mutation(description="Give a commission's feedback on a draft proposal, before voting opens.")
    async def give_feedback(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The draft proposal.")],
        text: Annotated[str, strawberry.argument(description="The feedback.")],
    ) -> FeedbackPayload:
        async def run() -> FeedbackPayload:
            info.context.require_actor()
            entry = await info.context.proposals.give_feedback(
                _id(proposal_id, "proposalId", "proposal"), text
            )
            return FeedbackPayload(feedback=Feedback.from_model(entry))

        return await guarded(FeedbackPayload, run)

    @strawberry.mutation(
        description="Write the retrospective of an ended experiment (who may propose POLICY)."
    )
    async def write_retrospective(
        self,
        info: Info[Context, None],
        experiment_id: Annotated[strawberry.ID, strawberry.argument(description="The experiment.")],
        text: Annotated[str, strawberry.argument(description="What was learned.")],
    ) -> ExperimentPayload:
        async def run() -> ExperimentPayload:
            info.context.require_actor()
            done = await info.context.proposals.write_retrospective(
                _id(experiment_id, "experimentId", "experiment"), text
            )
            return ExperimentPayload(experiment=Experiment.from_model(done))

        return await guarded(ExperimentPayload, run)

    @strawberry.mutation(description="Open a non-binding poll (members of the organisation).")
    async def create_poll(
        self,
        info: Info[Context, None],
        input: Annotated[CreatePollInput, strawberry.argument(description="The poll.")],
    ) -> PollPayload:
        async def run() -> PollPayload:
            info.context.require_actor()
            org_id = await _organization_id(info, input.organization, "input.organization")
            payload = {
                "question": input.question,
                "options": input.options,
                "multiple": input.multiple,
                "closesAt": input.closes_at.isoformat(),
                "bodyId": _present(input.body_id),
                "proposalId": _present(input.proposal_id),
            }
            return PollPayload(
                poll=Poll.from_model(await info.context.proposals.create_poll(org_id, payload))
            )

        return await guarded(PollPayload, run)

    @strawberry.mutation(description="Answer a poll, or change your answer while it is open.")
    async def answer_poll(
        self,
        info: Info[Context, None],
        poll_id: Annotated[strawberry.ID, strawberry.argument(description="The poll.")],
        choices: Annotated[
            list[int], strawberry.argument(description="Option numbers (one if not multiple).")
        ],
    ) -> PollPayload:
        async def run() -> PollPayload:
            info.context.require_actor()
            poll = await info.context.proposals.answer_poll(_id(poll_id, "pollId", "poll"), choices)
            return PollPayload(poll=Poll.from_model(poll))

        return await guarded(PollPayload, run)

    @strawberry.mutation(description="Link your poll to a proposal as evidence.")
    async def link_poll(
        self,
        info: Info[Context, None],
        poll_id: Annotated[strawberry.ID, strawberry.argument(description="The poll.")],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal.")],
    ) -> PollPayload:
        async def run() -> PollPayload:
            info.context.require_actor()
            poll = await info.context.proposals.link_poll(
                _id(poll_id, "pollId", "poll"), _id(proposal_id, "proposalId", "proposal")
            )
            return PollPayload(poll=Poll.from_model(poll))

        return await guarded(PollPayload, run)

    @strawberry.mutation(description="Set a decentralisation milestone (who may propose POLICY).")
    async def create_milestone(
        self,
        info: Info[Context, None],
        input: Annotated[CreateMilestoneInput, strawberry.argument(description="The milestone.")],
    ) -> MilestonePayload:
        async def run() -> MilestonePayload:
            info.context.require_actor()
            org_id = await _organization_id(info, input.organization, "input.organization")
            payload = {
                "phase": input.phase,
                "title": input.title,
                "description": _present(input.description) or "",
                "dependsOn": _present(input.depends_on),
                "moduleKeys": _present(input.module_keys),
                "proposalIds": _present(input.proposal_ids),
            }
            before = await info.context.proposals.milestones(org_id)
            known = {m.id for m in before.milestones} if before else set()
            graph = await info.context.proposals.create_milestone(org_id, payload)
            made = next((m for m in graph.milestones if m.id not in known), None)
            return MilestonePayload(
                milestone=Milestone.from_model(made) if made else None, graph=MilestoneGraph.from_model(graph)
            )

        return await guarded(MilestonePayload, run)

    @strawberry.mutation(description="Add dependencies and links to a milestone; a cycle is refused.")
    async def link_milestone(
        self,
        info: Info[Context, None],
        milestone_id: Annotated[strawberry.ID, strawberry.argument(description="The milestone.")],
        input: Annotated[MilestoneLinksInput, strawberry.argument(description="What to add.")],
    ) -> MilestonePayload:
        async def run() -> MilestonePayload:
            info.context.require_actor()
            mid = _id(milestone_id, "milestoneId", "milestone")
            payload = {
                "dependsOn": _present(input.depends_on),
                "moduleKeys": _present(input.module_keys),
                "proposalIds": _present(input.proposal_ids),
            }
            graph = await info.context.proposals.link_milestone(mid, payload)
            changed = next((m for m in graph.milestones if m.id == mid), None)
            return MilestonePayload(
                milestone=Milestone.from_model(changed) if changed else None,
                graph=MilestoneGraph.from_model(graph),
            )

        return await guarded(MilestonePayload, run)

    @strawberry.mutation(description="Set up a feedback commission with seat quotas by group.")
    async def create_commission(
        self,
        info: Info[Context, None],
        input: Annotated[CreateCommissionInput, strawberry.argument(description="The commission.")],
    ) -> CommissionPayload:
        async def run() -> CommissionPayload:
            info.context.require_actor()
            if not is_slug(input.organization):
                raise NotFound(f"no organisation {input.organization!r}", field="input.organization")
            payload = _wire(input)
            payload.pop("organization")
            body = await info.context.membership.create_commission(input.organization, payload)
            return CommissionPayload(commission=Body.from_model(body))

        return await guarded(CommissionPayload, run)

    @strawberry.mutation(description="Seat a member on a commission within its group's quota.")
    async def seat_commissioner(
        self,
        info: Info[Context, None],
        commission_id: Annotated[strawberry.ID, strawberry.argument(description="The commission.")],
        seat: Annotated[SeatInput, strawberry.argument(description="Who, in which group.")],
    ) -> CommissionPayload:
        async def run() -> CommissionPayload:
            info.context.require_actor()
            body = await info.context.membership.seat_commissioner(
                _id(commission_id, "commissionId", "commission"), _wire(seat)
            )
            return CommissionPayload(commission=Body.from_model(body))

        return await guarded(CommissionPayload, run)

    @strawberry.mutation(description="Fill a group's free seats by lot among a body's current members.")
    async def draw_commissioners(
        self,
        info: Info[Context, None],
        commission_id: Annotated[strawberry.ID, strawberry.argument(description="The commission.")],
        group: Annotated[str, strawberry.argument(description="The seat group to fill.")],
        from_body_id: Annotated[strawberry.ID, strawberry.argument(description="The body drawn from.")],
        count: Annotated[
            int | None, strawberry.argument(description="How many (default: every free seat).")
        ] = None,
    ) -> CommissionPayload:
        async def run() -> CommissionPayload:
            info.context.require_actor()
            payload: dict[str, Any] = {"group": group, "fromBodyId": _id(from_body_id, "fromBodyId", "body")}
            if count is not None:
                payload["count"] = count
            body = await info.context.membership.draw_commissioners(
                _id(commission_id, "commissionId", "commission"), payload
            )
            return CommissionPayload(commission=Body.from_model(body))

        return await guarded(CommissionPayload, run)
