"""Optimistic review and the timelock, as pure rules.

A TLC proposal that passed its vote is assumed to pass unless the reviewing body (the SHG) blocks it:

    PENDING ──objections reach the veto threshold──▶ BLOCKED
       ├──the proposal is cancelled──▶ CANCELLED
       └──the deadline passes──▶ APPROVED ──(delay > 0)──▶ operation QUEUED ──enactAfter──▶ READY
                                                  QUEUED / READY ──proposal cancelled──▶ CANCELLED
                                                  READY ──proposal enacted or failed──▶ EXECUTED
                                                  READY ──grace period over──▶ EXPIRED

A proposal whose module has a delay but no review (`next: DELAY`) gets an operation directly, QUEUED at
once (kind `DELAY`); it has no review window and the review API does not show it.

Each review has at most one pending deadline at a time (`Review.pending_deadline`): the end of the
window while PENDING, `enactAfter` while QUEUED, `expiresAt` while READY. The scheduler fires it and
`Review.on_deadline` applies every transition that is due, so a deadline fired late (after a restart)
still decides exactly what was due, once.

Errors raised here (the kit's): `Forbidden` (not a reviewer, or exited), `ReviewClosed` (verdict
given or window over), `InvalidInput` (reason).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from kit import Forbidden, InvalidInput, ReviewClosed

MAX_REASON_LENGTH = 2000


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    BLOCKED = "BLOCKED"
    APPROVED = "APPROVED"
    CANCELLED = "CANCELLED"


class OperationStatus(StrEnum):
    QUEUED = "QUEUED"
    READY = "READY"
    # The proposals service ran the enactment (it saw it through to `proposal.enacted` or `proposal.failed`).
    EXECUTED = "EXECUTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class ReviewKind(StrEnum):
    REVIEW = "REVIEW"
    DELAY = "DELAY"


class DeadlineKind(StrEnum):
    REVIEW_ENDS = "review.ends"
    OPERATION_ENACT_AFTER = "operation.enact_after"
    OPERATION_EXPIRES = "operation.expires"


# --- the veto threshold ---------------------------------------------------------------------------


def weight_unit(weights: list[Decimal]) -> Decimal:
    """The smallest step between weights: 1 when all weights are whole numbers, else 10^-(max decimals)."""
    exponent = 0
    for weight in weights:
        normalized = weight.normalize()
        exp = normalized.as_tuple().exponent
        if isinstance(exp, int):
            exponent = min(exponent, exp)
    return Decimal(1).scaleb(exponent)


def veto_threshold_weight(eligible_weight: Decimal, percent: Decimal, unit: Decimal) -> Decimal:
    """The objecting weight that blocks: `percent`% of the eligible weight, rounded **up** to `unit`.

    `unit` is the smallest step of the snapshotted weights (`weight_unit`), so for any sum `w` of those
    weights, `w >= threshold` exactly when `w * 100 >= percent * eligible_weight`: reaching the percentage
    exactly blocks, falling short by the smallest possible amount does not. With equal weights of 1 this
    is `ceil(percent / 100 * members)`, e.g. 33% of 9 members → 3, 50% of 10 → 5.
    """
    raw = eligible_weight * percent / Decimal(100)
    steps = (raw / unit).to_integral_value(rounding=ROUND_CEILING)
    return steps * unit


def blocks(objection_weight: Decimal, threshold: Decimal) -> bool:
    """Whether this objecting weight blocks. An objection is needed even when the threshold is 0."""
    return objection_weight > 0 and objection_weight >= threshold


# --- the aggregate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewTerms:
    """A decision module's review parameters, as the proposals service sends them with `voting_closed`."""

    reviewing_body_id: uuid.UUID | None
    window_seconds: int
    veto_threshold_percent: Decimal
    concern_extension_seconds: int
    delay_seconds: int
    grace_period_seconds: int


