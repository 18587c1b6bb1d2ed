from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import Forbidden, InvalidInput, ReviewClosed
from services.timelock.domain import (
    ConcernRaised,
    DeadlineKind,
    ObjectionRecorded,
    OperationExpired,
    OperationQueued,
    OperationReady,
    OperationStatus,
    Review,
    ReviewApproved,
    ReviewBlocked,
    ReviewCancelled,
    Reviewer,
    ReviewKind,
    ReviewStarted,
    ReviewStatus,
    ReviewTerms,
    blocks,
    veto_threshold_weight,
    weight_unit,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 24 * 3600


def terms(**overrides: object) -> ReviewTerms:
    values: dict[str, object] = {
        "reviewing_body_id": uuid.uuid4(),
        "window_seconds": 7 * DAY,
        "veto_threshold_percent": Decimal(33),
        "concern_extension_seconds": 2 * DAY,
        "delay_seconds": 0,
        "grace_period_seconds": 14 * DAY,
    }
    values.update(overrides)
    return ReviewTerms(**values)  # type: ignore[arg-type]


def reviewers(*weights: int | str) -> list[Reviewer]:
    return [Reviewer(address=f"0x{i:040x}", weight=Decimal(str(w))) for i, w in enumerate(weights, start=1)]


def open_review(weights: tuple[int | str, ...] = (1, 1, 1, 1, 1, 1, 1, 1, 1), **overrides: object) -> Review:
    review = Review.open(
        review_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        organization_slug="reimagining-power",
        terms=terms(**overrides),
        reviewers=reviewers(*weights),
        now=T0,
    )
    review.pull_events()
    return review


def member(n: int, weight: int | str = 1, *, exited: bool = False) -> Reviewer:
    return Reviewer(address=f"0x{n:040x}", weight=Decimal(str(weight)), exited=exited)


# --- the threshold -------------------------------------------------------------------------------


def test_threshold_of_equal_weights_is_the_ceiling_of_the_percentage() -> None:
    assert veto_threshold_weight(Decimal(9), Decimal(33), Decimal(1)) == 3
    assert veto_threshold_weight(Decimal(10), Decimal(50), Decimal(1)) == 5
    assert veto_threshold_weight(Decimal(10), Decimal(25), Decimal(1)) == 3


def test_threshold_with_fractional_weights_rounds_up_to_their_smallest_step() -> None:
    unit = weight_unit([Decimal("1000.50"), Decimal("250")])
    assert unit == Decimal("0.1")
    assert veto_threshold_weight(Decimal("1250.5"), Decimal(33), unit) == Decimal("412.7")


def test_weight_unit_ignores_trailing_zeros() -> None:
    assert weight_unit([Decimal("1.000000000000000000"), Decimal("20")]) == 1


@settings(deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=30),
    percent=st.decimals(min_value=1, max_value=100, places=2),
    data=st.data(),
)
def test_blocking_matches_the_exact_percentage_of_eligible_weight(
    weights: list[int], percent: Decimal, data: st.DataObject
) -> None:
    decimals = [Decimal(w) / Decimal(100) for w in weights]
    eligible = sum(decimals, Decimal(0))
    threshold = veto_threshold_weight(eligible, percent, weight_unit(decimals))
    objectors = data.draw(st.lists(st.sampled_from(range(len(decimals))), unique=True))
    objecting = sum((decimals[i] for i in objectors), Decimal(0))
    assert blocks(objecting, threshold) == (objecting > 0 and objecting * 100 >= percent * eligible)


# --- objections ----------------------------------------------------------------------------------


def test_objections_reaching_the_threshold_exactly_block_at_once() -> None:
    review = open_review()  # 9 × 1, 33 % → 3
    for n in (1, 2, 3):
        review.add_objection(member(n), None, now=T0 + timedelta(hours=n))
    assert review.status is ReviewStatus.BLOCKED
    assert review.decided_at == T0 + timedelta(hours=3)
    assert isinstance(review.pull_events()[-1], ReviewBlocked)


def test_objections_just_short_of_the_threshold_do_not_block() -> None:
    review = open_review()
    for n in (1, 2):
        review.add_objection(member(n), None, now=T0)
    assert review.status is ReviewStatus.PENDING
    assert review.objection_weight == 2


def test_objection_counts_the_weight_at_review_start() -> None:
    review = open_review((5, 1, 1))
    review.add_objection(member(1, 5), "harmful", now=T0)
    assert review.objection_weight == 5
    assert review.status is ReviewStatus.BLOCKED


def test_repeated_objection_is_idempotent() -> None:
    review = open_review()
    review.add_objection(member(1), None, now=T0)
    review.pull_events()
    review.add_objection(member(1), "again", now=T0)
    assert review.objection_weight == 1
    assert review.pull_events() == []


