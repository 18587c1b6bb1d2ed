"""The schema's enums: the closed sets of values the domain knows (DOMAIN.md)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(
    description="What a proposal asks for; the kind decides the pathway (who decides, review, delay)."
)
class ProposalKind(Enum):
    OPERATIONAL = strawberry.enum_value(
        "OPERATIONAL",
        description="Day-to-day work of a cell; at the TLC it goes to optimistic review by the SHG.",
    )
    BUDGET = strawberry.enum_value(
        "BUDGET", description="Allocation of funds at the TLC; reviewed optimistically by the SHG."
    )
    CELL_STATE = strawberry.enum_value(
        "CELL_STATE",
        description="A cell's purpose, strategy and agreements; for the TLC the SHG approves it.",
    )
    STAKEHOLDER = strawberry.enum_value(
        "STAKEHOLDER", description="A decision of the Stakeholder Group, e.g. a new funded activity."
    )
    COMMUNITY = strawberry.enum_value(
        "COMMUNITY",
        description="Any signed-in member may propose, if the organisation enabled it; the SHG decides.",
    )
    POLICY = strawberry.enum_value(
        "POLICY", description="Metagovernance: a change to a decision module, enacted after a delay."
    )


@strawberry.enum(description="Where a proposal is in its life; every change is kept in its history.")
class ProposalStatus(Enum):
    VOTING = strawberry.enum_value("VOTING", description="Open for votes until votingEndsAt.")
    DEFEATED = strawberry.enum_value("DEFEATED", description="The vote did not pass.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="Voting ended without quorum.")
    IN_REVIEW = strawberry.enum_value(
        "IN_REVIEW",
        description="Passed by the TLC; the SHG may raise concerns and object until the review ends.",
    )
    BLOCKED = strawberry.enum_value("BLOCKED", description="The SHG's objections reached the veto threshold.")
    QUEUED = strawberry.enum_value("QUEUED", description="Passed; waiting for its delay to end (enactAfter).")
    ENACTED = strawberry.enum_value("ENACTED", description="Its actions were applied.")
    FAILED = strawberry.enum_value(
        "FAILED",
        description="Its actions could no longer apply at enactment; nothing changed (failureReason).",
    )
    CANCELLED = strawberry.enum_value("CANCELLED", description="Withdrawn by its proposer before enactment.")


@strawberry.enum(description="The role of a member in a body.")
class Role(Enum):
    STAKEHOLDER = strawberry.enum_value("STAKEHOLDER", description="A member of the Stakeholder Group.")
    CORE_TEAM = strawberry.enum_value(
        "CORE_TEAM", description="Shares a cell's responsibility and its vote (at most 9 per cell)."
    )
    CONTRIBUTOR = strawberry.enum_value("CONTRIBUTOR", description="Works for a cell without a vote.")
    COMMISSIONER = strawberry.enum_value(
        "COMMISSIONER", description="Holds a seat on a feedback commission (no vote on proposals)."
    )


@strawberry.enum(description="The two kinds of deciding body.")
class BodyKind(Enum):
    STAKEHOLDER_GROUP = strawberry.enum_value(
        "STAKEHOLDER_GROUP", description="The house of those with money, reputation or networks at stake."
    )
    CELL = strawberry.enum_value(
        "CELL", description="An autonomous team; the root cell is the Top Level Cell."
    )
    COMMISSION = strawberry.enum_value(
        "COMMISSION",
        description="A feedback commission: seats by group, feedback on drafts, no decisions.",
    )


@strawberry.enum(description="A voter's choice.")
class VoteChoice(Enum):
    FOR = strawberry.enum_value("FOR", description="In favour.")
    AGAINST = strawberry.enum_value("AGAINST", description="Against.")
    ABSTAIN = strawberry.enum_value("ABSTAIN", description="Counts towards quorum, for neither side.")


@strawberry.enum(description="Whether a cell's Cell State has been approved.")
class CellStateStatus(Enum):
    DRAFT = strawberry.enum_value("DRAFT", description="Written by the cell, not approved yet.")
    APPROVED = strawberry.enum_value("APPROVED", description="Approved by an enacted CELL_STATE proposal.")


@strawberry.enum(description="Where committed funds stand (right of exit).")
class CommitmentStatus(Enum):
    COMMITTED = strawberry.enum_value(
        "COMMITTED", description="The cycle has started: the funds stay with the project."
    )
    PLEDGED = strawberry.enum_value(
        "PLEDGED", description="The cycle has not started: a stakeholder who exits takes them back."
    )
    WITHDRAWN = strawberry.enum_value("WITHDRAWN", description="Taken back on exit.")


@strawberry.enum(description="How Stakeholder Group votes are weighted.")
class StakeholderWeighting(Enum):
    EQUAL = strawberry.enum_value("EQUAL", description="One stakeholder, one vote.")
    COMMITTED_FUNDS = strawberry.enum_value(
        "COMMITTED_FUNDS", description="By the funds a stakeholder has committed and not withdrawn."
    )


@strawberry.enum(description="Where an optimistic review stands.")
class ReviewStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Open: concerns and objections are taken until endsAt."
    )
    BLOCKED = strawberry.enum_value("BLOCKED", description="Objections reached the veto threshold.")
    APPROVED = strawberry.enum_value("APPROVED", description="The review ended without a veto.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="The proposal was cancelled during review.")


@strawberry.enum(description="Where a passed proposal's timelocked operation stands.")
class OperationStatus(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for its delay (enactAfter).")
    READY = strawberry.enum_value("READY", description="The delay is over; enactment is under way.")
    EXECUTED = strawberry.enum_value("EXECUTED", description="Enacted.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="Not enacted within the grace period.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled with its proposal.")


@strawberry.enum(description="Health of the platform or of one service, for dashboards.")
class HealthStatus(Enum):
    OK = strawberry.enum_value("ok", description="Working normally.")
    DEGRADED = strawberry.enum_value("degraded", description="Answering, but a dependency is unwell.")
    DOWN = strawberry.enum_value("down", description="Not answering.")


@strawberry.enum(description="The stable codes of userErrors; clients branch on these, never on messages.")
class UserErrorCode(Enum):
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="Sign in first (or sign in again)."
    )
    FORBIDDEN = strawberry.enum_value("FORBIDDEN", description="Signed in, but not allowed to do this.")
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="No such organisation, body, member or proposal."
    )
    INVALID_INPUT = strawberry.enum_value("INVALID_INPUT", description="The input is malformed; see field.")
    CONFLICT = strawberry.enum_value("CONFLICT", description="The current state does not allow this.")
    CORE_TEAM_FULL = strawberry.enum_value(
        "CORE_TEAM_FULL", description="A cell's core team has at most 9 members."
    )
    INSUFFICIENT_FUNDS = strawberry.enum_value(
        "INSUFFICIENT_FUNDS", description="More than is committed and unallocated for the cycle."
    )
    ALREADY_EXITED = strawberry.enum_value(
        "ALREADY_EXITED", description="Not (or no longer) a member of that body."
    )
    VOTING_CLOSED = strawberry.enum_value("VOTING_CLOSED", description="The proposal no longer takes votes.")
    REVIEW_CLOSED = strawberry.enum_value(
        "REVIEW_CLOSED", description="The review no longer takes concerns or objections."
    )
    UNAVAILABLE = strawberry.enum_value(
        "UNAVAILABLE", description="A service did not answer; check the current state before trying again."
    )