@dataclass(frozen=True)
class Reviewer:
    """The acting member as the review sees them: their weight at review start, and whether they left."""

    address: str
    weight: Decimal
    exited: bool = False


@dataclass
class Concern:
    id: uuid.UUID
    raised_by: str
    reason: str
    raised_at: datetime


@dataclass
class Objection:
    objector: str
    weight: Decimal
    reason: str | None
    objected_at: datetime
    withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass
class Operation:
    status: OperationStatus
    enact_after: datetime
    expires_at: datetime | None
    closed_at: datetime | None = None


# Domain events (events.py turns them into envelopes).


@dataclass(frozen=True)
class ReviewStarted:
    pass


@dataclass(frozen=True)
class ConcernRaised:
    concern: Concern
    ends_at: datetime
    extended: bool


@dataclass(frozen=True)
class ObjectionRecorded:
    objector: str
    weight: Decimal
    reason: str | None
    withdrawn: bool
    objection_weight: Decimal


@dataclass(frozen=True)
class ReviewBlocked:
    objection_weight: Decimal


@dataclass(frozen=True)
class ReviewApproved:
    objection_weight: Decimal


@dataclass(frozen=True)
class ReviewCancelled:
    what: str  # "REVIEW" or "OPERATION"


@dataclass(frozen=True)
class OperationQueued:
    enact_after: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OperationReady:
    expires_at: datetime | None


@dataclass(frozen=True)
class OperationExpired:
    reason: str


DomainEvent = (
    ReviewStarted
    | ConcernRaised
    | ObjectionRecorded
    | ReviewBlocked
    | ReviewApproved
    | ReviewCancelled
    | OperationQueued
    | OperationReady
    | OperationExpired
)


