"""The proposal state machine: every path of DOMAIN.md, and random event sequences that never break it."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import Conflict, Forbidden, InvalidInput, VotingClosed
from services.proposals.domain import (
    TERMINAL,
    TRANSITIONS,
    Choice,
    DecisionRule,
    IllegalTransition,
    RuleType,
    Status,
    Vote,
)

from .domain_factories import (
    PROPOSER,
    T0,
    VOTERS,
    membership_action,
    policy_action,
    proposal,
)

D = Decimal


def vote(p, i: int, choice: Choice, now=T0, previous: Vote | None = None):
    return p.cast_vote(
        voter=VOTERS[i].address,
        weight=VOTERS[i].weight,
        still_member=True,
        choice=choice,
        reason=None,
        previous=previous,
        now=now,
    )


def pass_vote(p):
    for i in range(3):
        vote(p, i, Choice.FOR)


def names(p) -> list[str]:
    return [f"{e.aggregate}.{e.name}" for e in p.pull_events()]


# --- creation and voting --------------------------------------------------------------------------


def test_a_new_proposal_is_voting_with_its_creation_in_history():
    p = proposal()
    assert p.status is Status.VOTING
    assert [h.status for h in p.history] == [Status.VOTING]
    assert p.voting_ends_at == T0 + timedelta(seconds=100)
    assert p.tally.eligible == 5
    assert names(p) == ["proposal.created"]


def test_a_title_over_200_characters_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        proposal().__class__.open(**{**_open_kwargs(), "title": "x" * 201})
    assert err.value.field == "title"


def test_a_description_over_20000_characters_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        proposal().__class__.open(**{**_open_kwargs(), "description": "x" * 20_001})
    assert err.value.field == "description"


def _open_kwargs():
    p = proposal()
    return {
        "id": uuid.uuid4(),
        "organization_id": p.organization_id,
        "organization_slug": "acme",
        "kind": p.kind,
        "title": "t",
        "description": "",
        "body_id": p.body_id,
        "deciding_body_id": p.deciding_body_id,
        "reviewing_body_id": None,
        "proposer": PROPOSER,
        "module": p.module,
        "actions": (),
        "voters": VOTERS,
        "now": T0,
    }


def test_changing_a_vote_keeps_one_vote_per_voter():
    p = proposal()
    first = vote(p, 0, Choice.FOR)
    vote(p, 0, Choice.AGAINST, previous=first)
    assert (p.tally.for_, p.tally.against, p.vote_count) == (0, 1, 1)


def test_someone_not_in_the_snapshot_cannot_vote():
    p = proposal()
    with pytest.raises(Forbidden):
        p.cast_vote(
            voter="0x" + "f" * 40,
            weight=None,
            still_member=True,
            choice=Choice.FOR,
            reason=None,
            previous=None,
            now=T0,
        )


def test_a_voter_who_has_exited_cannot_vote():
    p = proposal()
    with pytest.raises(Forbidden):
        p.cast_vote(
            voter=VOTERS[0].address,
            weight=D(1),
            still_member=False,
            choice=Choice.FOR,
            reason=None,
            previous=None,
            now=T0,
        )


def test_voting_after_voting_ends_is_voting_closed():
    p = proposal()
    with pytest.raises(VotingClosed):
        vote(p, 0, Choice.FOR, now=p.voting_ends_at)


def test_voting_closes_early_once_the_outcome_cannot_change():
    p = proposal()
    vote(p, 0, Choice.FOR)
    vote(p, 1, Choice.FOR)
    assert p.status is Status.VOTING
    vote(p, 2, Choice.FOR)
    assert p.status is Status.ENACTED
    events = p.pull_events()
    assert [e.name for e in events][-3:] == ["cast", "voting_closed", "enacted"]
    assert events[-3].data["proposalStatus"] == "ENACTED"


def test_a_vote_after_an_early_close_is_voting_closed():
    p = proposal()
    pass_vote(p)
    with pytest.raises(VotingClosed):
        vote(p, 3, Choice.AGAINST)


def test_without_quorum_at_the_deadline_it_expires():
    p = proposal()
    vote(p, 0, Choice.FOR)
    assert p.close_voting(p.voting_ends_at)
    assert p.status is Status.EXPIRED
    assert [e.name for e in p.pull_events()][-2:] == ["voting_closed", "expired"]


def test_a_tie_at_the_deadline_is_defeated():
    p = proposal()
    vote(p, 0, Choice.FOR)
    vote(p, 1, Choice.AGAINST)
    vote(p, 2, Choice.ABSTAIN)
    p.close_voting(p.voting_ends_at)
    assert p.status is Status.DEFEATED
    closed = next(e for e in p.pull_events() if e.name == "voting_closed")
    assert closed.data["outcome"] == "DEFEATED"
    assert closed.data["next"] == "NONE"
    assert closed.data["tally"] == {
        "for": "1",
        "against": "1",
        "abstain": "1",
        "eligible": "5",
        "quorumReached": True,
    }


def test_the_deadline_after_an_early_close_changes_nothing():
    p = proposal()
    pass_vote(p)
    assert not p.close_voting(p.voting_ends_at)


# --- review path ----------------------------------------------------------------------------------


def test_a_passed_vote_with_review_goes_in_review_with_the_review_terms():
    p = proposal("REVIEW")
    pass_vote(p)
    assert p.status is Status.IN_REVIEW
    closed = next(e for e in p.pull_events() if e.name == "voting_closed")
    assert closed.data["next"] == "REVIEW"
    assert closed.data["review"]["windowSeconds"] == 60
    assert closed.data["review"]["reviewingBodyId"] == str(p.reviewing_body_id)


def test_review_started_is_mirrored_once():
    p = proposal("REVIEW")
    pass_vote(p)
    review_id = uuid.uuid4()
    assert p.on_review_started(review_id=review_id, ends_at=T0, veto_threshold_weight=D(2), now=T0)
    assert not p.on_review_started(review_id=review_id, ends_at=T0, veto_threshold_weight=D(2), now=T0)
    assert names(p).count("proposal.review_started") == 1


def test_a_blocked_review_blocks_the_proposal_once():
    p = proposal("REVIEW")
    pass_vote(p)
    assert p.on_review_blocked(objection_weight=D(3), now=T0)
    assert not p.on_review_blocked(objection_weight=D(3), now=T0)
    assert p.status is Status.BLOCKED
    assert [h.status for h in p.history] == [Status.VOTING, Status.IN_REVIEW, Status.BLOCKED]


def test_an_approved_review_without_delay_and_actions_enacts():
    p = proposal("REVIEW")
    pass_vote(p)
    assert p.on_review_approved(delay_seconds=0, now=T0)
    assert p.status is Status.ENACTED


def test_an_approved_review_with_a_delay_waits_for_the_timelock_to_queue_it():
    p = proposal("REVIEW")
    pass_vote(p)
    assert not p.on_review_approved(delay_seconds=30, now=T0)
    assert p.status is Status.IN_REVIEW
    enact_after = T0 + timedelta(seconds=30)
    assert p.on_operation_queued(enact_after=enact_after, now=T0)
    assert (p.status, p.enact_after) == (Status.QUEUED, enact_after)
    assert p.on_operation_ready(now=enact_after)
    assert p.status is Status.ENACTED


def test_membership_actions_are_requested_then_enacted_when_applied():
    p = proposal("REVIEW", actions=(membership_action(), policy_action()))
    pass_vote(p)
    p.on_review_approved(delay_seconds=0, now=T0)
    assert p.status is Status.QUEUED
    requested = next(e for e in p.pull_events() if e.name == "enactment_requested")
    assert requested.data["actions"] == [membership_action().to_dict()]
    assert p.on_actions_applied(now=T0)
    assert not p.on_actions_applied(now=T0)
    assert p.status is Status.ENACTED
    assert len(p.policy_updates()) == 1


def test_rejected_actions_fail_the_proposal_with_the_reason():
    p = proposal(actions=(membership_action(),))
    pass_vote(p)
    assert p.status is Status.QUEUED
    assert p.on_actions_rejected(reason="core team full", now=T0)
    assert (p.status, p.failure_reason) == (Status.FAILED, "core team full")


def test_an_expired_operation_fails_the_proposal():
    p = proposal("DELAY")
    pass_vote(p)
    assert p.on_operation_expired(reason="grace period over", now=T0)
    assert p.status is Status.FAILED


def test_an_expired_operation_is_ignored_once_enactment_was_requested():
    p = proposal("DELAY", actions=(membership_action(),))
    pass_vote(p)
    p.on_operation_ready(now=T0)
    assert not p.on_operation_expired(reason="grace period over", now=T0)
    assert p.status is Status.QUEUED


# --- delay path -----------------------------------------------------------------------------------


def test_a_passed_vote_with_a_delay_is_queued_and_learns_enact_after_from_the_timelock():
    p = proposal("DELAY")
    pass_vote(p)
    assert p.status is Status.QUEUED
    assert p.enact_after is None
    closed = next(e for e in p.pull_events() if e.name == "voting_closed")
    assert (closed.data["next"], closed.data["review"]["delaySeconds"]) == ("DELAY", 30)
    assert p.on_operation_queued(enact_after=T0 + timedelta(seconds=30), now=T0)
    assert not p.on_operation_queued(enact_after=T0 + timedelta(seconds=30), now=T0)
    assert names(p) == ["proposal.queued"]


# --- cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("next_step", ["ENACT", "REVIEW", "DELAY"])
def test_the_proposer_can_cancel_before_enactment(next_step):
    p = proposal(next_step)
    if next_step != "ENACT":
        pass_vote(p)
    p.cancel(actor=PROPOSER, now=T0)
    assert p.status is Status.CANCELLED
    assert names(p)[-1] == "proposal.cancelled"


def test_someone_else_cannot_cancel():
    with pytest.raises(Forbidden):
        proposal().cancel(actor=VOTERS[0].address, now=T0)


def test_an_enacted_proposal_cannot_be_cancelled():
    p = proposal()
    pass_vote(p)
    with pytest.raises(Conflict):
        p.cancel(actor=PROPOSER, now=T0)


def test_a_proposal_being_enacted_cannot_be_cancelled():
    p = proposal(actions=(membership_action(),))
    pass_vote(p)
    with pytest.raises(Conflict):
        p.cancel(actor=PROPOSER, now=T0)


def test_an_illegal_transition_is_refused():
    p = proposal()
    with pytest.raises(IllegalTransition):
        p._move(Status.BLOCKED, T0, "no")


# --- random sequences -----------------------------------------------------------------------------

VERDICTS = ["review_started", "concern", "objection", "blocked", "approved", "queued", "ready", "expired"]
ANSWERS = ["applied", "rejected"]
# weighted so that sequences often get past the vote: votes lean FOR, cancels are rare
_kinds = ["vote"] * 8 + ["tick"] * 2 + ["deadline"] * 2 + ["cancel"] + VERDICTS + ANSWERS * 2


def _op(kind: str):
    if kind == "vote":
        choices = [Choice.FOR, Choice.FOR, Choice.FOR, Choice.AGAINST, Choice.ABSTAIN]
        return st.tuples(st.just(kind), st.integers(0, len(VOTERS) - 1), st.sampled_from(choices))
    if kind == "tick":
        return st.tuples(st.just(kind), st.integers(1, 120))
    return st.tuples(st.just(kind), st.booleans())


op = st.sampled_from(_kinds).flatmap(_op)
rules = st.sampled_from(
    [
        DecisionRule(RuleType.MAJORITY, 50),
        DecisionRule(RuleType.SUPERMAJORITY, 40, 66),
        DecisionRule(RuleType.CONSENT),
        DecisionRule(RuleType.UNANIMITY),
    ]
)


def _apply(p, operation, now, votes):
    name = operation[0]
    if name == "vote":
        _, i, choice = operation
        try:
            v = vote(p, i, choice, now=now, previous=votes.get(i))
        except VotingClosed:
            assert p.status is not Status.VOTING or now >= p.voting_ends_at
        else:
            votes[i] = v
    elif name == "deadline":
        # the durable deadline fires at votingEndsAt (or later, after a restart)
        p.close_voting(max(now, p.voting_ends_at))
    elif name == "cancel":
        with contextlib.suppress(Forbidden, Conflict):
            p.cancel(actor=PROPOSER if operation[1] else VOTERS[0].address, now=now)
    elif name == "review_started":
        p.on_review_started(review_id=uuid.uuid4(), ends_at=now, veto_threshold_weight=D(2), now=now)
    elif name == "concern":
        p.on_concern_raised(
            concern_id=uuid.uuid4(), raised_by=VOTERS[0].address, reason="hm", ends_at=now, now=now
        )
    elif name == "objection":
        p.on_objection_recorded(
            objector=VOTERS[0].address,
            objection_weight=D(1),
            veto_threshold_weight=D(2),
            withdrawn=False,
            now=now,
        )
    elif name == "blocked":
        p.on_review_blocked(objection_weight=D(2), now=now)
    elif name == "approved":
        p.on_review_approved(delay_seconds=30 if operation[1] else 0, now=now)
    elif name == "queued":
        p.on_operation_queued(enact_after=now + timedelta(seconds=30), now=now)
    elif name == "ready":
        p.on_operation_ready(now=now)
    elif name == "expired":
        p.on_operation_expired(reason="grace over", now=now)
    elif name == "applied":
        p.on_actions_applied(now=now)
    elif name == "rejected":
        p.on_actions_rejected(reason="no", now=now)


@settings(max_examples=400, deadline=None)
@given(
    next_step=st.sampled_from(["ENACT", "REVIEW", "DELAY"]),
    rule=rules,
    with_actions=st.booleans(),
    ops=st.lists(op, min_size=5, max_size=40),
)
def test_random_event_sequences_keep_the_state_machine_consistent(next_step, rule, with_actions, ops):
    p = proposal(next_step, rule=rule, actions=(membership_action(),) if with_actions else ())
    now = T0
    votes: dict[int, Vote] = {}
    seen_statuses = {Status.VOTING}
    for operation in ops:
        before = (p.status, len(p.history))
        if operation[0] == "tick":
            now += timedelta(seconds=operation[1])
            continue
        _apply(p, operation, now, votes)
        if operation[0] == "deadline":
            now = max(now, p.voting_ends_at)
        # a verdict delivered twice changes state once
        if operation[0] in VERDICTS + ANSWERS and operation[0] not in ("concern", "objection"):
            after = (p.status, len(p.history))
            _apply(p, operation, now, votes)
            assert (p.status, len(p.history)) == after
        if before[0] in TERMINAL:
            assert (p.status, len(p.history)) == before
        seen_statuses.add(p.status)

        # history: starts VOTING, legal steps, ordered in time, ends at the current status
        assert p.history[0].status is Status.VOTING
        for a, b in zip(p.history, p.history[1:], strict=False):
            assert b.status in TRANSITIONS[a.status]
            assert a.at <= b.at
        assert p.history[-1].status is p.status
        # the tally is the sum of the votes
        for choice in Choice:
            assert p.tally.weight_of(choice) == sum(
                (v.weight for v in votes.values() if v.choice is choice), D(0)
            )
        assert p.vote_count == len(votes)
        # votes only while voting
        if p.status is not Status.VOTING:
            assert p.voting_closed_at is not None or p.status is Status.CANCELLED
    # every event names a status the proposal really had
    for event in p.pull_events():
        status = event.data.get("status") or event.data.get("proposalStatus")
        assert Status(status) in seen_statuses