def test_withdrawn_objection_no_longer_counts() -> None:
    review = open_review()
    review.add_objection(member(1), None, now=T0)
    review.add_objection(member(2), None, now=T0)
    review.withdraw_objection(member(1), now=T0 + timedelta(days=1))
    review.add_objection(member(3), None, now=T0 + timedelta(days=2))
    assert review.objection_weight == 2
    assert review.status is ReviewStatus.PENDING
    withdrawal = [e for e in review.pull_events() if isinstance(e, ObjectionRecorded) and e.withdrawn]
    assert [(e.objector, e.objection_weight) for e in withdrawal] == [(member(1).address, 1)]


def test_withdrawing_without_an_objection_changes_nothing() -> None:
    review = open_review()
    review.withdraw_objection(member(1), now=T0)
    assert review.pull_events() == []


def test_outsider_may_not_object() -> None:
    review = open_review()
    with pytest.raises(Forbidden):
        review.add_objection(None, None, now=T0)


def test_exited_member_may_not_object() -> None:
    review = open_review()
    with pytest.raises(Forbidden):
        review.add_objection(member(1, exited=True), None, now=T0)


def test_member_without_weight_may_not_object() -> None:
    review = open_review()
    with pytest.raises(Forbidden):
        review.add_objection(member(1, 0), None, now=T0)


def test_objection_after_the_deadline_is_refused_even_before_the_verdict_is_recorded() -> None:
    review = open_review()
    with pytest.raises(ReviewClosed):
        review.add_objection(member(1), None, now=review.ends_at)


def test_objection_after_a_block_is_refused() -> None:
    review = open_review((1,))
    review.add_objection(member(1), None, now=T0)
    with pytest.raises(ReviewClosed):
        review.withdraw_objection(member(1), now=T0)


def test_overlong_objection_reason_is_invalid() -> None:
    review = open_review()
    with pytest.raises(InvalidInput):
        review.add_objection(member(1), "x" * 2001, now=T0)


# --- concerns ------------------------------------------------------------------------------------


def test_first_concern_extends_the_deadline_once() -> None:
    review = open_review()
    original = review.ends_at
    review.raise_concern(member(1), "why now?", concern_id=uuid.uuid4(), now=T0 + timedelta(days=6))
    review.raise_concern(member(2), "and the budget?", concern_id=uuid.uuid4(), now=T0 + timedelta(days=6))
    assert review.ends_at == original + timedelta(days=2)
    assert review.extended
    events = review.pull_events()
    assert [type(e) for e in events] == [ConcernRaised, ConcernRaised]


def test_concern_without_extension_keeps_the_deadline() -> None:
    review = open_review(concern_extension_seconds=0)
    review.raise_concern(member(1), "hmm", concern_id=uuid.uuid4(), now=T0)
    assert review.ends_at == T0 + timedelta(days=7)
    assert not review.extended


def test_concern_needs_a_reason() -> None:
    review = open_review()
    with pytest.raises(InvalidInput) as refused:
        review.raise_concern(member(1), "   ", concern_id=uuid.uuid4(), now=T0)
    assert refused.value.field == "reason"


def test_concern_from_an_outsider_is_forbidden() -> None:
    review = open_review()
    with pytest.raises(Forbidden):
        review.raise_concern(None, "hmm", concern_id=uuid.uuid4(), now=T0)


# --- deadlines, operations, cancellation ---------------------------------------------------------


def test_review_passes_by_itself_at_the_deadline() -> None:
    review = open_review()
    review.on_deadline(review.ends_at)
    assert review.status is ReviewStatus.APPROVED
    assert review.operation is None
    assert review.pending_deadline() is None
    assert [type(e) for e in review.pull_events()] == [ReviewApproved]


def test_deadline_fired_early_changes_nothing() -> None:
    review = open_review()
    review.on_deadline(review.ends_at - timedelta(seconds=1))
    assert review.status is ReviewStatus.PENDING
    assert review.pull_events() == []


def test_approval_with_a_delay_queues_an_operation_then_makes_it_ready() -> None:
    review = open_review(delay_seconds=90 * DAY, grace_period_seconds=7 * DAY)
    review.on_deadline(review.ends_at)
    assert review.operation is not None
    assert review.operation.status is OperationStatus.QUEUED
    assert review.pending_deadline() == (
        DeadlineKind.OPERATION_ENACT_AFTER,
        review.ends_at + timedelta(days=90),
    )
    ready_at = review.ends_at + timedelta(days=91)
    review.on_deadline(ready_at)
    assert review.operation.status is OperationStatus.READY
    assert review.operation.expires_at == ready_at + timedelta(days=7)
    assert [type(e) for e in review.pull_events()] == [ReviewApproved, OperationQueued, OperationReady]