@dataclass
class Review:
    """One proposal's optimistic review and, once approved with a delay, its queued operation.

    `concerns` and `objections` hold what the repository loaded; `objection_weight` is kept as a running
    total so a deadline can be decided without loading them.
    """

    id: uuid.UUID
    proposal_id: uuid.UUID
    organization_id: uuid.UUID
    organization_slug: str
    kind: ReviewKind
    terms: ReviewTerms
    status: ReviewStatus
    starts_at: datetime
    ends_at: datetime
    eligible_weight: Decimal
    veto_threshold_weight: Decimal
    objection_weight: Decimal = Decimal(0)
    extended: bool = False
    decided_at: datetime | None = None
    operation: Operation | None = None
    concerns: list[Concern] = field(default_factory=list)
    objections: dict[str, Objection] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        review_id: uuid.UUID,
        proposal_id: uuid.UUID,
        organization_id: uuid.UUID,
        organization_slug: str,
        terms: ReviewTerms,
        reviewers: list[Reviewer],
        now: datetime,
    ) -> Review:
        """Open the review window; the reviewers' weights are the snapshot taken now.

        Members with no weight are not reviewers; the threshold is fixed for the life of the review.
        """
        weights = [r.weight for r in reviewers if r.weight > 0]
        eligible = sum(weights, Decimal(0))
        review = cls(
            id=review_id,
            proposal_id=proposal_id,
            organization_id=organization_id,
            organization_slug=organization_slug,
            kind=ReviewKind.REVIEW,
            terms=terms,
            status=ReviewStatus.PENDING,
            starts_at=now,
            ends_at=now + timedelta(seconds=max(terms.window_seconds, 0)),
            eligible_weight=eligible,
            veto_threshold_weight=veto_threshold_weight(
                eligible, terms.veto_threshold_percent, weight_unit(weights)
            ),
        )
        review.events.append(ReviewStarted())
        return review

    @classmethod
    def queue_without_review(
        cls,
        *,
        review_id: uuid.UUID,
        proposal_id: uuid.UUID,
        organization_id: uuid.UUID,
        organization_slug: str,
        terms: ReviewTerms,
        now: datetime,
    ) -> Review:
        """A module with a delay and no review (`next: DELAY`): the operation is queued at once."""
        review = cls(
            id=review_id,
            proposal_id=proposal_id,
            organization_id=organization_id,
            organization_slug=organization_slug,
            kind=ReviewKind.DELAY,
            terms=terms,
            status=ReviewStatus.APPROVED,
            starts_at=now,
            ends_at=now,
            eligible_weight=Decimal(0),
            veto_threshold_weight=Decimal(0),
            decided_at=now,
        )
        review._queue(now)
        review._apply_due(now)
        return review

    # -- reviewers acting ------------------------------------------------------------------------

    def is_open(self, now: datetime) -> bool:
        return self.kind is ReviewKind.REVIEW and self.status is ReviewStatus.PENDING and now < self.ends_at

    def _require_open(self, now: datetime) -> None:
        if not self.is_open(now):
            raise ReviewClosed("the review of this proposal is closed")

    @staticmethod
    def _require_reviewer(reviewer: Reviewer | None) -> Reviewer:
        if reviewer is None or reviewer.weight <= 0:
            raise Forbidden("only members of the reviewing body at review start may take part")
        if reviewer.exited:
            raise Forbidden("this member has exited the reviewing body")
        return reviewer

    def raise_concern(
        self, reviewer: Reviewer | None, reason: str, *, concern_id: uuid.UUID, now: datetime
    ) -> Concern:
        """A reviewer raises a concern for discussion before the deadline.

        The first concern of the review extends the deadline once by the module's concern extension;
        later concerns never move it again, and nothing ever brings it closer.
        """
        actor = self._require_reviewer(reviewer)
        self._require_open(now)
        text = _clean_reason(reason, required=True)
        assert text is not None
        if not self.concerns and not self.extended and self.terms.concern_extension_seconds > 0:
            self.ends_at += timedelta(seconds=self.terms.concern_extension_seconds)
            self.extended = True
        concern = Concern(id=concern_id, raised_by=actor.address, reason=text, raised_at=now)
        self.concerns.append(concern)
        self.events.append(ConcernRaised(concern, ends_at=self.ends_at, extended=self.extended))
        return concern

    def add_objection(self, reviewer: Reviewer | None, reason: str | None, *, now: datetime) -> None:
        """Record a weighted objection; reaching the veto threshold blocks the proposal at once.

        One objection per reviewer, weighted by their weight at review start: objecting again while an
        objection stands changes nothing.
        """
        actor = self._require_reviewer(reviewer)
        self._require_open(now)
        text = _clean_reason(reason, required=False)
        existing = self.objections.get(actor.address)
        if existing is not None and existing.active:
            return
        objection = Objection(objector=actor.address, weight=actor.weight, reason=text, objected_at=now)
        self.objections[actor.address] = objection
        self.objection_weight += objection.weight
        self._record_objection(objection, withdrawn=False)
        if blocks(self.objection_weight, self.veto_threshold_weight):
            self.status = ReviewStatus.BLOCKED
            self.decided_at = now
            self.events.append(ReviewBlocked(objection_weight=self.objection_weight))

    def withdraw_objection(self, reviewer: Reviewer | None, *, now: datetime) -> None:
        """Withdraw one's objection before the deadline; without a standing objection nothing changes."""
        actor = self._require_reviewer(reviewer)
        self._require_open(now)
        existing = self.objections.get(actor.address)
        if existing is None or not existing.active:
            return
        existing.withdrawn_at = now
        self.objection_weight -= existing.weight
        self._record_objection(existing, withdrawn=True)

    def _record_objection(self, objection: Objection, *, withdrawn: bool) -> None:
        self.events.append(
            ObjectionRecorded(
                objector=objection.objector,
                weight=objection.weight,
                reason=objection.reason,
                withdrawn=withdrawn,
                objection_weight=self.objection_weight,
            )
        )

    # -- time and the rest of the platform -------------------------------------------------------

    def pending_deadline(self) -> tuple[DeadlineKind, datetime] | None:
        """The one deadline this review waits for, if any."""
        if self.status is ReviewStatus.PENDING:
            return DeadlineKind.REVIEW_ENDS, self.ends_at
        op = self.operation
        if op is None:
            return None
        if op.status is OperationStatus.QUEUED:
            return DeadlineKind.OPERATION_ENACT_AFTER, op.enact_after
        if op.status is OperationStatus.READY and op.expires_at is not None:
            return DeadlineKind.OPERATION_EXPIRES, op.expires_at
        return None

    def on_deadline(self, now: datetime) -> None:
        """Apply every transition whose time has come (a deadline fired late catches up in one call)."""
        self._apply_due(now)

    def _apply_due(self, now: datetime) -> None:
        while (due := self.pending_deadline()) is not None and due[1] <= now:
            kind = due[0]
            if kind is DeadlineKind.REVIEW_ENDS:
                self._approve(now)
            elif kind is DeadlineKind.OPERATION_ENACT_AFTER:
                self._ready(now)
            else:
                self._expire(now)

    def _approve(self, now: datetime) -> None:
        self.status = ReviewStatus.APPROVED
        self.decided_at = now
        self.events.append(ReviewApproved(objection_weight=self.objection_weight))
        if self.terms.delay_seconds > 0:
            self._queue(now)

    def _queue(self, now: datetime) -> None:
        # The delay runs from the verdict as actually given, so a late scheduler never shortens it.
        enact_after = now + timedelta(seconds=max(self.terms.delay_seconds, 0))
        self.operation = Operation(
            status=OperationStatus.QUEUED, enact_after=enact_after, expires_at=self._expiry(enact_after)
        )
        self.events.append(OperationQueued(enact_after=enact_after, expires_at=self.operation.expires_at))

    def _expiry(self, ready_at: datetime) -> datetime | None:
        if self.terms.grace_period_seconds <= 0:
            return None
        return ready_at + timedelta(seconds=self.terms.grace_period_seconds)

    def _ready(self, now: datetime) -> None:
        op = self.operation
        assert op is not None
        op.status = OperationStatus.READY
        # The grace period runs from when the operation actually became ready, so the proposals service
        # always gets the whole grace period to enact it, even after the scheduler was down.
        op.expires_at = self._expiry(now)
        self.events.append(OperationReady(expires_at=op.expires_at))

    def _expire(self, now: datetime) -> None:
        op = self.operation
        assert op is not None
        op.status = OperationStatus.EXPIRED
        op.closed_at = now
        self.events.append(
            OperationExpired(
                reason=f"not enacted within the grace period of {self.terms.grace_period_seconds} s"
            )
        )

    def cancel(self, now: datetime) -> bool:
        """The proposal was cancelled: stop a pending review or a queued/ready operation.

        Returns whether anything was cancelled; a review already decided, or an operation already
        executed or expired, is left as it is (the proposal's own state machine is the arbiter).
        """
        if self.status is ReviewStatus.PENDING:
            self.status = ReviewStatus.CANCELLED
            self.decided_at = now
            self.events.append(ReviewCancelled(what="REVIEW"))
            return True
        op = self.operation
        if op is not None and op.status in (OperationStatus.QUEUED, OperationStatus.READY):
            op.status = OperationStatus.CANCELLED
            op.closed_at = now
            self.events.append(ReviewCancelled(what="OPERATION"))
            return True
        return False

    def mark_executed(self, now: datetime) -> bool:
        """The proposals service enacted (or failed) the proposal: the operation is done, no expiry."""
        op = self.operation
        if op is None or op.status not in (OperationStatus.QUEUED, OperationStatus.READY):
            return False
        op.status = OperationStatus.EXECUTED
        op.closed_at = now
        return True

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    text = (reason or "").strip()
    if not text:
        if required:
            raise InvalidInput("a reason is required", field="reason")
        return None
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(f"the reason is longer than {MAX_REASON_LENGTH} characters", field="reason")
    return text
