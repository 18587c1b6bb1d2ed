"""Membership rules, pure: no database, milliseconds each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from kit import CoreTeamFull, InsufficientFunds, InvalidInput
from services.membership import domain
from services.membership.domain import (
    DEFAULT_POLICY,
    AddMember,
    AllocateBudget,
    CellState,
    CreateCell,
    CycleSchedule,
    Pledge,
    RemoveMember,
    SetCellState,
)

START = datetime(2030, 1, 1, tzinfo=UTC)
DAY = 86_400
SCHEDULE = CycleSchedule.starting(START, 90 * DAY)


# --- policy ----------------------------------------------------------------------------------------


def test_default_policy_is_the_seeds_model():
    assert dict(DEFAULT_POLICY) == {
        "votingPeriodSeconds": 604_800,
        "reviewPeriodSeconds": 604_800,
        "concernExtensionSeconds": 259_200,
        "vetoThresholdPercent": 33,
        "quorumPercent": 20,
        "stakeholderWeighting": "EQUAL",
        "cycleLengthSeconds": 7_776_000,
        "communityProposals": False,
        "policyDelaySeconds": 7_776_000,
    }


def test_effective_policy_applies_overrides_and_keeps_defaults_for_the_rest():
    policy = domain.effective_policy(
        {"quorumPercent": 50, "stakeholderWeighting": "COMMITTED_FUNDS", "votingPeriodSeconds": None}
    )
    assert policy["quorumPercent"] == 50
    assert policy["stakeholderWeighting"] == "COMMITTED_FUNDS"
    assert policy["votingPeriodSeconds"] == 604_800


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("vetoThresholdPercent", 0),
        ("quorumPercent", 101),
        ("votingPeriodSeconds", 0),
        ("cycleLengthSeconds", -5),
        ("reviewPeriodSeconds", 1.5),
        ("stakeholderWeighting", "BY_REPUTATION"),
        ("communityProposals", "yes"),
        ("policyDelaySeconds", -1),
        ("unknownSetting", 1),
    ],
)
def test_policy_values_out_of_range_are_refused_with_the_field(key, value):
    with pytest.raises(InvalidInput) as err:
        domain.effective_policy({key: value})
    assert err.value.field == f"policy.{key}"


def test_zero_delay_and_zero_extension_are_allowed():
    policy = domain.effective_policy({"policyDelaySeconds": 0, "concernExtensionSeconds": 0})
    assert policy["policyDelaySeconds"] == 0


# --- slugs, addresses, amounts ---------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["abc", "reimagining-power", "a1-b2", "x" * 48])
def test_valid_slugs_are_accepted(slug):
    assert domain.validate_slug(slug) == slug


@pytest.mark.parametrize("slug", ["ab", "x" * 49, "Upper", "-lead", "trail-", "sp ace", "under_score", ""])
def test_invalid_slugs_are_refused(slug):
    with pytest.raises(InvalidInput):
        domain.validate_slug(slug)


def test_addresses_are_stored_lower_case_and_returned_checksummed():
    account = Account.create()
    assert domain.normalize_address(account.address) == account.address.lower()
    assert domain.normalize_address(account.address.lower()) == account.address.lower()
    assert domain.normalize_address("0x" + account.address[2:].upper()) == account.address.lower()
    assert domain.checksum(account.address.lower()) == account.address


@pytest.mark.parametrize(
    "address",
    ["", "0x123", "0x" + "g" * 40, "12" * 21, "0x" + "a" * 41, None, 42],
)
def test_malformed_addresses_are_refused(address):
    with pytest.raises(InvalidInput):
        domain.normalize_address(address)


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused():
    address = Account.create().address
    flipped = address[:2] + "".join(c.swapcase() if c.isalpha() else c for c in address[2:])
    with pytest.raises(InvalidInput, match="checksum"):
        domain.normalize_address(flipped)


@pytest.mark.parametrize("value", ["1000.50", "0.000000000000000001", "7", 3])
def test_positive_exact_amounts_are_accepted(value):
    assert domain.parse_amount(value) == Decimal(str(value))


@pytest.mark.parametrize(
    "value", ["0", "-1", "abc", "NaN", "Infinity", 1.5, True, "0.0000000000000000001", "1e30"]
)
def test_non_positive_inexact_or_malformed_amounts_are_refused(value):
    with pytest.raises(InvalidInput):
        domain.parse_amount(value)


def test_amounts_format_canonically_without_exponents_or_trailing_zeros():
    assert domain.format_amount(Decimal("1000.50")) == "1000.5"
    assert domain.format_amount(Decimal("1E+3")) == "1000"
    assert domain.format_amount(Decimal("100")) == "100"
    assert domain.format_amount(Decimal("0.00")) == "0"
    assert domain.format_amount(Decimal("0.000000000000000001")) == "0.000000000000000001"


@given(st.decimals(min_value="0", max_value="1e20", places=6))
def test_formatted_amounts_read_back_as_the_same_number(amount):
    assert Decimal(domain.format_amount(amount)) == amount


# --- cycles ----------------------------------------------------------------------------------------


def test_cycles_count_from_the_organisations_start():
    assert SCHEDULE.current(START) == 0
    assert SCHEDULE.current(START + timedelta(days=89, hours=23)) == 0
    assert SCHEDULE.current(START + timedelta(days=90)) == 1
    assert SCHEDULE.starts_at(2) == START + timedelta(days=180)


def test_funds_in_a_started_cycle_are_committed_and_in_a_later_one_pledged():
    now = START + timedelta(days=10)
    assert domain.commitment_status(SCHEDULE, 0, now, withdrawn=False) == "COMMITTED"
    assert domain.commitment_status(SCHEDULE, 1, now, withdrawn=False) == "PLEDGED"
    assert domain.commitment_status(SCHEDULE, 1, START + timedelta(days=90), withdrawn=False) == "COMMITTED"


def test_funds_can_go_to_the_current_or_a_future_cycle_but_not_a_past_one():
    now = START + timedelta(days=100)
    domain.check_commit_cycle(SCHEDULE, 1, now)
    domain.check_commit_cycle(SCHEDULE, 5, now)
    with pytest.raises(InvalidInput):
        domain.check_commit_cycle(SCHEDULE, 0, now)


def test_exit_returns_only_what_is_pledged_to_cycles_not_yet_started():
    pledges = [
        Pledge(uuid.uuid4(), 0, Decimal("100")),
        Pledge(uuid.uuid4(), 1, Decimal("50.25")),
        Pledge(uuid.uuid4(), 2, Decimal("10")),
        Pledge(uuid.uuid4(), 2, Decimal("0.75")),
    ]
    during_cycle_0 = domain.exit_refund(SCHEDULE, pledges, START + timedelta(days=1))
    assert during_cycle_0.amount == Decimal("61.00")
    assert during_cycle_0.cycles == (1, 2)
    at_cycle_1_start = domain.exit_refund(SCHEDULE, pledges, START + timedelta(days=90))
    assert at_cycle_1_start.amount == Decimal("10.75")
    assert at_cycle_1_start.cycles == (2,)
    assert domain.exit_refund(SCHEDULE, pledges, START + timedelta(days=180)).amount == 0


@given(
    amounts=st.lists(
        st.tuples(st.integers(0, 6), st.decimals(min_value="0.01", max_value="1000000", places=2)),
        max_size=12,
    ),
    at_seconds=st.integers(0, 7 * 90 * DAY),
)
def test_exit_refund_plus_what_stays_is_everything_pledged(amounts, at_seconds):
    now = START + timedelta(seconds=at_seconds)
    pledges = [Pledge(uuid.uuid4(), cycle, amount) for cycle, amount in amounts]
    refund = domain.exit_refund(SCHEDULE, pledges, now)
    stays = sum((p.amount for p in pledges if SCHEDULE.has_started(p.cycle, now)), Decimal(0))
    assert refund.amount + stays == sum((p.amount for p in pledges), Decimal(0))
    assert all(c > SCHEDULE.current(now) for c in refund.cycles)


@given(
    length=st.integers(1, 400 * DAY),
    elapsed=st.integers(0, 10 * 400 * DAY),
)
def test_the_current_cycle_has_started_and_the_next_has_not(length, elapsed):
    schedule = CycleSchedule.starting(START, length)
    now = START + timedelta(seconds=elapsed)
    current = schedule.current(now)
    assert schedule.has_started(current, now)
    assert not schedule.has_started(current + 1, now)


# --- budgets ---------------------------------------------------------------------------------------


def test_a_budget_within_the_unallocated_committed_funds_is_allowed():
    domain.check_allocation(
        SCHEDULE, 0, START, committed=Decimal("100"), allocated=Decimal("40"), amount=Decimal("60")
    )


def test_a_budget_above_the_unallocated_committed_funds_is_refused():
    with pytest.raises(InsufficientFunds):
        domain.check_allocation(
            SCHEDULE, 0, START, committed=Decimal("100"), allocated=Decimal("40"), amount=Decimal("60.01")
        )


def test_a_budget_for_a_cycle_that_has_not_started_is_refused_even_if_pledges_exist():
    with pytest.raises(InsufficientFunds, match="not started"):
        domain.check_allocation(
            SCHEDULE, 1, START, committed=Decimal("1000"), allocated=Decimal(0), amount=Decimal("1")
        )


# --- roles and weights -----------------------------------------------------------------------------


def test_roles_must_fit_the_body_kind():
    assert domain.check_role("STAKEHOLDER_GROUP", "STAKEHOLDER") == "STAKEHOLDER"
    assert domain.check_role("CELL", "CONTRIBUTOR") == "CONTRIBUTOR"
    with pytest.raises(InvalidInput):
        domain.check_role("CELL", "STAKEHOLDER")
    with pytest.raises(InvalidInput):
        domain.check_role("STAKEHOLDER_GROUP", "CORE_TEAM")


def test_weights_equal_by_funds_one_per_core_member_and_none_for_contributors():
    assert domain.weight_of("STAKEHOLDER", "EQUAL", Decimal("500")) == 1
    assert domain.weight_of("STAKEHOLDER", "COMMITTED_FUNDS", Decimal("500")) == Decimal("500")
    assert domain.weight_of("CORE_TEAM", "COMMITTED_FUNDS", Decimal("500")) == 1
    assert domain.weight_of("CONTRIBUTOR", "EQUAL", Decimal("500")) == 0


def test_a_core_team_of_ten_is_refused():
    domain.check_core_team_size(9)
    with pytest.raises(CoreTeamFull):
        domain.check_core_team_size(10)


def test_an_approved_cell_state_records_when_and_by_which_proposal():
    proposal = uuid.uuid4()
    state = CellState.approved("p", "s", ["a"], START, proposal)
    assert (state.status, state.approved_at, state.proposal_id) == ("APPROVED", START, proposal)
    assert CellState.draft("p").status == "DRAFT"


# --- actions ---------------------------------------------------------------------------------------


def test_actions_parse_in_order_and_skip_policy_updates():
    cell, body = uuid.uuid4(), uuid.uuid4()
    address = Account.create().address
    actions = domain.parse_actions(
        [
            {
                "createCell": {
                    "parentId": str(cell),
                    "name": "Research",
                    "purpose": "Find out",
                    "coreTeam": [{"address": address}],
                }
            },
            {"updatePolicy": {"quorumPercent": 30}},
            {"addMember": {"bodyId": str(body), "address": address, "role": "CONTRIBUTOR"}},
            {"removeMember": {"bodyId": str(body), "address": address}},
            {"allocateBudget": {"cellId": str(cell), "cycle": 0, "amount": "10.5"}},
            {"setCellState": {"cellId": str(cell), "purpose": "P", "strategy": "S", "agreements": ["A"]}},
        ]
    )
    assert [type(a) for a in actions] == [CreateCell, AddMember, RemoveMember, AllocateBudget, SetCellState]
    assert actions[0].core_team[0].address == address.lower()
    assert actions[3].amount == Decimal("10.5")


@pytest.mark.parametrize(
    "raw",
    [
        [{"addMember": {"bodyId": "not-a-uuid", "address": "0x" + "a" * 40, "role": "CORE_TEAM"}}],
        [{"addMember": {"bodyId": str(uuid.uuid4()), "address": "0x12", "role": "CORE_TEAM"}}],
        [{"addMember": {"bodyId": str(uuid.uuid4()), "address": "0x" + "a" * 40, "role": "KING"}}],
        [{"allocateBudget": {"cellId": str(uuid.uuid4()), "cycle": 0, "amount": 1.5}}],
        [{"allocateBudget": {"cellId": str(uuid.uuid4()), "cycle": -1, "amount": "1"}}],
        [{"dissolveEverything": {}}],
        [{"addMember": {}, "removeMember": {}}],
        "not a list",
    ],
)
def test_malformed_actions_are_refused(raw):
    with pytest.raises(InvalidInput):
        domain.parse_actions(raw)


def test_a_new_cell_with_ten_core_members_is_refused():
    team = [{"address": Account.create().address} for _ in range(10)]
    with pytest.raises(CoreTeamFull):
        domain.parse_actions(
            [{"createCell": {"parentId": str(uuid.uuid4()), "name": "n", "purpose": "p", "coreTeam": team}}]
        )


def test_a_member_listed_twice_is_refused():
    address = Account.create().address
    with pytest.raises(InvalidInput, match="twice"):
        domain.parse_member_specs([{"address": address}, {"address": address.lower()}], field="coreTeam")


# --- a change of cycle length ----------------------------------------------------------------------


def test_a_new_cycle_length_starts_at_the_next_boundary():
    decided = START + timedelta(days=100)  # during cycle 1 of 90 days
    schedule = SCHEDULE.with_length(30 * DAY, decided)
    assert schedule.current(decided) == 1
    assert schedule.starts_at(1) == START + timedelta(days=90)
    assert schedule.starts_at(2) == START + timedelta(days=180)
    assert schedule.starts_at(3) == START + timedelta(days=210)
    assert schedule.current(START + timedelta(days=215)) == 3
    assert schedule.length_of(1) == 90 * DAY
    assert schedule.length_of(2) == 30 * DAY


def test_a_second_change_before_the_first_takes_effect_replaces_it():
    decided = START + timedelta(days=10)
    twice = SCHEDULE.with_length(30 * DAY, decided).with_length(60 * DAY, decided + timedelta(days=1))
    assert twice.segments == SCHEDULE.with_length(60 * DAY, decided).segments
    assert (
        SCHEDULE.with_length(30 * DAY, decided).with_length(90 * DAY, decided).segments == SCHEDULE.segments
    )


def test_segments_survive_their_stored_form():
    schedule = SCHEDULE.with_length(7 * DAY, START + timedelta(days=400))
    stored = [s.to_dict() for s in schedule.segments]
    assert CycleSchedule(tuple(domain.CycleSegment.from_dict(s) for s in stored)) == schedule


@given(
    changes=st.lists(st.tuples(st.integers(1, 200 * DAY), st.integers(1, 120 * DAY)), max_size=5),
)
def test_changing_the_cycle_length_never_moves_a_cycle_that_has_started_or_the_next_one(changes):
    schedule = SCHEDULE
    now = START
    for wait, length in changes:
        now += timedelta(seconds=wait)
        current = schedule.current(now)
        watched = sorted({0, max(current - 1, 0), current, current + 1})
        before = [schedule.starts_at(c) for c in watched]
        schedule = schedule.with_length(length, now)
        assert schedule.current(now) == current
        assert [schedule.starts_at(c) for c in watched] == before
    last = schedule.current(now)
    starts = [schedule.starts_at(c) for c in range(max(last - 5, 0), last + 6)]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
