"""The object types front-ends read. Plain values are plain fields; anything another service owns is
resolved through the request's DataLoaders, so lists cost one batch per kind of thing, not one per row."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.clients import models as m
from gateway.context import Context
from gateway.schema import pagination
from gateway.schema.actions import ProposalAction, action_from_wire
from gateway.schema.enums import (
    BodyKind,
    CellStateStatus,
    CommitmentStatus,
    OperationStatus,
    ProposalKind,
    ProposalStatus,
    ReviewStatus,
    Role,
    VoteChoice,
)
from gateway.schema.pagination import Connection, connection
from gateway.schema.policy import DecisionModule, Policy
from gateway.schema.validation import checksum

if TYPE_CHECKING:
    from gateway.schema.metagovernance import CommissionInfo, Experiment, Poll, ProposalFeedback

# --- members and bodies ----------------------------------------------------------------------------

_UNKNOWN: Any = object()


@strawberry.type(description="A person or organisation, identified by an Ethereum address.")
class Member:
    address: str = strawberry.field(description="EIP-55 checksummed Ethereum address.")
    known_display_name: strawberry.Private[Any] = _UNKNOWN

    @classmethod
    def of(cls, address: str, display_name: Any = _UNKNOWN) -> Member:
        return cls(address=checksum(address), known_display_name=display_name)

    @strawberry.field(description="The name the member chose to be shown with, if any.")
    async def display_name(self, info: Info[Context, None]) -> str | None:
        if self.known_display_name is not _UNKNOWN:
            return self.known_display_name
        member = await info.context.loaders.member.load(self.address)
        return member.display_name if member else None

    @strawberry.field(description="The member's current memberships in every body of every organisation.")
    async def memberships(self, info: Info[Context, None]) -> list[Membership]:
        found = await info.context.loaders.memberships.load(self.address)
        return [Membership.from_model(item) for item in found]


@strawberry.type(description="A member's place in a body: role and voting weight.")
class Membership:
    role: Role = strawberry.field(description="STAKEHOLDER in the SHG; CORE_TEAM or CONTRIBUTOR in a cell.")
    weight: Decimal = strawberry.field(
        description="Voting weight now (core team 1, contributors 0, stakeholders by the weighting policy)."
    )
    joined_at: datetime | None = strawberry.field(description="When the member joined the body.")
    member: Member = strawberry.field(description="Who holds the membership.")
    seat_group: str | None = strawberry.field(
        default=None, description="On a feedback commission, the seat group held (e.g. SHG, OPERATIONAL)."
    )
    body_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, model: m.Membership) -> Membership:
        return cls(
            seat_group=model.seat_group,
            role=Role(model.role),
            weight=model.weight,
            joined_at=model.joined_at,
            member=Member.of(model.address, model.display_name),
            body_id=model.body_id,
        )

    @strawberry.field(description="The body the membership is in.")
    async def body(self, info: Info[Context, None]) -> Body | None:
        return Body.maybe(await info.context.loaders.body.load(self.body_id))


@strawberry.type(description="A cell's purpose, strategy and agreements, and whether they are approved.")
class CellState:
    status: CellStateStatus = strawberry.field(
        description="DRAFT until an enacted CELL_STATE proposal approves it."
    )
    purpose: str = strawberry.field(description="Why the cell exists.")
    strategy: str = strawberry.field(description="How the cell means to fulfil its purpose.")
    agreements: list[str] = strawberry.field(description="The cell's working agreements.")
    approved_at: datetime | None = strawberry.field(description="When it was last approved.")
    proposal_id: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, model: m.CellState) -> CellState:
        return cls(
            status=CellStateStatus(model.status),
            purpose=model.purpose,
            strategy=model.strategy,
            agreements=list(model.agreements),
            approved_at=model.approved_at,
            proposal_id=model.proposal_id,
        )

    @strawberry.field(description="The proposal that approved it, if any.")
    async def proposal(self, info: Info[Context, None]) -> Proposal | None:
        if not self.proposal_id:
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(self.proposal_id))


@strawberry.type(description="A group that decides: the Stakeholder Group or a cell.")
class Body:
    id: strawberry.ID = strawberry.field(description="Stable id of the body.")
    name: str = strawberry.field(description="The body's name.")
    kind: BodyKind = strawberry.field(description="STAKEHOLDER_GROUP or CELL.")
    purpose: str = strawberry.field(description="What the body is for.")
    is_top_level: bool = strawberry.field(description="True for the organisation's Top Level Cell.")
    model: strawberry.Private[m.Body]

    @classmethod
    def from_model(cls, model: m.Body) -> Body:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            kind=BodyKind(model.kind),
            purpose=model.purpose,
            is_top_level=model.is_top_level,
            model=model,
        )

    @classmethod
    def maybe(cls, model: m.Body | None) -> Body | None:
        return None if model is None else cls.from_model(model)

    @strawberry.field(description="A feedback commission's seats and selection; null for other bodies.")
    def commission(
        self,
    ) -> Annotated[CommissionInfo, strawberry.lazy("gateway.schema.metagovernance")] | None:
        from gateway.schema.metagovernance import commission_info

        return commission_info(self.model.commission)

    @strawberry.field(description="A cell's Cell State; null for the Stakeholder Group.")
    def cell_state(self) -> CellState | None:
        state = self.model.cell_state
        return None if state is None else CellState.from_model(state)

    @strawberry.field(description="The organisation the body belongs to.")
    async def organization(self, info: Info[Context, None]) -> Organization | None:
        return Organization.maybe(await info.context.loaders.organization.load(self.model.organization_id))

    @strawberry.field(description="The parent cell; null for the TLC and the Stakeholder Group.")
    async def parent(self, info: Info[Context, None]) -> Body | None:
        if not self.model.parent_id:
            return None
        return Body.maybe(await info.context.loaders.body.load(self.model.parent_id))

    @strawberry.field(description="The child cells; a cell with children coordinates that cluster.")
    async def children(self, info: Info[Context, None]) -> list[Body]:
        found = await info.context.loaders.body.load_many(self.model.child_ids)
        return [Body.from_model(body) for body in found if body is not None]

    @strawberry.field(description="Everyone currently in the body (see membersConnection for paging).")
    async def members(self, info: Info[Context, None]) -> list[Membership]:
        found = await info.context.loaders.body_members.load(self.model.id)
        return [Membership.from_model(item) for item in found]

    @strawberry.field(description="The current members, a page at a time.")
    async def members_connection(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Membership]:
        client = info.context.membership
        w = await pagination.window(
            lambda n, a: client.body_members(self.model.id, first=n, after=a), first, after
        )
        return connection(w, [Membership.from_model(m.Membership.model_validate(i)) for i in w.items])

    @strawberry.field(description="Proposals decided by or about this body, newest first.")
    async def proposals(
        self,
        info: Info[Context, None],
        status: Annotated[
            list[ProposalStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Proposal]:
        return await proposal_connection(
            info.context,
            self.model.organization_id,
            status=status,
            body_id=self.model.id,
            first=first,
            after=after,
        )


# --- organisations ---------------------------------------------------------------------------------


@strawberry.type(description="Funds of the current funding cycle.")
class Treasury:
    current_cycle: int = strawberry.field(description="Number of the funding cycle running now (from 0).")
    cycle_starts_at: datetime | None = strawberry.field(description="When the current cycle started.")
    cycle_ends_at: datetime | None = strawberry.field(description="When the current cycle ends.")
    committed: Decimal = strawberry.field(description="Funds committed to the current cycle.")
    allocated: Decimal = strawberry.field(description="Budgets allocated to cells in the current cycle.")
    available: Decimal = strawberry.field(description="Committed and not yet allocated.")


@strawberry.type(
    description="One project: a Stakeholder Group, a tree of cells under a Top Level Cell, a policy."
)
class Organization:
    id: strawberry.ID = strawberry.field(description="Stable id of the organisation.")
    slug: str = strawberry.field(description="Short unique name used in URLs and event subjects.")
    name: str = strawberry.field(description="Display name.")
    purpose: str = strawberry.field(description="What the project is for.")
    created_at: datetime | None = strawberry.field(description="When it was founded.")
    model: strawberry.Private[m.Organization]

    @classmethod
    def from_model(cls, model: m.Organization) -> Organization:
        return cls(
            id=strawberry.ID(model.id),
            slug=model.slug,
            name=model.name,
            purpose=model.purpose,
            created_at=model.created_at,
            model=model,
        )

    @classmethod
    def maybe(cls, model: m.Organization | None) -> Organization | None:
        return None if model is None else cls.from_model(model)

    @strawberry.field(description="The decision settings in force.")
    async def policy(self, info: Info[Context, None]) -> Policy:
        policy = await info.context.loaders.policy.load(self.model.id)
        if policy is None:
            # the proposals service builds its copy from `organization.created`; until it has, the
            # founding policy membership keeps is the truth
            return Policy.from_values(self.model.policy)
        return Policy.from_values(policy.model_dump(exclude={"modules"}), policy.modules)

    @strawberry.field(description="The Stakeholder Group.")
    async def stakeholder_group(self, info: Info[Context, None]) -> Body:
        return Body.from_model(await _required_body(info, self.model.stakeholder_group_id))

    @strawberry.field(description="The Top Level Cell, root of the cell tree.")
    async def top_level_cell(self, info: Info[Context, None]) -> Body:
        return Body.from_model(await _required_body(info, self.model.top_level_cell_id))

    @strawberry.field(description="Funds of the current funding cycle.")
    async def treasury(self, info: Info[Context, None]) -> Treasury:
        t = await info.context.loaders.treasury.load(self.model.slug)
        return Treasury(
            current_cycle=t.current_cycle,
            cycle_starts_at=t.cycle_starts_at,
            cycle_ends_at=t.cycle_ends_at,
            committed=t.committed,
            allocated=t.allocated,
            available=t.available,
        )

    @strawberry.field(description="The organisation's proposals, newest first.")
    async def proposals(
        self,
        info: Info[Context, None],
        status: Annotated[
            list[ProposalStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
        kind: Annotated[ProposalKind | None, strawberry.argument(description="Only this kind.")] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Proposal]:
        return await proposal_connection(
            info.context, self.model.id, status=status, kind=kind, first=first, after=after
        )


async def _required_body(info: Info[Context, None], body_id: str) -> m.Body:
    body = await info.context.loaders.body.load(body_id)
    if body is None:
        raise LookupError(f"body {body_id} is missing")
    return body


# --- proposals -------------------------------------------------------------------------------------


@strawberry.type(description="Weights cast so far (or final, once voting closed).")
class Tally:
    for_: Decimal = strawberry.field(name="for", description="Weight in favour.")
    against: Decimal = strawberry.field(description="Weight against.")
    abstain: Decimal = strawberry.field(description="Weight abstaining (counts towards quorum).")
    eligible: Decimal = strawberry.field(description="Total weight eligible, snapshotted when voting opened.")
    quorum_reached: bool = strawberry.field(description="Whether enough of the eligible weight has voted.")

    @classmethod
    def from_model(cls, model: m.Tally) -> Tally:
        return cls(
            for_=model.for_,
            against=model.against,
            abstain=model.abstain,
            eligible=model.eligible,
            quorum_reached=model.quorum_reached,
        )


@strawberry.type(description="One member's vote on a proposal.")
class Vote:
    voter: Member = strawberry.field(description="Who voted.")
    choice: VoteChoice = strawberry.field(description="FOR, AGAINST or ABSTAIN.")
    weight: Decimal = strawberry.field(description="The voter's weight, snapshotted when voting opened.")
    reason: str | None = strawberry.field(description="Why, if the voter said.")
    cast_at: datetime | None = strawberry.field(description="When the vote was last cast or changed.")

    @classmethod
    def from_model(cls, model: m.Vote) -> Vote:
        return cls(
            voter=Member.of(model.voter),
            choice=VoteChoice(model.choice),
            weight=model.weight,
            reason=model.reason,
            cast_at=model.cast_at,
        )


@strawberry.type(description="A concern raised during an optimistic review, for discussion.")
class Concern:
    id: strawberry.ID = strawberry.field(description="Stable id of the concern.")
    reason: str = strawberry.field(description="What the concern is.")
    raised_at: datetime = strawberry.field(description="When it was raised.")
    raised_by: Member = strawberry.field(description="Who raised it.")

    @classmethod
    def from_model(cls, model: m.Concern) -> Concern:
        return cls(
            id=strawberry.ID(model.id),
            reason=model.reason,
            raised_at=model.raised_at,
            raised_by=Member.of(model.raised_by),
        )


@strawberry.type(description="A stakeholder's objection during an optimistic review (weighted).")
class Objection:
    objector: Member = strawberry.field(description="Who objects.")
    weight: Decimal = strawberry.field(description="The objector's weight when the review started.")
    reason: str | None = strawberry.field(description="Why, if given.")
    objected_at: datetime | None = strawberry.field(description="When.")


@strawberry.type(description="A passed proposal's wait before enactment.")
class TimelockOperation:
    status: OperationStatus = strawberry.field(description="Where the wait stands.")
    enact_after: datetime | None = strawberry.field(description="When the delay ends.")
    expires_at: datetime | None = strawberry.field(description="When it fails if still not enacted.")


@strawberry.type(description="The Stakeholder Group's optimistic review of a TLC decision.")
class Review:
    id: strawberry.ID = strawberry.field(description="Stable id of the review.")
    status: ReviewStatus = strawberry.field(description="Where the review stands.")
    starts_at: datetime = strawberry.field(description="When the review opened.")
    ends_at: datetime = strawberry.field(
        description="When it passes by itself unless blocked (after any extension)."
    )
    extended: bool = strawberry.field(description="Whether a concern extended the deadline.")
    objection_weight: Decimal = strawberry.field(description="Weight of the objections so far.")
    veto_threshold_weight: Decimal = strawberry.field(
        description="Objection weight that blocks the proposal."
    )
    veto_threshold_percent: Decimal | None = strawberry.field(
        description="The threshold as a percent of SHG weight."
    )
    eligible_weight: Decimal | None = strawberry.field(description="SHG weight when the review started.")
    concerns: list[Concern] = strawberry.field(description="Concerns raised, oldest first.")
    objections: list[Objection] = strawberry.field(description="Objections standing now, oldest first.")
    operation: TimelockOperation | None = strawberry.field(description="The delay after approval, if any.")

    @classmethod
    def from_model(cls, model: m.Review) -> Review:
        op = model.operation
        return cls(
            id=strawberry.ID(model.id),
            status=ReviewStatus(model.status),
            starts_at=model.starts_at,
            ends_at=model.ends_at,
            extended=model.extended,
            objection_weight=model.objection_weight,
            veto_threshold_weight=model.veto_threshold_weight,
            veto_threshold_percent=model.veto_threshold_percent,
            eligible_weight=model.eligible_weight,
            concerns=[Concern.from_model(c) for c in model.concerns],
            objections=[
                Objection(
                    objector=Member.of(o.objector),
                    weight=o.weight,
                    reason=o.reason,
                    objected_at=o.objected_at,
                )
                for o in model.objections
            ],
            operation=None
            if op is None
            else TimelockOperation(
                status=OperationStatus(op.status), enact_after=op.enact_after, expires_at=op.expires_at
            ),
        )


@strawberry.type(description="One transition in a proposal's life.")
class HistoryEntry:
    status: ProposalStatus = strawberry.field(description="The status entered.")
    at: datetime = strawberry.field(description="When.")
    cause: str | None = strawberry.field(description="Why (e.g. 'voting closed: passed', 'review deadline').")


@strawberry.type(description="A request for a body to decide, and what happened to it.")
class Proposal:
    id: strawberry.ID = strawberry.field(description="Stable id of the proposal.")
    kind: ProposalKind = strawberry.field(description="What it asks for; decides its pathway.")
    status: ProposalStatus = strawberry.field(description="Where it is now.")
    title: str = strawberry.field(description="Short title.")
    description: str = strawberry.field(description="The full text.")
    created_at: datetime = strawberry.field(description="When it was proposed.")
    voting_ends_at: datetime | None = strawberry.field(
        description="When voting closes (it may close earlier)."
    )
    voting_closed_at: datetime | None = strawberry.field(description="When voting actually closed.")
    outcome: str | None = strawberry.field(
        description="The vote's outcome once closed: PASSED, DEFEATED or EXPIRED."
    )
    vote_count: int | None = strawberry.field(description="How many members have voted.")
    enact_after: datetime | None = strawberry.field(description="When QUEUED, the end of its delay.")
    failure_reason: str | None = strawberry.field(description="When FAILED, why its actions could not apply.")
    module_key: str | None = strawberry.field(description="The decision module that set its pathway.")
    tally: Tally | None = strawberry.field(description="Weights cast.")
    proposer: Member = strawberry.field(description="Who proposed it.")
    model: strawberry.Private[m.Proposal]

    @classmethod
    def from_model(cls, model: m.Proposal) -> Proposal:
        return cls(
            id=strawberry.ID(model.id),
            kind=ProposalKind(model.kind),
            status=ProposalStatus(model.status),
            title=model.title,
            description=model.description,
            created_at=model.created_at,
            voting_ends_at=model.voting_ends_at,
            voting_closed_at=model.voting_closed_at,
            outcome=model.outcome,
            vote_count=model.vote_count,
            enact_after=model.enact_after,
            failure_reason=model.failure_reason,
            module_key=model.module_key,
            tally=None if model.tally is None else Tally.from_model(model.tally),
            proposer=Member.of(model.proposer),
            model=model,
        )

    @classmethod
    def maybe(cls, model: m.Proposal | None) -> Proposal | None:
        return None if model is None else cls.from_model(model)

    @strawberry.field(description="What it does when enacted, in order (none: a signal).")
    def actions(self) -> list[ProposalAction]:
        return [a for a in (action_from_wire(x) for x in self.model.actions) if a is not None]

    @strawberry.field(description="The organisation.")
    async def organization(self, info: Info[Context, None]) -> Organization | None:
        return Organization.maybe(await info.context.loaders.organization.load(self.model.organization_id))

    @strawberry.field(description="The body the proposal was made to.")
    async def body(self, info: Info[Context, None]) -> Body | None:
        return Body.maybe(await info.context.loaders.body.load(self.model.body_id))

    @strawberry.field(description="The body that votes on it (e.g. the SHG for a TLC Cell State).")
    async def deciding_body(self, info: Info[Context, None]) -> Body | None:
        return Body.maybe(
            await info.context.loaders.body.load(self.model.deciding_body_id or self.model.body_id)
        )

    @strawberry.field(description="The body that reviews it optimistically, if its pathway has a review.")
    async def reviewing_body(self, info: Info[Context, None]) -> Body | None:
        if not self.model.reviewing_body_id:
            return None
        return Body.maybe(await info.context.loaders.body.load(self.model.reviewing_body_id))

    @strawberry.field(description="Every vote cast (see votesConnection for paging).")
    async def votes(self, info: Info[Context, None]) -> list[Vote]:
        return [Vote.from_model(v) for v in await info.context.loaders.votes.load(self.model.id)]

    @strawberry.field(description="The votes, a page at a time.")
    async def votes_connection(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (default 20).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[Vote]:
        client = info.context.proposals
        w = await pagination.window(lambda n, a: client.votes(self.model.id, first=n, after=a), first, after)
        return connection(w, [Vote.from_model(m.Vote.model_validate(i)) for i in w.items])

    @strawberry.field(description="The SHG's optimistic review, once one started.")
    async def review(self, info: Info[Context, None]) -> Review | None:
        review = await info.context.loaders.review.load(self.model.id)
        return None if review is None else Review.from_model(review)

    @strawberry.field(description="Every status it went through, oldest first.")
    async def history(self, info: Info[Context, None]) -> list[HistoryEntry]:
        entries = await info.context.loaders.history.load(self.model.id)
        return [HistoryEntry(status=ProposalStatus(e.status), at=e.at, cause=e.cause) for e in entries]

    # --- metagovernance (gateway/schema/metagovernance.py) ---------------------------------------------

    @strawberry.field(
        description="When voting opens: after a commission's feedback window, else when it was proposed."
    )
    def voting_starts_at(self) -> datetime | None:
        return self.model.voting_starts_at or self.model.created_at

    @strawberry.field(description="The version of its decision module it keeps for its whole life.")
    def module_version(self) -> int | None:
        return self.model.module_version

    @strawberry.field(description="Its decision module as it was when the proposal was made.")
    def module(self) -> DecisionModule | None:
        return DecisionModule.from_wire(self.model.module) if self.model.module else None

    @strawberry.field(
        description="The veto threshold of its review (percent of SHG weight); higher for an appeal."
    )
    def veto_threshold_percent(self) -> int | None:
        return self.model.veto_threshold_percent

    @strawberry.field(description="The blocked proposal this one appeals, if it is an appeal.")
    async def appeal_of(self, info: Info[Context, None]) -> Proposal | None:
        if not self.model.appeal_of:
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(self.model.appeal_of))

    @strawberry.field(description="The appeal made of this blocked proposal, if any (at most one).")
    async def appeal(self, info: Info[Context, None]) -> Proposal | None:
        if not self.model.appealed_by:
            return None
        return Proposal.maybe(await info.context.loaders.proposal.load(self.model.appealed_by))

    @strawberry.field(description="The experiment whose terms it was raised under, if any.")
    async def experiment(
        self, info: Info[Context, None]
    ) -> Annotated[Experiment, strawberry.lazy("gateway.schema.metagovernance")] | None:
        from gateway.schema.metagovernance import experiment_of

        return await experiment_of(info, self.model.experiment_id)

    @strawberry.field(description="Polls linked to it as evidence, oldest first.")
    async def polls(
        self, info: Info[Context, None]
    ) -> list[Annotated[Poll, strawberry.lazy("gateway.schema.metagovernance")]]:
        from gateway.schema.metagovernance import proposal_polls

        return await proposal_polls(info, self.model.id)

    @strawberry.field(description="The commission's feedback before voting, if its module asks for it.")
    async def feedback(
        self, info: Info[Context, None]
    ) -> Annotated[ProposalFeedback, strawberry.lazy("gateway.schema.metagovernance")] | None:
        from gateway.schema.metagovernance import proposal_feedback

        return await proposal_feedback(info, self)


async def proposal_connection(
    context: Context,
    organization_id: str,
    *,
    status: list[ProposalStatus] | None = None,
    kind: ProposalKind | None = None,
    body_id: str | None = None,
    first: int | None,
    after: str | None,
) -> Connection[Proposal]:
    statuses = [s.value for s in status or []]

    async def fetch(n: int, a: str | None) -> Any:
        return await context.proposals.list_proposals(
            organization_id,
            statuses=statuses,
            kind=kind.value if kind else None,
            body_id=body_id,
            first=n,
            after=a,
        )

    w = await pagination.window(fetch, first, after)
    nodes = []
    for item in w.items:
        model = m.Proposal.model_validate(item)
        context.loaders.prime_proposal(model)
        nodes.append(Proposal.from_model(model))
    return connection(w, nodes)


# --- funds, events, status -------------------------------------------------------------------------


@strawberry.type(description="Funds a stakeholder committed to a funding cycle.")
class Commitment:
    cycle: int = strawberry.field(description="The funding cycle.")
    amount: Decimal = strawberry.field(description="The amount.")
    status: CommitmentStatus = strawberry.field(description="COMMITTED once the cycle started, else PLEDGED.")


@strawberry.type(description="Something that happened to a proposal (CloudEvents type and time), live.")
class ProposalEvent:
    id: strawberry.ID = strawberry.field(description="The event id (unique; also its CloudEvents id).")
    type: str = strawberry.field(description="CloudEvents type, e.g. governance.proposal.enacted.v1.")
    time: datetime = strawberry.field(description="When it happened.")
    sequence: int | None = strawberry.field(description="Per-proposal (or per-vote-stream) sequence number.")
    data: JSON = strawberry.field(description="The event's data as published (contract/events.md).")
    proposal_id: strawberry.ID = strawberry.field(description="The proposal it is about.")
    status: ProposalStatus | None = strawberry.field(description="The proposal's status right after it.")

    @strawberry.field(description="The proposal, with the status it had right after this event.")
    async def proposal(self, info: Info[Context, None]) -> Proposal:
        wanted = {f.name for f in info.selected_fields[0].selections if hasattr(f, "name")}
        if wanted <= {"id", "status", "__typename"} and self.status is not None:
            # enough is in the event itself: no call per event per subscriber
            return _proposal_stub(str(self.proposal_id), self.status, self.data)
        model = await info.context.fresh_loaders().proposal.load(str(self.proposal_id))
        if model is None:
            return _proposal_stub(str(self.proposal_id), self.status, self.data)
        if self.status is not None:
            model = model.model_copy(update={"status": self.status.value})
        return Proposal.from_model(model)


def _proposal_stub(proposal_id: str, status: ProposalStatus | None, data: dict[str, Any]) -> Proposal:
    model = m.Proposal(
        id=proposal_id,
        organization_id=str(data.get("organizationId", "")),
        kind=str(data.get("kind", "OPERATIONAL")),
        status=(status or ProposalStatus.VOTING).value,
        title=str(data.get("title", "")),
        body_id=str(data.get("bodyId", "")),
        deciding_body_id=data.get("decidingBodyId"),
        proposer=str(data.get("proposer", "")),
        created_at=datetime.fromisoformat(str(data.get("createdAt", "1970-01-01T00:00:00+00:00"))),
    )
    return Proposal.from_model(model)
