"""The timelock's use cases: load → domain → save → outbox (and deadlines), in the caller's transaction.

Nothing here commits: the HTTP session dependency, the consumer and the scheduler own the transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit import (
    Clock,
    Deadline,
    NotFound,
    Outbox,
    cancel_deadlines,
    deadline_stats,
    schedule_deadlines,
)

from . import repository as repo
from .domain import Concern, DeadlineKind, Review, Reviewer, ReviewKind, ReviewTerms
from .events import to_envelope
from .schemas import format_time

log = logging.getLogger("timelock.service")

DEADLINE_KINDS = tuple(kind.value for kind in DeadlineKind)


class MembershipNotProjectedYet(Exception):
    """The reviewing body is not in the projection yet: the event is retried (the consumer naks it)."""


def deadline_key(review_id: uuid.UUID, kind: DeadlineKind) -> str:
    # One key per stage: the scheduler marks the firing row fired after the handler returns, so the next
    # stage must not reuse that key.
    return f"review:{review_id}:{kind.value}"


def _all_keys(review_id: uuid.UUID) -> list[str]:
    return [deadline_key(review_id, kind) for kind in DeadlineKind]


Scheduled = tuple[str, str, Any, dict[str, Any]]


def _deadline_changes(
    review: Review, before: tuple[DeadlineKind, Any] | None, *, firing: str | None = None
) -> tuple[list[str], list[Scheduled]]:
    """The deadline keys to cancel and the (key, kind, due_at, payload) to schedule now that `review`
    moved on from the stage it waited for (`before`); `firing` is the deadline being fired, if any."""
    after = review.pending_deadline()
    cancels: list[str] = []
    schedules: list[Scheduled] = []
    if before is not None and (after is None or after[0] is not before[0]):
        key = deadline_key(review.id, before[0])
        if key != firing:
            cancels.append(key)
    payload = {"reviewId": str(review.id)}
    if after is not None and after != before:
        schedules.append((deadline_key(review.id, after[0]), after[0].value, after[1], payload))
    if firing is not None and after is not None and deadline_key(review.id, after[0]) == firing:
        # Fired before its time (the clock moved back, or a moved deadline raced): the key would be
        # marked fired with the stage still waiting, so wait under a fresh key.
        schedules.append((f"{firing}:{uuid.uuid4().hex[:8]}", after[0].value, after[1], payload))
    return cancels, schedules


@dataclass
class Timelock:
    clock: Clock
    outbox: Outbox
    default_grace_period_seconds: int = 0
    # a front-end shows IN_REVIEW as soon as the vote closes; the review opens a moment later, from the
    # proposals service's event: a reviewer acting in between waits for it instead of a NOT_FOUND
    review_wait_seconds: float = 0.0

    # --- shared steps -----------------------------------------------------------------------------

    async def _publish_and_reschedule(
        self, session: AsyncSession, review: Review, before: tuple[DeadlineKind, Any] | None
    ) -> None:
        cancels, schedules = _deadline_changes(review, before)
        await cancel_deadlines(session, cancels)
        await schedule_deadlines(session, schedules)
        now = self.clock.now()
        await self.outbox.add_many(session, [to_envelope(review, e, at=now) for e in review.pull_events()])

    async def _reviewer(self, session: AsyncSession, review: Review, actor: str) -> Reviewer | None:
        weight = await repo.reviewer_weight(session, review.id, actor)
        if weight is None or review.terms.reviewing_body_id is None:
            return None
        current = await repo.is_current_member(session, review.terms.reviewing_body_id, actor)
        return Reviewer(address=actor, weight=weight, exited=not current)

    async def _find_review_id(self, session: AsyncSession, proposal_id: uuid.UUID) -> uuid.UUID | None:
        deadline = time.monotonic() + self.review_wait_seconds
        while True:
            # read committed: each poll sees reviews committed since the last one
            review_id = await repo.find_review_id(session, proposal_id)
            if review_id is not None or time.monotonic() >= deadline:
                return review_id
            await asyncio.sleep(0.05)

    async def _lock_for_change(self, session: AsyncSession, proposal_id: uuid.UUID) -> Review:
        review_id = await self._find_review_id(session, proposal_id)
        if review_id is not None:
            await repo.lock_deadlines(session, _all_keys(review_id))
            review = await repo.get_review(session, review_id, for_update=True)
            if review is not None and review.kind is ReviewKind.REVIEW:
                return review
        raise NotFound("this proposal has no review", field="proposalId")

    # --- reviewers (HTTP) -------------------------------------------------------------------------

    async def get_review(self, session: AsyncSession, proposal_id: uuid.UUID) -> Review:
        found = await repo.get_reviews_by_proposals(session, [proposal_id], kind=ReviewKind.REVIEW)
        if not found:
            raise NotFound("this proposal has no review", field="proposalId")
        return found[0]

    async def get_reviews(self, session: AsyncSession, proposal_ids: list[uuid.UUID]) -> list[Review]:
        return await repo.get_reviews_by_proposals(session, proposal_ids, kind=ReviewKind.REVIEW)

    async def raise_concern(
        self, session: AsyncSession, proposal_id: uuid.UUID, actor: str, reason: str
    ) -> tuple[Concern, Review]:
        review = await self._lock_for_change(session, proposal_id)
        before = review.pending_deadline()
        reviewer = await self._reviewer(session, review, actor.lower())
        concern = review.raise_concern(reviewer, reason, concern_id=uuid.uuid4(), now=self.clock.now())
        await repo.add_concern(session, review.id, concern)
        await repo.save_review(session, review)
        await self._publish_and_reschedule(session, review, before)
        return concern, review

    async def add_objection(
        self, session: AsyncSession, proposal_id: uuid.UUID, actor: str, reason: str | None
    ) -> Review:
        review = await self._lock_for_change(session, proposal_id)
        before = review.pending_deadline()
        reviewer = await self._reviewer(session, review, actor.lower())
        review.add_objection(reviewer, reason, now=self.clock.now())
        if reviewer is not None and reviewer.address in review.objections:
            await repo.save_objection(session, review.id, review.objections[reviewer.address])
        await repo.save_review(session, review)
        await self._publish_and_reschedule(session, review, before)
        return review

    async def withdraw_objection(self, session: AsyncSession, proposal_id: uuid.UUID, actor: str) -> Review:
        review = await self._lock_for_change(session, proposal_id)
        before = review.pending_deadline()
        reviewer = await self._reviewer(session, review, actor.lower())
        review.withdraw_objection(reviewer, now=self.clock.now())
        if reviewer is not None and reviewer.address in review.objections:
            await repo.save_objection(session, review.id, review.objections[reviewer.address])
        await repo.save_review(session, review)
        await self._publish_and_reschedule(session, review, before)
        return review

    # --- proposals' events ------------------------------------------------------------------------

    async def open_after_vote(self, session: AsyncSession, data: Mapping[str, Any]) -> Review | None:
        """`proposal.voting_closed`: open a review (`next: REVIEW`) or queue an operation (`next: DELAY`).

        A duplicate (same proposal, any event id) or a proposal already seen cancelled opens nothing.
        """
        step = data.get("next")
        if step not in ("REVIEW", "DELAY"):
            return None
        proposal_id = uuid.UUID(str(data["proposalId"]))
        await repo.lock_proposal(session, proposal_id)
        if await repo.find_review_id(session, proposal_id) is not None:
            log.info("duplicate voting_closed ignored", extra={"proposal_id": str(proposal_id)})
            return None
        if await repo.is_proposal_cancelled(session, proposal_id):
            return None
        terms = self._terms(data.get("review") or {}, with_review=step == "REVIEW")
        now = self.clock.now()
        common = {
            "review_id": uuid.uuid4(),
            "proposal_id": proposal_id,
            "organization_id": uuid.UUID(str(data["organizationId"])),
            "organization_slug": str(data["organization"]),
            "terms": terms,
            "now": now,
        }
        snapshot: list[tuple[str, Decimal]] = []
        if step == "REVIEW":
            assert terms.reviewing_body_id is not None
            if not await repo.body_exists(session, terms.reviewing_body_id):
                raise MembershipNotProjectedYet(f"reviewing body {terms.reviewing_body_id} not projected yet")
            snapshot = await repo.current_reviewers(session, terms.reviewing_body_id)
            review = Review.open(
                reviewers=[Reviewer(address=a, weight=w) for a, w in snapshot],
                **common,  # type: ignore[arg-type]
            )
        else:
            review = Review.queue_without_review(**common)  # type: ignore[arg-type]
        await repo.insert_review(session, review, snapshot, now)
        await self._publish_and_reschedule(session, review, None)
        return review

    def _terms(self, raw: Mapping[str, Any], *, with_review: bool) -> ReviewTerms:
        def seconds(name: str, default: int = 0) -> int:
            value = raw.get(name)
            return default if value is None else int(value)

        body = raw.get("reviewingBodyId")
        if with_review and not body:
            raise ValueError("next is REVIEW but review.reviewingBodyId is missing")
        try:
            percent = Decimal(str(raw.get("vetoThresholdPercent", 0) or 0))
        except InvalidOperation as exc:
            raise ValueError("review.vetoThresholdPercent is not a number") from exc
        return ReviewTerms(
            reviewing_body_id=uuid.UUID(str(body)) if body else None,
            window_seconds=seconds("windowSeconds") if with_review else 0,
            veto_threshold_percent=percent,
            concern_extension_seconds=seconds("concernExtensionSeconds"),
            delay_seconds=seconds("delaySeconds"),
            grace_period_seconds=seconds("gracePeriodSeconds", self.default_grace_period_seconds),
        )

    async def cancel_for_proposal(self, session: AsyncSession, proposal_id: uuid.UUID) -> bool:
        """`proposal.cancelled`: stop the pending review or queued operation, exactly once."""
        await repo.lock_proposal(session, proposal_id)
        await repo.mark_proposal_cancelled(session, proposal_id, self.clock.now())
        review_id = await repo.find_review_id(session, proposal_id)
        if review_id is None:
            return False
        await repo.lock_deadlines(session, _all_keys(review_id))
        review = await repo.get_review(session, review_id, for_update=True, with_children=False)
        assert review is not None
        before = review.pending_deadline()
        if not review.cancel(self.clock.now()):
            return False
        await repo.save_review(session, review)
        await self._publish_and_reschedule(session, review, before)
        return True

    async def mark_executed(self, session: AsyncSession, proposal_id: uuid.UUID) -> bool:
        """`proposal.enacted` / `proposal.failed`: the operation ran; it can no longer expire."""
        await repo.lock_proposal(session, proposal_id)
        review_id = await repo.find_review_id(session, proposal_id)
        if review_id is None:
            return False
        await repo.lock_deadlines(session, _all_keys(review_id))
        review = await repo.get_review(session, review_id, for_update=True, with_children=False)
        assert review is not None
        before = review.pending_deadline()
        if not review.mark_executed(self.clock.now()):
            return False
        await repo.save_review(session, review)
        await self._publish_and_reschedule(session, review, before)
        return True

    # --- deadlines --------------------------------------------------------------------------------

    async def on_deadline(self, session: AsyncSession, deadline: Deadline) -> None:
        """Fired by the kit's scheduler with the deadline row locked: decide what is due, once."""
        await self.on_deadlines(session, [deadline])

    async def on_deadlines(self, session: AsyncSession, deadlines: Sequence[Deadline]) -> None:
        """Decide what is due for each review (the deadline rows are locked by the scheduler): reviews
        are loaded and saved together, their deadlines and events written in one statement each, so a
        burst of thousands ending in the same second costs a few statements per batch."""
        by_review = {uuid.UUID(str(d.payload["reviewId"])): d for d in deadlines}
        if len(by_review) != len(deadlines):
            raise ValueError("two deadlines of one review in a batch: fire them one at a time")
        now = self.clock.now()
        changed: list[Review] = []
        cancels: list[str] = []
        schedules: list[Scheduled] = []
        envelopes = []
        # locked in id order (no two batches wait on each other crosswise), decided in the order the
        # deadlines fell due: their events, and so what follows from them, keep that order
        locked = {r.id: r for r in await repo.get_reviews_for_update(session, list(by_review))}
        for review in (locked[i] for i in by_review if i in locked):
            firing = by_review[review.id].key
            before = review.pending_deadline()
            review.on_deadline(now)
            if review.events:
                changed.append(review)
            review_cancels, review_schedules = _deadline_changes(review, before, firing=firing)
            cancels += review_cancels
            schedules += review_schedules
            envelopes += [to_envelope(review, event, at=now) for event in review.pull_events()]
        await repo.save_reviews(session, changed)
        await cancel_deadlines(session, cancels)
        await schedule_deadlines(session, schedules)
        await self.outbox.add_many(session, envelopes)

    # --- membership projection --------------------------------------------------------------------

    async def on_membership_event(
        self, session: AsyncSession, event: str, data: Mapping[str, Any], sequence: int | None
    ) -> None:
        """Keep the projection of bodies and members (with weights) that review snapshots are taken from."""
        now = self.clock.now()
        organization_id = uuid.UUID(str(data["organizationId"]))
        if event == "organization.created":
            if data.get("stakeholderGroupId"):
                await repo.upsert_body(
                    session, uuid.UUID(str(data["stakeholderGroupId"])), organization_id, "STAKEHOLDER_GROUP"
                )
            if data.get("topLevelCellId"):
                await repo.upsert_body(
                    session, uuid.UUID(str(data["topLevelCellId"])), organization_id, "CELL"
                )
        elif event == "body.created":
            await repo.upsert_body(
                session, uuid.UUID(str(data["bodyId"])), organization_id, str(data["kind"])
            )
        elif event in ("membership.joined", "membership.left"):
            joined = event == "membership.joined"
            await repo.apply_membership(
                session,
                body_id=uuid.UUID(str(data["bodyId"])),
                address=str(data["address"]).lower(),
                active=joined,
                role=str(data["role"]) if data.get("role") else None,
                weight=Decimal(str(data["weight"])) if joined and data.get("weight") is not None else None,
                sequence=sequence,
                at=now,
            )
        elif event == "membership.weight_changed":
            await repo.set_member_weight(
                session,
                body_id=uuid.UUID(str(data["bodyId"])),
                address=str(data["address"]).lower(),
                weight=Decimal(str(data["weight"])),
                sequence=sequence,
                at=now,
            )

    # --- operations ---------------------------------------------------------------------------------

    async def status_details(self, session: AsyncSession) -> dict[str, Any]:
        now = self.clock.now()
        counts = await repo.status_counts(session, now)
        deadlines = await deadline_stats(session, now)
        return {
            "pendingReviews": counts["pending"],
            "queuedOperations": counts["queued"],
            "readyOperations": counts["ready"],
            "nextDeadline": format_time(deadlines.next_due_at),
            "oldestOverdueSeconds": round(deadlines.oldest_overdue_seconds, 3),
            "verdictsLastMinute": counts["verdicts_last_minute"],
        }