def test_ready_operation_expires_after_its_grace_period() -> None:
    review = open_review(delay_seconds=DAY, grace_period_seconds=DAY)
    review.on_deadline(review.ends_at)
    review.on_deadline(review.ends_at + timedelta(days=1))
    review.pull_events()
    review.on_deadline(review.ends_at + timedelta(days=2))
    assert review.operation is not None
    assert review.operation.status is OperationStatus.EXPIRED
    assert [type(e) for e in review.pull_events()] == [OperationExpired]


def test_executed_operation_does_not_expire() -> None:
    review = open_review(delay_seconds=DAY, grace_period_seconds=DAY)
    review.on_deadline(review.ends_at + timedelta(days=1))
    assert review.mark_executed(review.ends_at + timedelta(days=1, hours=1))
    assert review.pending_deadline() is None


def test_delay_without_review_queues_at_once() -> None:
    review = Review.queue_without_review(
        review_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        organization_slug="rp",
        terms=terms(reviewing_body_id=None, window_seconds=0, delay_seconds=DAY),
        now=T0,
    )
    assert review.kind is ReviewKind.DELAY
    assert review.operation is not None
    assert review.operation.enact_after == T0 + timedelta(days=1)
    assert not review.is_open(T0)
    assert [type(e) for e in review.pull_events()] == [OperationQueued]


def test_cancelling_a_pending_review_stops_it() -> None:
    review = open_review()
    assert review.cancel(T0)
    assert review.status is ReviewStatus.CANCELLED
    assert review.pending_deadline() is None
    assert review.pull_events() == [ReviewCancelled(what="REVIEW")]


def test_cancelling_a_queued_operation_stops_it() -> None:
    review = open_review(delay_seconds=DAY)
    review.on_deadline(review.ends_at)
    review.pull_events()
    assert review.cancel(review.ends_at)
    assert review.operation is not None
    assert review.operation.status is OperationStatus.CANCELLED
    assert review.pull_events() == [ReviewCancelled(what="OPERATION")]


def test_cancelling_after_the_verdict_changes_nothing() -> None:
    review = open_review()
    review.on_deadline(review.ends_at)
    review.pull_events()
    assert not review.cancel(review.ends_at)
    assert review.pull_events() == []


def test_started_review_snapshots_eligible_weight() -> None:
    review = Review.open(
        review_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        organization_slug="rp",
        terms=terms(),
        reviewers=reviewers(3, 0, 2),
        now=T0,
    )
    assert review.eligible_weight == 5
    assert review.veto_threshold_weight == 2
    assert review.pull_events() == [ReviewStarted()]


# --- the lifecycle as a whole --------------------------------------------------------------------

actions = st.lists(
    st.tuples(
        st.sampled_from(["object", "withdraw", "concern", "deadline", "cancel", "executed"]),
        st.integers(min_value=1, max_value=6),  # which member (6 is an outsider)
        st.integers(min_value=0, max_value=4 * DAY),  # time step
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=5), min_size=5, max_size=5),
    percent=st.integers(min_value=1, max_value=100),
    delay=st.sampled_from([0, DAY]),
    steps=actions,
)
def test_lifecycle_keeps_its_invariants(weights: list[int], percent: int, delay: int, steps: list) -> None:
    review = open_review(tuple(weights), veto_threshold_percent=Decimal(percent), delay_seconds=delay)
    now = T0
    verdicts = 0
    ends_at = review.ends_at
    for action, who, step in steps:
        now += timedelta(seconds=step)
        actor = member(who, weights[who - 1]) if who <= len(weights) else None
        try:
            if action == "object":
                review.add_objection(actor, None, now=now)
            elif action == "withdraw":
                review.withdraw_objection(actor, now=now)
            elif action == "concern":
                review.raise_concern(actor, "why?", concern_id=uuid.uuid4(), now=now)
            elif action == "deadline":
                review.on_deadline(now)
            elif action == "cancel":
                review.cancel(now)
            else:
                review.mark_executed(now)
        except (Forbidden, ReviewClosed):
            assert actor is None or not review.is_open(now)
        events = review.pull_events()
        verdicts += sum(isinstance(e, ReviewBlocked | ReviewApproved) for e in events)
        if review.kind is ReviewKind.REVIEW and review.status is not ReviewStatus.PENDING:
            assert review.decided_at is not None
        assert review.ends_at >= ends_at
        ends_at = review.ends_at
        active = sum((o.weight for o in review.objections.values() if o.active), Decimal(0))
        assert review.objection_weight == active
        if review.status is ReviewStatus.BLOCKED:
            assert blocks(review.objection_weight, review.veto_threshold_weight)
        elif review.status is ReviewStatus.PENDING:
            assert not blocks(review.objection_weight, review.veto_threshold_weight)
    assert verdicts <= 1
    assert review.ends_at <= review.starts_at + timedelta(days=9)
