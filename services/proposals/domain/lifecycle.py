"""A proposal's life as a state machine.

    VOTING ──outcome DEFEATED──▶ DEFEATED
       │───no quorum──────────▶ EXPIRED
       │───passed, review─────▶ IN_REVIEW ──review.blocked──▶ BLOCKED
       │                           │──review.approved (no delay) / operation.ready──▶ (enactment)
       │                           │──operation.queued──▶ QUEUED
       │                           └──operation.expired──▶ FAILED
       │───passed, delay──────▶ QUEUED ──operation.ready──▶ (enactment)
       │                           └──operation.expired──▶ FAILED
       └───passed, no delay───▶ (enactment)

    (enactment)  without membership actions: ──▶ ENACTED
                 with membership actions: QUEUED, enactment requested
                     ──organization.actions_applied──▶ ENACTED
                     ──organization.actions_rejected──▶ FAILED
    VOTING, IN_REVIEW, QUEUED (until enactment is requested) ──cancel by the proposer──▶ CANCELLED

Two additions for metagovernance, without new statuses: a module that asks a commission's feedback
opens voting only after the feedback window (`votingStartsAt`; the proposal is VOTING but takes no vote
before then, and the voters are snapshotted when voting opens); an appeal (a BLOCKED proposal submitted
again, once) is reviewed with the module's higher appeal veto threshold.

The status changes only through `_move`, which refuses any pair not in `TRANSITIONS` and appends the
change to the history with its time and cause. Commands from people (vote, cancel) raise domain errors
when the status does not allow them; verdicts from other services that no longer apply are ignored
(the handlers answer False), so a duplicate or late event changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from kit import Conflict, Forbidden, InvalidInput, VotingClosed

from .actions import Action, UpdatePolicy, is_membership_action
from .organization import Voter, checksum
from .policy import DecisionModule, Kind, Next, PolicyUpdate
from .voting import Choice, Outcome, Tally

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_REASON = 2_000
MAX_FEEDBACK = 10_000


class Status(StrEnum):
    VOTING = "VOTING"
    DEFEATED = "DEFEATED"
    EXPIRED = "EXPIRED"
    IN_REVIEW = "IN_REVIEW"
    BLOCKED = "BLOCKED"
    QUEUED = "QUEUED"
    ENACTED = "ENACTED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.VOTING: frozenset(
        {Status.DEFEATED, Status.EXPIRED, Status.IN_REVIEW, Status.QUEUED, Status.ENACTED, Status.CANCELLED}
    ),
    Status.IN_REVIEW: frozenset(
        {Status.BLOCKED, Status.QUEUED, Status.ENACTED, Status.FAILED, Status.CANCELLED}
    ),
    Status.QUEUED: frozenset({Status.ENACTED, Status.FAILED, Status.CANCELLED}),
    Status.DEFEATED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.BLOCKED: frozenset(),
    Status.ENACTED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


class IllegalTransition(RuntimeError):
    """A bug: code tried a status change the state machine does not have."""


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def format_decimal(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return "0" if Decimal(text) == 0 else text


@dataclass(frozen=True)
class HistoryEntry:
    status: Status
    at: datetime
    cause: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": str(self.status), "at": iso(self.at), "cause": self.cause}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            Status(raw["status"]), datetime.fromisoformat(raw["at"].replace("Z", "+00:00")), raw["cause"]
        )


@dataclass(frozen=True)
class Vote:
    voter: str
    choice: Choice
    weight: Decimal
    reason: str | None
    cast_at: datetime


@dataclass(frozen=True)
class FeedbackEntry:
    id: UUID
    commission_id: UUID
    author: str
    text: str
    given_at: datetime


@dataclass(frozen=True)
class DomainEvent:
    """An event to publish: `aggregate` is `proposal` or `vote`, `name` the event (e.g. `voting_closed`)."""

    aggregate: str
    name: str
    data: dict[str, Any]


def clean_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("a title is required", field="title")
    title = title.strip()
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"the title is longer than {MAX_TITLE} characters", field="title")
    return title


def clean_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise InvalidInput("the description must be a string", field="description")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"the description is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    return description


def clean_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise InvalidInput("the reason must be a string", field="reason")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
    return reason or None


@dataclass
class Proposal:
    id: UUID
    organization_id: UUID
    organization_slug: str
    kind: Kind
    title: str
    description: str
    body_id: UUID
    deciding_body_id: UUID
    reviewing_body_id: UUID | None
    proposer: str
    created_at: datetime
    voting_ends_at: datetime
    module: DecisionModule
    actions: tuple[Action, ...]
    _status: Status
    tally: Tally = field(default_factory=Tally)
    voter_count: int = 0
    vote_count: int = 0
    history: list[HistoryEntry] = field(default_factory=list)
    voting_closed_at: datetime | None = None
    outcome: Outcome | None = None
    review_id: UUID | None = None
    review_ends_at: datetime | None = None
    enact_after: datetime | None = None
    enactment_requested_at: datetime | None = None
    failure_reason: str | None = None
    cancelled_by: str | None = None
    updated_at: datetime | None = None
    # metagovernance: when voting opens (after a commission's feedback), when the voters were snapshotted,
    # the blocked proposal this one appeals, and the appeal made of this one
    voting_starts_at: datetime | None = None
    voters_taken_at: datetime | None = None
    appeal_of: UUID | None = None
    appealed_by: UUID | None = None
    events: list[DomainEvent] = field(default_factory=list)

    # --- creation -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        organization_id: UUID,
        organization_slug: str,
        kind: Kind,
        title: Any,
        description: Any,
        body_id: UUID,
        deciding_body_id: UUID,
        reviewing_body_id: UUID | None,
        proposer: str,
        module: DecisionModule,
        actions: Sequence[Action],
        voters: Sequence[Voter],
        now: datetime,
        appeal_of: UUID | None = None,
    ) -> Proposal:
        """Open voting now; the voters and their weights are the snapshot for the whole vote.

        If the module asks a commission's feedback first, voting opens after its window instead: the
        voters are then snapshotted by `open_voting` (pass none here).
        """
        feedback = module.feedback
        starts = now + timedelta(seconds=feedback.window_seconds) if feedback else now
        if feedback:
            voters = ()
        cause = f"proposed by {checksum(proposer)}; " + (
            f"the commission's feedback is taken until {iso(starts)}, then voting opens"
            if feedback
            else "voting opened"
        )
        if appeal_of is not None:
            cause += f"; an appeal of the blocked proposal {appeal_of}"
        proposal = cls(
            id=id,
            organization_id=organization_id,
            organization_slug=organization_slug,
            kind=kind,
            title=clean_title(title),
            description=clean_description(description),
            body_id=body_id,
            deciding_body_id=deciding_body_id,
            reviewing_body_id=reviewing_body_id if module.review is not None else None,
            proposer=proposer,
            created_at=now,
            voting_ends_at=starts + timedelta(seconds=module.voting_period_seconds),
            module=module,
            actions=tuple(actions),
            _status=Status.VOTING,
            tally=Tally(eligible=sum((v.weight for v in voters), Decimal(0))),
            voter_count=len(voters),
            history=[HistoryEntry(Status.VOTING, now, cause)],
            updated_at=now,
            voting_starts_at=starts,
            voters_taken_at=None if feedback else now,
            appeal_of=appeal_of,
        )
        proposal._record(
            "created",
            {
                "title": proposal.title,
                "proposer": checksum(proposer),
                "createdAt": iso(now),
                "votingEndsAt": iso(proposal.voting_ends_at),
                "moduleKey": module.key,
                "moduleVersion": module.version,
                "actions": proposal.actions_as_dicts(),
                "votingStartsAt": iso(starts),
                "feedbackCommissionId": str(feedback.commission_id) if feedback else None,
                "appealOf": str(appeal_of) if appeal_of else None,
                "experimentId": str(module.experiment_id) if module.experiment_id else None,
            },
        )
        return proposal

    # --- reading ------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._status

    @property
    def is_voting(self) -> bool:
        return self._status is Status.VOTING

    @property
    def awaiting_feedback(self) -> bool:
        """In the commission's feedback window: proposed, voting not open yet."""
        return self._status is Status.VOTING and self.voters_taken_at is None

    @property
    def veto_threshold_percent(self) -> int:
        """The review's veto threshold: the module's, or its higher appeal threshold for an appeal."""
        review = self.module.review
        if review is None:
            return 0
        return review.appeal_veto_threshold_percent if self.appeal_of else review.veto_threshold_percent

    @property
    def enactment_requested(self) -> bool:
        return self.enactment_requested_at is not None

    def actions_as_dicts(self, *, membership_only: bool = False) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.actions if not membership_only or is_membership_action(a)]

    def policy_updates(self) -> list[PolicyUpdate]:
        return [a.update for a in self.actions if isinstance(a, UpdatePolicy)]

    def tally_dict(self) -> dict[str, Any]:
        t = self.tally
        return {
            "for": format_decimal(t.for_),
            "against": format_decimal(t.against),
            "abstain": format_decimal(t.abstain),
            "eligible": format_decimal(t.eligible),
            "quorumReached": self.module.rule.quorum_reached(t),
        }

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events

    # --- the one way to change status ---------------------------------------------------------

    def _move(self, to: Status, now: datetime, cause: str) -> None:
        if to not in TRANSITIONS[self._status]:
            raise IllegalTransition(f"{self._status} → {to} is not a transition of a proposal")
        self._status = to
        self.updated_at = now
        self.history.append(HistoryEntry(to, now, cause))

    def _record(self, name: str, data: dict[str, Any], *, aggregate: str = "proposal") -> DomainEvent:
        base = {
            "proposalId": str(self.id),
            "status": str(self._status),
            "kind": str(self.kind),
            "bodyId": str(self.body_id),
            "decidingBodyId": str(self.deciding_body_id),
        }
        event = DomainEvent(aggregate, name, {**base, **data} if aggregate == "proposal" else data)
        self.events.append(event)
        return event

    # --- voting -------------------------------------------------------------------------------

    def cast_vote(
        self,
        *,
        voter: str,
        weight: Decimal | None,
        still_member: bool,
        choice: Choice,
        reason: Any,
        previous: Vote | None,
        now: datetime,
    ) -> Vote:
        """Count (or change) one vote; closes voting at once if the outcome can no longer change.

        `weight` is the voter's snapshotted weight (None: was not a voter when voting opened);
        `still_member` whether they are still in the deciding body (who has exited cannot vote).
        """
        if self._status is not Status.VOTING or now >= self.voting_ends_at:
            raise VotingClosed("voting on this proposal is closed")
        if self.voters_taken_at is None:
            raise VotingClosed(
                f"voting opens at {iso(self.voting_starts_at)}, after the commission's feedback"
            )
        if weight is None:
            raise Forbidden("only members of the deciding body when voting opened may vote")
        if not still_member:
            raise Forbidden("you have left the deciding body and can no longer vote")
        choice = Choice(choice)
        reason = clean_reason(reason)
        self.tally = self.tally.with_vote(choice, weight, previous.choice if previous else None)
        if previous is None:
            self.vote_count += 1
        self.updated_at = now
        vote = Vote(voter, choice, weight, reason, now)
        cast = self._record(
            "cast",
            {
                "proposalId": str(self.id),
                "voter": checksum(voter),
                "choice": str(choice),
                "weight": format_decimal(weight),
                "reason": reason,
                "changed": previous is not None,
                "proposalStatus": str(self._status),
                "tally": self.tally_dict(),
            },
            aggregate="vote",
        )
        decided = self.module.rule.decided_outcome(self.tally)
        if decided is not None:
            self._close(decided, now, "the outcome can no longer change")
            cast.data["proposalStatus"] = str(self._status)
        return vote

    def open_voting(self, voters: Sequence[Voter], now: datetime) -> bool:
        """The feedback window is over: snapshot the voters now. Answers False if already done."""
        if not self.awaiting_feedback:
            return False
        self.tally = Tally(eligible=sum((v.weight for v in voters), Decimal(0)))
        self.voter_count = len(voters)
        self.voters_taken_at = self.updated_at = now
        self._record(
            "voting_opened",
            {
                "votingEndsAt": iso(self.voting_ends_at),
                "eligible": format_decimal(self.tally.eligible),
                "voterCount": self.voter_count,
            },
        )
        return True

    def give_feedback(
        self, *, id: UUID, author: str, is_commissioner: bool, text: Any, now: datetime
    ) -> FeedbackEntry:
        """A commission member's feedback on the draft, taken until voting opens."""
        feedback = self.module.feedback
        if feedback is None:
            raise Conflict("this proposal's decision module asks no commission's feedback")
        if not is_commissioner:
            raise Forbidden("only members of the commission give feedback")
        if not self.awaiting_feedback or (self.voting_starts_at and now >= self.voting_starts_at):
            raise Conflict("feedback is taken before voting opens; voting has opened")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("the feedback's text is required", field="text")
        if len(text.strip()) > MAX_FEEDBACK:
            raise InvalidInput(f"the feedback is longer than {MAX_FEEDBACK} characters", field="text")
        entry = FeedbackEntry(id, feedback.commission_id, author, text.strip(), now)
        self.updated_at = now
        self._record(
            "feedback_given",
            {
                "feedbackId": str(id),
                "commissionId": str(feedback.commission_id),
                "author": checksum(author),
                # a commission's channel is private unless the organisation made it public
                "text": entry.text if feedback.public else None,
            },
        )
        return entry

    def record_appeal(self, *, appeal_id: UUID, now: datetime) -> None:
        """This BLOCKED proposal is submitted again, once, as the appeal `appeal_id`."""
        if self._status is not Status.BLOCKED:
            raise Conflict("only a blocked proposal can be appealed")
        if self.appeal_of is not None:
            raise Conflict("an appeal cannot be appealed again")
        if self.appealed_by is not None:
            raise Conflict("this proposal was already appealed once")
        self.appealed_by, self.updated_at = appeal_id, now
        self._record("appealed", {"appealId": str(appeal_id)})

    def close_voting(self, now: datetime) -> bool:
        """Voting time is over (the durable deadline fired). Answers False if already closed."""
        if self._status is not Status.VOTING:
            return False
        self._close(self.module.rule.final_outcome(self.tally), now, "voting period ended")
        return True

    def _review_terms(self) -> dict[str, Any]:
        m = self.module
        return {
            "reviewingBodyId": str(self.reviewing_body_id) if m.review and self.reviewing_body_id else None,
            "windowSeconds": m.review.window_seconds if m.review else 0,
            "vetoThresholdPercent": self.veto_threshold_percent,
            "concernExtensionSeconds": m.review.concern_extension_seconds if m.review else 0,
            "delaySeconds": m.delay_seconds,
            "gracePeriodSeconds": m.grace_period_seconds,
        }

    def _close(self, outcome: Outcome, now: datetime, why: str) -> None:
        self.voting_closed_at = now
        self.outcome = outcome
        tally = self.tally_dict()
        summary = (
            f"for {tally['for']}, against {tally['against']}, abstain {tally['abstain']} "
            f"of {tally['eligible']}"
        )
        if outcome is not Outcome.PASSED:
            status = Status.DEFEATED if outcome is Outcome.DEFEATED else Status.EXPIRED
            cause = "defeated" if outcome is Outcome.DEFEATED else "expired without quorum"
            self._move(status, now, f"{why}: {cause} ({summary})")
            self._record("voting_closed", {"outcome": str(outcome), "tally": tally, "next": str(Next.NONE)})
            self._record(status.lower(), {"tally": tally})
            return
        nxt = self.module.next_after_passing
        data: dict[str, Any] = {"outcome": str(outcome), "tally": tally, "next": str(nxt)}
        if nxt in (Next.REVIEW, Next.DELAY):
            data["review"] = self._review_terms()
        if nxt is Next.REVIEW:
            self._move(
                Status.IN_REVIEW,
                now,
                f"{why}: passed ({summary}); optimistic review by the Stakeholder Group",
            )
            self._record("voting_closed", data)
        elif nxt is Next.DELAY:
            self._move(
                Status.QUEUED,
                now,
                f"{why}: passed ({summary}); waiting a delay of {self.module.delay_seconds} s",
            )
            self._record("voting_closed", data)
        else:
            closed = self._record("voting_closed", data)
            self._begin_enactment(now, f"{why}: passed ({summary})")
            closed.data["status"] = str(self._status)

    # --- enactment ----------------------------------------------------------------------------

    def _begin_enactment(self, now: datetime, cause: str) -> None:
        membership_actions = self.actions_as_dicts(membership_only=True)
        if not membership_actions:
            self._enact(now, cause)
            return
        if self._status is not Status.QUEUED:
            self._move(Status.QUEUED, now, f"{cause}; enactment requested")
        if self.enact_after is None:
            self.enact_after = now
        self.enactment_requested_at = now
        self.updated_at = now
        self._record("enactment_requested", {"actions": membership_actions})

    def _enact(self, now: datetime, cause: str) -> None:
        self._move(Status.ENACTED, now, f"{cause}; enacted")
        self._record("enacted", {"actions": self.actions_as_dicts()})

    def _fail(self, now: datetime, reason: str, cause: str) -> None:
        self.failure_reason = reason
        self._move(Status.FAILED, now, f"{cause}: {reason}")
        self._record("failed", {"reason": reason})

    @property
    def _awaiting_timelock(self) -> bool:
        return self._status is Status.IN_REVIEW or (
            self._status is Status.QUEUED and not self.enactment_requested
        )

    # --- verdicts of the timelock ---------------------------------------------------------------

    def on_review_started(
        self, *, review_id: UUID, ends_at: datetime, veto_threshold_weight: Decimal, now: datetime
    ) -> bool:
        if self._status is not Status.IN_REVIEW or self.review_id is not None:
            return False
        self.review_id, self.review_ends_at, self.updated_at = review_id, ends_at, now
        self._record(
            "review_started",
            {
                "reviewId": str(review_id),
                "endsAt": iso(ends_at),
                "vetoThresholdWeight": format_decimal(veto_threshold_weight),
            },
        )
        return True

    def on_concern_raised(
        self, *, concern_id: UUID, raised_by: str, reason: str, ends_at: datetime | None, now: datetime
    ) -> bool:
        if self._status is not Status.IN_REVIEW:
            return False
        if ends_at is not None:
            self.review_ends_at = ends_at
        self.updated_at = now
        self._record(
            "concern_raised",
            {
                "concernId": str(concern_id),
                "raisedBy": checksum(raised_by),
                "reason": reason,
                "endsAt": iso(ends_at),
            },
        )
        return True

    def on_objection_recorded(
        self,
        *,
        objector: str,
        objection_weight: Decimal,
        veto_threshold_weight: Decimal,
        withdrawn: bool,
        now: datetime,
    ) -> bool:
        if self._status is not Status.IN_REVIEW:
            return False
        self.updated_at = now
        self._record(
            "objection_recorded",
            {
                "objector": checksum(objector),
                "objectionWeight": format_decimal(objection_weight),
                "vetoThresholdWeight": format_decimal(veto_threshold_weight),
                "withdrawn": withdrawn,
            },
        )
        return True

    def on_review_blocked(self, *, objection_weight: Decimal, now: datetime) -> bool:
        if self._status is not Status.IN_REVIEW:
            return False
        self._move(
            Status.BLOCKED,
            now,
            f"blocked by the Stakeholder Group: objections of {format_decimal(objection_weight)} "
            "reached the veto threshold",
        )
        self._record("blocked", {"objectionWeight": format_decimal(objection_weight)})
        return True

    def on_review_approved(self, *, delay_seconds: int, now: datetime) -> bool:
        """Approved by the review. With a delay the timelock queues it next (`operation.queued`)."""
        if self._status is not Status.IN_REVIEW or delay_seconds > 0:
            return False
        self._begin_enactment(now, "approved by optimistic review")
        return True

    def on_operation_queued(self, *, enact_after: datetime, now: datetime) -> bool:
        if self._status is Status.IN_REVIEW:
            self._move(Status.QUEUED, now, f"approved by optimistic review; queued until {iso(enact_after)}")
        elif not (
            self._status is Status.QUEUED and self.enact_after is None and not self.enactment_requested
        ):
            return False
        self.enact_after, self.updated_at = enact_after, now
        self._record("queued", {"enactAfter": iso(enact_after)})
        return True

    def on_operation_ready(self, *, now: datetime) -> bool:
        if not self._awaiting_timelock:
            return False
        self._begin_enactment(now, "the delay is over")
        return True

    def on_operation_expired(self, *, reason: str, now: datetime) -> bool:
        # once membership has been asked to apply the actions, its answer decides, not the timelock
        if not self._awaiting_timelock:
            return False
        self._fail(now, reason, "the timelocked operation expired")
        return True

    # --- membership's answer ----------------------------------------------------------------------

    def on_actions_applied(self, *, now: datetime) -> bool:
        if self._status is not Status.QUEUED or not self.enactment_requested:
            return False
        self._enact(now, "actions applied")
        return True

    def on_actions_rejected(self, *, reason: str, now: datetime) -> bool:
        if self._status is not Status.QUEUED or not self.enactment_requested:
            return False
        self._fail(now, reason, "actions could not be applied")
        return True

    # --- the proposer withdraws -------------------------------------------------------------------

    def cancel(self, *, actor: str, now: datetime) -> None:
        if actor != self.proposer:
            raise Forbidden("only the proposer can cancel a proposal")
        if self._status is Status.QUEUED and self.enactment_requested:
            raise Conflict("the proposal is being enacted and can no longer be cancelled")
        if Status.CANCELLED not in TRANSITIONS[self._status]:
            raise Conflict(f"a {self._status} proposal can no longer be cancelled")
        self.cancelled_by = actor
        self._move(Status.CANCELLED, now, f"cancelled by the proposer {checksum(actor)}")
        self._record("cancelled", {"cancelledBy": checksum(actor)})
