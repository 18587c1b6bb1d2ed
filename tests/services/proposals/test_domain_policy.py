"""Decision modules: the defaults reproduce DOMAIN.md's kinds table; eligibility for every kind × role;
policy updates version only what changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from kit import InvalidInput
from services.proposals.domain import (
    ActorRoles,
    BodyKind,
    BodyView,
    Decider,
    DecisionModule,
    Kind,
    Next,
    OrganizationView,
    Policy,
    PolicySettings,
    PolicyUpdate,
    Role,
    RuleType,
    Scope,
    may_propose,
)

SHG, TLC, CELL, OTHER_CELL = (uuid.UUID(int=i) for i in (1, 2, 3, 4))
ORG = OrganizationView(
    id=uuid.UUID(int=100),
    slug="acme",
    stakeholder_group_id=SHG,
    top_level_cell_id=TLC,
    cycle_anchor_at=datetime(2030, 1, 1, tzinfo=UTC),
    cycle_length_seconds=100,
    bodies={
        SHG: BodyView(SHG, BodyKind.STAKEHOLDER_GROUP, None, False),
        TLC: BodyView(TLC, BodyKind.CELL, None, True),
        CELL: BodyView(CELL, BodyKind.CELL, TLC, False),
        OTHER_CELL: BodyView(OTHER_CELL, BodyKind.CELL, TLC, False),
    },
)
ROLES = {
    "stakeholder": {SHG: Role.STAKEHOLDER},
    "tlc_core": {TLC: Role.CORE_TEAM},
    "tlc_contributor": {TLC: Role.CONTRIBUTOR},
    "cell_core": {CELL: Role.CORE_TEAM},
    "cell_contributor": {CELL: Role.CONTRIBUTOR},
    "other_cell_core": {OTHER_CELL: Role.CORE_TEAM},
    "outsider": {},
}
OPERATIONAL_MEMBERS = {"tlc_core", "tlc_contributor", "cell_core", "cell_contributor", "other_cell_core"}
# (kind, raised in) → the roles that may propose it
ELIGIBLE = {
    (Kind.OPERATIONAL, CELL): {"cell_core"},
    (Kind.OPERATIONAL, TLC): OPERATIONAL_MEMBERS,
    (Kind.BUDGET, TLC): OPERATIONAL_MEMBERS,
    (Kind.CELL_STATE, TLC): {"tlc_core"},
    (Kind.CELL_STATE, CELL): {"cell_core"},
    (Kind.STAKEHOLDER, SHG): {"stakeholder"},
    (Kind.COMMUNITY, SHG): set(ROLES),
    (Kind.POLICY, SHG): {"stakeholder", "tlc_core"},
    (Kind.POLICY, TLC): {"stakeholder", "tlc_core"},
}


def module_for(kind: Kind, body_id: uuid.UUID, **settings) -> DecisionModule:
    policy = Policy.create(PolicySettings(**{"community_proposals": True, **settings}))
    return policy.module_for(kind, ORG.scope_of(ORG.bodies[body_id]))


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize(
    ("kind", "body"), list(ELIGIBLE), ids=lambda v: str(v)[-4:] if isinstance(v, uuid.UUID) else v
)
def test_who_may_propose_each_kind(kind, body, role):
    module = module_for(kind, body)
    actor = ActorRoles("0x" + "1" * 40, ROLES[role])
    assert may_propose(module.proposers, actor, ORG, ORG.bodies[body]) is (role in ELIGIBLE[(kind, body)])


@pytest.mark.parametrize(
    ("kind", "body", "decider", "next_step"),
    [
        (Kind.OPERATIONAL, CELL, Decider.RAISING_CELL, Next.ENACT),
        (Kind.OPERATIONAL, TLC, Decider.RAISING_CELL, Next.REVIEW),
        (Kind.BUDGET, TLC, Decider.RAISING_CELL, Next.REVIEW),
        (Kind.CELL_STATE, TLC, Decider.STAKEHOLDER_GROUP, Next.ENACT),
        (Kind.CELL_STATE, CELL, Decider.RAISING_CELL, Next.ENACT),
        (Kind.STAKEHOLDER, SHG, Decider.STAKEHOLDER_GROUP, Next.ENACT),
        (Kind.COMMUNITY, SHG, Decider.STAKEHOLDER_GROUP, Next.ENACT),
        (Kind.POLICY, SHG, Decider.STAKEHOLDER_GROUP, Next.DELAY),
    ],
)
def test_default_modules_follow_the_kinds_table(kind, body, decider, next_step):
    module = module_for(kind, body)
    assert (module.decider, module.next_after_passing) == (decider, next_step)


def test_the_settings_parameterise_the_modules():
    settings = {
        "voting_period_seconds": 11,
        "review_period_seconds": 22,
        "veto_threshold_percent": 40,
        "concern_extension_seconds": 33,
        "quorum_percent": 35,
        "policy_delay_seconds": 44,
    }
    tlc = module_for(Kind.BUDGET, TLC, **settings)
    assert tlc.voting_period_seconds == 11
    assert (
        tlc.review.window_seconds,
        tlc.review.veto_threshold_percent,
        tlc.review.concern_extension_seconds,
    ) == (
        22,
        40,
        33,
    )
    shg = module_for(Kind.STAKEHOLDER, SHG, **settings)
    assert (shg.rule.type, shg.rule.quorum_percent) == (RuleType.MAJORITY, 35)
    assert module_for(Kind.POLICY, SHG, **settings).delay_seconds == 44


def test_community_proposals_are_refused_unless_enabled():
    policy = Policy.create(PolicySettings(community_proposals=False))
    with pytest.raises(InvalidInput):
        policy.module_for(Kind.COMMUNITY, Scope.STAKEHOLDER_GROUP)


@pytest.mark.parametrize(
    ("kind", "scope"),
    [
        (Kind.BUDGET, Scope.CELL),
        (Kind.STAKEHOLDER, Scope.TOP_LEVEL_CELL),
        (Kind.OPERATIONAL, Scope.STAKEHOLDER_GROUP),
    ],
)
def test_a_kind_raised_in_the_wrong_body_is_invalid_input(kind, scope):
    with pytest.raises(InvalidInput) as err:
        Policy.create(PolicySettings()).module_for(kind, scope)
    assert err.value.field == "bodyId"


def test_an_update_versions_only_the_modules_it_changes():
    policy = Policy.create(PolicySettings())
    changed = policy.apply(PolicyUpdate({"reviewPeriodSeconds": 1000}))
    assert {m.key for m in changed} == {"OPERATIONAL:TOP_LEVEL_CELL", "BUDGET:TOP_LEVEL_CELL"}
    assert all(m.version == 2 for m in changed)
    assert policy.modules["OPERATIONAL:CELL"].version == 1
    assert policy.settings.review_period_seconds == 1000


def test_applying_the_same_update_twice_changes_nothing_the_second_time():
    policy = Policy.create(PolicySettings())
    update = PolicyUpdate({"quorumPercent": 45})
    assert policy.apply(update)
    assert policy.apply(update) == []


def test_a_module_override_changes_the_rule_of_one_module():
    policy = Policy.create(PolicySettings())
    changed = policy.apply(
        PolicyUpdate(modules=({"key": "OPERATIONAL:CELL", "rule": "CONSENT", "quorumPercent": 0},))
    )
    assert [m.key for m in changed] == ["OPERATIONAL:CELL"]
    assert policy.modules["OPERATIONAL:CELL"].rule.type is RuleType.CONSENT
    # a later settings change keeps the override
    policy.apply(PolicyUpdate({"votingPeriodSeconds": 50}))
    assert policy.modules["OPERATIONAL:CELL"].rule.type is RuleType.CONSENT
    assert policy.modules["OPERATIONAL:CELL"].version == 3


def test_an_invalid_setting_is_refused():
    with pytest.raises(InvalidInput) as err:
        PolicySettings().merged({"quorumPercent": 101})
    assert err.value.field == "updatePolicy.quorumPercent"


def test_a_module_round_trips_through_its_stored_form():
    for module in Policy.create(PolicySettings()).modules.values():
        assert DecisionModule.from_dict(module.to_dict()) == module


def test_settings_from_an_event_ignore_unknown_keys_and_fill_defaults():
    settings = PolicySettings.from_dict({"quorumPercent": 30, "somethingNew": 1, "votingPeriodSeconds": -5})
    assert settings.quorum_percent == 30
    assert settings.voting_period_seconds == PolicySettings().voting_period_seconds
