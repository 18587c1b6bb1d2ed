"""Mutations: each calls one service on behalf of the signed-in member and answers a payload.

Refusals (the contract's codes) come back as `userErrors` with an empty result; the member always comes
from the verified bearer token, never from input.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.schema.enums import CommitmentStatus, VoteChoice
from gateway.schema.errors import UserError, guarded, refusals
from gateway.schema.inputs import CreateOrganizationInput, CreateProposalInput, to_wire
from gateway.schema.metagovernance import MetagovernanceMutation, action_to_wire
from gateway.schema.types import Commitment, Concern, Member, Organization, Proposal, Review, Vote
from gateway.schema.validation import require_address, require_slug, require_uuid
from gateway.schema.webhooks import WebhookMutation
from kit import InvalidInput, NotFound


@strawberry.type(description="The result of signing in.")
class SignInPayload:
    token: str | None = strawberry.field(default=None, description="Bearer token for `Authorization`.")
    expires_at: datetime | None = strawberry.field(default=None, description="When the token stops working.")
    member: Member | None = strawberry.field(default=None, description="Who signed in.")
    user_errors: list[UserError] = refusals("Why sign-in was refused; empty on success.")


@strawberry.type(description="The result of founding an organisation.")
class CreateOrganizationPayload:
    organization: Organization | None = strawberry.field(default=None, description="The new organisation.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of committing funds.")
class CommitFundsPayload:
    commitment: Commitment | None = strawberry.field(default=None, description="The commitment recorded.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of leaving a body (right of exit).")
class LeaveBodyPayload:
    withdrawn: Decimal | None = strawberry.field(
        default=None, description="Uncommitted funds returned to the member (0 for cells)."
    )
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of making a proposal.")
class CreateProposalPayload:
    proposal: Proposal | None = strawberry.field(
        default=None, description="The new proposal, open for votes."
    )
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of voting.")
class CastVotePayload:
    vote: Vote | None = strawberry.field(default=None, description="The vote as recorded.")
    proposal: Proposal | None = strawberry.field(default=None, description="The proposal after the vote.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of cancelling a proposal.")
class CancelProposalPayload:
    proposal: Proposal | None = strawberry.field(default=None, description="The cancelled proposal.")
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of raising a concern.")
class RaiseConcernPayload:
    concern: Concern | None = strawberry.field(default=None, description="The concern recorded.")
    review: Review | None = strawberry.field(
        default=None, description="The review after it (maybe extended)."
    )
    user_errors: list[UserError] = refusals()


@strawberry.type(description="The result of objecting to, or withdrawing an objection from, a proposal.")
class ObjectionPayload:
    review: Review | None = strawberry.field(default=None, description="The review after it.")
    user_errors: list[UserError] = refusals()


def _proposal_id(value: strawberry.ID) -> str:
    try:
        return require_uuid(value, "proposalId")
    except InvalidInput:
        raise NotFound("no such proposal", field="proposalId") from None


@strawberry.type(description="Everything a front-end changes.")
class Mutation(MetagovernanceMutation, WebhookMutation):
    @strawberry.mutation(description="Start signing in: the EIP-4361 message to sign (single-use nonce).")
    async def sign_in_challenge(
        self,
        info: Info[Context, None],
        address: Annotated[str, strawberry.argument(description="The address signing in, any case.")],
    ) -> str:
        require_address(address)
        challenge = await info.context.membership.challenge(address)
        return challenge.message

    @strawberry.mutation(description="Finish signing in with the EIP-191 signature of the challenge message.")
    async def sign_in(
        self,
        info: Info[Context, None],
        message: Annotated[str, strawberry.argument(description="The challenge message, unchanged.")],
        signature: Annotated[str, strawberry.argument(description="personal_sign signature, 0x hex.")],
    ) -> SignInPayload:
        async def run() -> SignInPayload:
            signed = await info.context.membership.sign_in(message, signature)
            return SignInPayload(
                token=signed.token, expires_at=signed.expires_at, member=Member.of(signed.address)
            )

        return await guarded(SignInPayload, run)

    @strawberry.mutation(description="Found an organisation (needs a signed-in member).")
    async def create_organization(
        self,
        info: Info[Context, None],
        input: Annotated[CreateOrganizationInput, strawberry.argument(description="The organisation.")],
    ) -> CreateOrganizationPayload:
        async def run() -> CreateOrganizationPayload:
            info.context.require_actor()
            require_slug(input.slug, "input.slug")
            organization = await info.context.membership.create_organization(to_wire(input))
            info.context.loaders.prime_organization(organization)
            return CreateOrganizationPayload(organization=Organization.from_model(organization))

        return await guarded(CreateOrganizationPayload, run)

    @strawberry.mutation(description="Commit funds to a funding cycle (stakeholders only).")
    async def commit_funds(
        self,
        info: Info[Context, None],
        organization: Annotated[str, strawberry.argument(description="The organisation's slug.")],
        cycle: Annotated[int, strawberry.argument(description="The cycle: the current one or later.")],
        amount: Annotated[Decimal, strawberry.argument(description='Amount, e.g. "1000.50".')],
    ) -> CommitFundsPayload:
        async def run() -> CommitFundsPayload:
            info.context.require_actor()
            if not amount.is_finite():
                raise InvalidInput("amount must be a number", field="amount")
            try:
                slug = require_slug(organization)
            except InvalidInput:
                raise NotFound(f"no organisation {organization!r}", field="organization") from None
            c = await info.context.membership.commit_funds(slug, cycle=cycle, amount=format(amount, "f"))
            return CommitFundsPayload(
                commitment=Commitment(cycle=c.cycle, amount=c.amount, status=CommitmentStatus(c.status))
            )

        return await guarded(CommitFundsPayload, run)

    @strawberry.mutation(
        description="Leave a body (right of exit); a stakeholder takes back uncommitted funds."
    )
    async def leave_body(
        self,
        info: Info[Context, None],
        body_id: Annotated[strawberry.ID, strawberry.argument(description="The body to leave.")],
    ) -> LeaveBodyPayload:
        async def run() -> LeaveBodyPayload:
            info.context.require_actor()
            try:
                body = require_uuid(body_id, "bodyId")
            except InvalidInput:
                raise NotFound("no such body", field="bodyId") from None
            doc = await info.context.membership.leave_body(body)
            return LeaveBodyPayload(withdrawn=Decimal(str(doc.get("withdrawn", "0"))))

        return await guarded(LeaveBodyPayload, run)

    @strawberry.mutation(
        description="Make a proposal to a body; its kind decides who votes and what follows."
    )
    async def create_proposal(
        self,
        info: Info[Context, None],
        input: Annotated[CreateProposalInput, strawberry.argument(description="The proposal.")],
    ) -> CreateProposalPayload:
        async def run() -> CreateProposalPayload:
            info.context.require_actor()
            try:
                require_uuid(input.body_id, "bodyId")
            except InvalidInput:
                raise NotFound("no such body", field="input.bodyId") from None
            payload = to_wire(input)
            payload["actions"] = [action_to_wire(a) for a in payload.get("actions") or []]
            proposal = await info.context.proposals.create_proposal(payload)
            info.context.loaders.prime_proposal(proposal)
            return CreateProposalPayload(proposal=Proposal.from_model(proposal))

        return await guarded(CreateProposalPayload, run)

    @strawberry.mutation(description="Vote on a proposal, or change your vote while voting is open.")
    async def cast_vote(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal.")],
        choice: Annotated[VoteChoice, strawberry.argument(description="FOR, AGAINST or ABSTAIN.")],
        reason: Annotated[str | None, strawberry.argument(description="Why, optionally.")] = None,
    ) -> CastVotePayload:
        async def run() -> CastVotePayload:
            info.context.require_actor()
            vote, proposal = await info.context.proposals.cast_vote(
                _proposal_id(proposal_id), choice=choice.value, reason=reason
            )
            info.context.loaders.prime_proposal(proposal)
            return CastVotePayload(vote=Vote.from_model(vote), proposal=Proposal.from_model(proposal))

        return await guarded(CastVotePayload, run)

    @strawberry.mutation(description="Cancel your own proposal before it is enacted.")
    async def cancel_proposal(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal.")],
    ) -> CancelProposalPayload:
        async def run() -> CancelProposalPayload:
            info.context.require_actor()
            proposal = await info.context.proposals.cancel(_proposal_id(proposal_id))
            info.context.loaders.prime_proposal(proposal)
            return CancelProposalPayload(proposal=Proposal.from_model(proposal))

        return await guarded(CancelProposalPayload, run)

    @strawberry.mutation(description="Raise a concern on a proposal under review (SHG members).")
    async def raise_concern(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal under review.")],
        reason: Annotated[str, strawberry.argument(description="The concern.")],
    ) -> RaiseConcernPayload:
        async def run() -> RaiseConcernPayload:
            info.context.require_actor()
            concern, review = await info.context.timelock.raise_concern(_proposal_id(proposal_id), reason)
            return RaiseConcernPayload(concern=Concern.from_model(concern), review=Review.from_model(review))

        return await guarded(RaiseConcernPayload, run)

    @strawberry.mutation(description="Object to a proposal under review with your SHG weight.")
    async def object_to_proposal(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal under review.")],
        reason: Annotated[str | None, strawberry.argument(description="Why, optionally.")] = None,
    ) -> ObjectionPayload:
        async def run() -> ObjectionPayload:
            info.context.require_actor()
            review = await info.context.timelock.object(_proposal_id(proposal_id), reason)
            return ObjectionPayload(review=Review.from_model(review))

        return await guarded(ObjectionPayload, run)

    @strawberry.mutation(description="Withdraw your objection while the review is open.")
    async def withdraw_objection(
        self,
        info: Info[Context, None],
        proposal_id: Annotated[strawberry.ID, strawberry.argument(description="The proposal under review.")],
    ) -> ObjectionPayload:
        async def run() -> ObjectionPayload:
            info.context.require_actor()
            review = await info.context.timelock.withdraw_objection(_proposal_id(proposal_id))
            return ObjectionPayload(review=Review.from_model(review))

        return await guarded(ObjectionPayload, run)
