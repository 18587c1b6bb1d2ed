"""Decision rules: each rule's edge cases, and early close never deciding what could still change."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.proposals.domain import Choice, DecisionRule, Outcome, RuleType, Tally

D = Decimal
MAJORITY = DecisionRule(RuleType.MAJORITY, quorum_percent=50)


def tally(for_=0, against=0, abstain=0, eligible=10) -> Tally:
    return Tally(D(for_), D(against), D(abstain), D(eligible))


# --- majority ------------------------------------------------------------------------------------


def test_majority_tie_is_defeated():
    assert MAJORITY.final_outcome(tally(3, 3)) is Outcome.DEFEATED


def test_majority_one_more_for_than_against_passes():
    assert MAJORITY.final_outcome(tally(4, 3)) is Outcome.PASSED


def test_quorum_exactly_at_the_threshold_is_reached():
    assert MAJORITY.quorum_reached(tally(3, 2, eligible=10))
    assert MAJORITY.final_outcome(tally(3, 2, eligible=10)) is Outcome.PASSED


def test_quorum_just_below_the_threshold_expires():
    assert not MAJORITY.quorum_reached(tally(3, 1, eligible=10))
    assert MAJORITY.final_outcome(tally(3, 1, eligible=10)) is Outcome.EXPIRED


def test_abstentions_count_towards_quorum_but_not_the_majority():
    rule = DecisionRule(RuleType.MAJORITY, quorum_percent=60)
    assert rule.final_outcome(tally(1, 0, 5)) is Outcome.PASSED
    assert rule.final_outcome(tally(0, 0, 6)) is Outcome.DEFEATED


def test_no_eligible_weight_never_reaches_quorum():
    rule = DecisionRule(RuleType.MAJORITY, quorum_percent=0)
    assert not rule.quorum_reached(tally(eligible=0))
    assert rule.final_outcome(tally(eligible=0)) is Outcome.EXPIRED


def test_fractional_weights_compare_exactly():
    rule = DecisionRule(RuleType.MAJORITY, quorum_percent=50)
    assert rule.final_outcome(Tally(D("2.5"), D("2.4999"), D(0), D("9.9998"))) is Outcome.PASSED
    assert rule.final_outcome(Tally(D("2.5"), D("2.4999"), D(0), D("10"))) is Outcome.EXPIRED


# --- supermajority --------------------------------------------------------------------------------


def test_supermajority_exactly_at_the_threshold_passes():
    rule = DecisionRule(RuleType.SUPERMAJORITY, quorum_percent=0, threshold_percent=60)
    assert rule.final_outcome(tally(3, 2)) is Outcome.PASSED


def test_supermajority_just_below_the_threshold_is_defeated():
    rule = DecisionRule(RuleType.SUPERMAJORITY, quorum_percent=0, threshold_percent=66)
    assert rule.final_outcome(tally(65, 35, eligible=100)) is Outcome.DEFEATED
    assert rule.final_outcome(tally(2, 1)) is Outcome.PASSED  # two thirds is 66.7%


def test_supermajority_of_only_abstentions_is_defeated():
    rule = DecisionRule(RuleType.SUPERMAJORITY, quorum_percent=10, threshold_percent=50)
    assert rule.final_outcome(tally(0, 0, 5)) is Outcome.DEFEATED


# --- consent --------------------------------------------------------------------------------------

CONSENT = DecisionRule(RuleType.CONSENT)


def test_consent_passes_in_silence():
    assert CONSENT.final_outcome(tally(eligible=5)) is Outcome.PASSED


def test_consent_with_one_objection_is_defeated_at_once():
    t = tally(4, 1, eligible=9)
    assert CONSENT.final_outcome(t) is Outcome.DEFEATED
    assert CONSENT.decided_outcome(t) is Outcome.DEFEATED


def test_consent_does_not_close_early_while_someone_may_still_object():
    assert CONSENT.decided_outcome(tally(8, 0, eligible=9)) is None


def test_consent_closes_when_everyone_consented():
    assert CONSENT.decided_outcome(tally(8, 0, 1, eligible=9)) is Outcome.PASSED


# --- unanimity ------------------------------------------------------------------------------------

UNANIMITY = DecisionRule(RuleType.UNANIMITY)


def test_unanimity_passes_when_all_vote_for():
    assert UNANIMITY.final_outcome(tally(5, eligible=5)) is Outcome.PASSED


def test_unanimity_allows_standing_aside():
    assert UNANIMITY.final_outcome(tally(4, 0, 1, eligible=5)) is Outcome.PASSED


def test_unanimity_with_one_against_is_defeated_at_once():
    assert UNANIMITY.decided_outcome(tally(1, 1, eligible=5)) is Outcome.DEFEATED


def test_unanimity_with_a_missing_voter_expires():
    assert UNANIMITY.final_outcome(tally(4, eligible=5)) is Outcome.EXPIRED


def test_unanimity_of_abstentions_is_defeated():
    assert UNANIMITY.final_outcome(tally(0, 0, 5, eligible=5)) is Outcome.DEFEATED


# --- tallies --------------------------------------------------------------------------------------


def test_changing_a_vote_moves_its_weight():
    t = tally(eligible=5).with_vote(Choice.FOR, D(2)).with_vote(Choice.AGAINST, D(2), previous=Choice.FOR)
    assert (t.for_, t.against, t.participating) == (0, 2, 2)


# --- early close ----------------------------------------------------------------------------------


def test_majority_closes_early_once_a_majority_of_all_weight_is_for():
    assert MAJORITY.decided_outcome(tally(6, eligible=10)) is Outcome.PASSED
    assert MAJORITY.decided_outcome(tally(5, eligible=10)) is None


def test_majority_closes_early_once_for_cannot_catch_up():
    assert MAJORITY.decided_outcome(tally(0, 5, eligible=10)) is Outcome.DEFEATED


def test_majority_without_quorum_does_not_close_early():
    assert MAJORITY.decided_outcome(tally(0, 4, eligible=10)) is None


rules = st.one_of(
    st.builds(DecisionRule, st.just(RuleType.MAJORITY), st.integers(0, 100)),
    st.builds(DecisionRule, st.just(RuleType.SUPERMAJORITY), st.integers(0, 100), st.integers(1, 100)),
    st.builds(DecisionRule, st.just(RuleType.CONSENT), st.integers(0, 100)),
    st.builds(DecisionRule, st.just(RuleType.UNANIMITY)),
)
weights = st.lists(st.integers(0, 4).map(D), min_size=1, max_size=5)
ballots = st.sampled_from([None, Choice.FOR, Choice.AGAINST, Choice.ABSTAIN])


def _tally(ws: list[Decimal], bs: list[Choice | None]) -> Tally:
    t = Tally(eligible=sum(ws, D(0)))
    for w, b in zip(ws, bs, strict=True):
        if b is not None:
            t = t.with_vote(b, w)
    return t


@settings(max_examples=300, deadline=None)
@given(rule=rules, data=st.data(), ws=weights)
def test_an_early_decision_holds_for_every_way_the_rest_could_vote(rule, data, ws):
    cast = data.draw(st.lists(ballots, min_size=len(ws), max_size=len(ws)))
    now = _tally(ws, cast)
    decided = rule.decided_outcome(now)
    if decided is None:
        return
    silent = [i for i, b in enumerate(cast) if b is None]
    for completion in itertools.product(
        [None, Choice.FOR, Choice.AGAINST, Choice.ABSTAIN], repeat=len(silent)
    ):
        final = list(cast)
        for i, b in zip(silent, completion, strict=True):
            final[i] = b
        assert rule.final_outcome(_tally(ws, final)) is decided


@pytest.mark.parametrize(
    "rule",
    [MAJORITY, DecisionRule(RuleType.SUPERMAJORITY, 50, 66), CONSENT, UNANIMITY],
    ids=lambda r: r.type,
)
def test_when_everyone_has_voted_the_outcome_is_decided(rule):
    t = tally(3, 1, 1, eligible=5)
    assert rule.decided_outcome(t) is rule.final_outcome(t)
