"""Actions are validated up front: shape, the module's allowed actions, the organisation's state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kit import Conflict, CoreTeamFull, InsufficientFunds, InvalidInput, NotFound
from services.proposals.domain import (
    ActionContext,
    Kind,
    Policy,
    PolicySettings,
    Role,
    parse_actions,
    validate_actions,
)

from .test_domain_policy import CELL, ORG, OTHER_CELL, SHG, TLC

NOW = datetime(2030, 1, 1, 0, 4, tzinfo=UTC)  # cycle 0 started, cycle 3 (at +300 s) not yet


def addr(i: int) -> str:
    return f"0x{i:040x}"


def check(kind: Kind, body: uuid.UUID, raw: list, *, members=None, funds=None) -> None:
    actions = parse_actions(raw)
    policy = Policy.create(PolicySettings(community_proposals=True))
    raising = ORG.bodies[body]
    module = policy.module_for(kind, ORG.scope_of(raising))
    ctx = ActionContext(ORG, members or {}, funds or {}, policy.settings, NOW)
    validate_actions(actions, kind=kind, module=module, raising=raising, ctx=ctx)


def core_team(n: int) -> list[dict]:
    return [{"address": addr(i)} for i in range(n)]


def test_an_action_with_two_kinds_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        parse_actions([{"addMember": {}, "removeMember": {}}])
    assert err.value.field == "actions[0]"


def test_more_than_fifty_actions_are_invalid_input():
    with pytest.raises(InvalidInput) as err:
        parse_actions([{"removeMember": {"bodyId": str(TLC), "address": addr(1)}}] * 51)
    assert err.value.field == "actions"


def test_a_new_cell_with_ten_core_members_is_core_team_full():
    with pytest.raises(CoreTeamFull):
        parse_actions(
            [{"createCell": {"parentId": str(TLC), "name": "n", "purpose": "p", "coreTeam": core_team(10)}}]
        )


def test_adding_a_tenth_core_member_is_core_team_full():
    members = {CELL: {addr(i): Role.CORE_TEAM for i in range(9)}}
    with pytest.raises(CoreTeamFull):
        check(
            Kind.OPERATIONAL,
            CELL,
            [{"addMember": {"bodyId": str(CELL), "address": addr(50), "role": "CORE_TEAM"}}],
            members=members,
        )


def test_two_additions_that_together_exceed_the_cap_are_core_team_full():
    members = {CELL: {addr(i): Role.CORE_TEAM for i in range(8)}}
    add = [
        {"addMember": {"bodyId": str(CELL), "address": addr(50 + i), "role": "CORE_TEAM"}} for i in range(2)
    ]
    with pytest.raises(CoreTeamFull) as err:
        check(Kind.OPERATIONAL, CELL, add, members=members)
    assert err.value.field == "actions[1].addMember.bodyId"


def test_a_removal_makes_room_for_an_addition():
    members = {CELL: {addr(i): Role.CORE_TEAM for i in range(9)}}
    check(
        Kind.OPERATIONAL,
        CELL,
        [
            {"removeMember": {"bodyId": str(CELL), "address": addr(0)}},
            {"addMember": {"bodyId": str(CELL), "address": addr(50), "role": "CORE_TEAM"}},
        ],
        members=members,
    )


def test_removing_a_non_member_is_not_found():
    with pytest.raises(NotFound):
        check(Kind.OPERATIONAL, CELL, [{"removeMember": {"bodyId": str(CELL), "address": addr(1)}}])


def test_adding_someone_already_a_member_is_a_conflict():
    with pytest.raises(Conflict):
        check(
            Kind.OPERATIONAL,
            CELL,
            [{"addMember": {"bodyId": str(CELL), "address": addr(1), "role": "CORE_TEAM"}}],
            members={CELL: {addr(1): Role.CONTRIBUTOR}},
        )


def test_a_role_changes_by_removing_then_adding_in_one_proposal():
    check(
        Kind.OPERATIONAL,
        CELL,
        [
            {"removeMember": {"bodyId": str(CELL), "address": addr(1)}},
            {"addMember": {"bodyId": str(CELL), "address": addr(1), "role": "CORE_TEAM"}},
        ],
        members={CELL: {addr(1): Role.CONTRIBUTOR}},
    )


def test_a_role_that_does_not_exist_in_the_body_is_invalid_input():
    with pytest.raises(InvalidInput):
        check(
            Kind.STAKEHOLDER,
            SHG,
            [{"addMember": {"bodyId": str(SHG), "address": addr(1), "role": "CORE_TEAM"}}],
        )


def test_a_budget_within_the_available_funds_is_accepted():
    check(
        Kind.BUDGET,
        TLC,
        [{"allocateBudget": {"cellId": str(CELL), "cycle": 0, "amount": "100.5"}}],
        funds={0: Decimal("100.5")},
    )


def test_budgets_above_the_available_funds_are_insufficient_funds():
    budget = {"allocateBudget": {"cellId": str(CELL), "cycle": 0, "amount": "60"}}
    with pytest.raises(InsufficientFunds) as err:
        check(Kind.BUDGET, TLC, [budget, budget], funds={0: Decimal(100)})
    assert err.value.field == "actions[1].allocateBudget.amount"


def test_a_budget_for_a_cycle_not_started_is_insufficient_funds():
    with pytest.raises(InsufficientFunds):
        check(
            Kind.BUDGET,
            TLC,
            [{"allocateBudget": {"cellId": str(CELL), "cycle": 3, "amount": "1"}}],
            funds={3: Decimal(100)},
        )


def test_a_float_amount_is_invalid_input():
    with pytest.raises(InvalidInput):
        parse_actions([{"allocateBudget": {"cellId": str(CELL), "cycle": 0, "amount": 1.5}}])


def test_a_cell_of_another_organisation_is_not_found():
    with pytest.raises(NotFound):
        check(
            Kind.BUDGET, TLC, [{"allocateBudget": {"cellId": str(uuid.uuid4()), "cycle": 0, "amount": "1"}}]
        )


def test_a_cell_cannot_act_on_a_sibling_cell():
    with pytest.raises(InvalidInput):
        check(
            Kind.OPERATIONAL,
            CELL,
            [{"addMember": {"bodyId": str(OTHER_CELL), "address": addr(1), "role": "CONTRIBUTOR"}}],
        )


def test_a_cell_state_for_another_cell_than_the_one_raised_in_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        check(
            Kind.CELL_STATE, TLC, [{"setCellState": {"cellId": str(CELL), "purpose": "p", "agreements": []}}]
        )
    assert err.value.field == "actions[0].setCellState.cellId"


def test_an_action_the_module_does_not_allow_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        check(Kind.BUDGET, TLC, [{"removeMember": {"bodyId": str(CELL), "address": addr(1)}}])
    assert err.value.field == "actions[0]"


def test_update_policy_is_only_for_policy_proposals():
    with pytest.raises(InvalidInput):
        check(Kind.STAKEHOLDER, SHG, [{"updatePolicy": {"quorumPercent": 30}}])
    check(Kind.POLICY, SHG, [{"updatePolicy": {"quorumPercent": 30}}])


def test_an_update_policy_with_an_invalid_value_is_invalid_input():
    with pytest.raises(InvalidInput) as err:
        check(Kind.POLICY, SHG, [{"updatePolicy": {"vetoThresholdPercent": 0}}])
    assert err.value.field == "actions[0].updatePolicy.vetoThresholdPercent"


def test_an_unknown_module_key_is_invalid_input():
    with pytest.raises(InvalidInput):
        parse_actions([{"updatePolicy": {"modules": [{"key": "NOPE", "rule": "CONSENT"}]}}])


def test_a_changed_cycle_length_counts_cycles_from_the_new_anchor():
    # cycles 0-4 kept their old length; cycle 5 starts at +1000 s and each lasts 50 s from there
    org = replace(
        ORG, cycle_anchor_index=5, cycle_anchor_at=NOW + timedelta(seconds=1000), cycle_length_seconds=50
    )
    assert org.cycle_has_started(4, NOW)
    assert not org.cycle_has_started(5, NOW)
    assert org.cycle_has_started(6, NOW + timedelta(seconds=1050))
