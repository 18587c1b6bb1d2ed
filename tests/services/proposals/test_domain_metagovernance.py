"""The pure rules of metagovernance: scoped variants and the most specific module, versions across
variants, experiment specs and ends, measuring, appeals' thresholds, milestones and polls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kit import Conflict, Forbidden, InvalidInput, VotingClosed
from services.proposals.domain import (
    BodyKind,
    BodyView,
    Kind,
    Layer,
    OrganizationView,
    Policy,
    PolicySettings,
    PolicyUpdate,
    ProposalRecord,
    Scope,
    experiment_end,
    measure,
)
from services.proposals.domain.experiments import parse_experiment, parse_renewal
from services.proposals.domain.milestones import MilestoneGraph, MilestoneStatus
from services.proposals.domain.polls import Poll

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SHG, TLC, CELL, SUB, OTHER = (uuid.UUID(int=i) for i in (1, 2, 3, 4, 5))
ORG = OrganizationView(
    id=uuid.UUID(int=100),
    slug="acme",
    stakeholder_group_id=SHG,
    top_level_cell_id=TLC,
    cycle_anchor_at=T0,
    cycle_length_seconds=100,
    bodies={
        SHG: BodyView(SHG, BodyKind.STAKEHOLDER_GROUP, None, False),
        TLC: BodyView(TLC, BodyKind.CELL, None, True),
        CELL: BodyView(CELL, BodyKind.CELL, TLC, False),
        SUB: BodyView(SUB, BodyKind.CELL, CELL, False),
        OTHER: BodyView(OTHER, BodyKind.CELL, TLC, False),
    },
)
EXP_A, EXP_B = uuid.UUID(int=201), uuid.UUID(int=202)


def cell_module(policy: Policy, body: uuid.UUID):
    return policy.module_for(Kind.OPERATIONAL, Scope.CELL, ORG.lineage(body))


def layer(experiment: uuid.UUID, bodies: tuple, seconds: int) -> Layer:
    return Layer(experiment, bodies, {"OPERATIONAL:CELL": {"votingPeriodSeconds": seconds}})


def test_a_variant_applies_to_its_body_and_sub_cells_but_not_to_others():
    policy = Policy.create(PolicySettings())
    policy.add_layer(layer(EXP_A, (CELL,), 60))
    assert cell_module(policy, CELL).voting_period_seconds == 60
    assert cell_module(policy, SUB).voting_period_seconds == 60
    assert cell_module(policy, OTHER).voting_period_seconds == PolicySettings().voting_period_seconds


def test_the_most_specific_variant_wins():
    policy = Policy.create(PolicySettings())
    policy.add_layer(layer(EXP_A, (SUB,), 30))
    policy.add_layer(layer(EXP_B, (CELL,), 60))
    assert cell_module(policy, SUB).experiment_id == EXP_A
    assert cell_module(policy, CELL).experiment_id == EXP_B


def test_versions_count_across_a_module_and_its_variants():
    policy = Policy.create(PolicySettings())
    [started] = policy.add_layer(layer(EXP_A, (CELL,), 60))
    assert (started.version, started.scope) == (2, (CELL,))
    assert policy.modules["OPERATIONAL:CELL"].version == 1
    [returned] = policy.remove_layer(EXP_A)
    assert (returned.version, returned.scope, returned.experiment_id) == (3, (CELL,), None)
    assert policy.diffs[("OPERATIONAL:CELL", 3)]["votingPeriodSeconds"] == {
        "from": 60,
        "to": PolicySettings().voting_period_seconds,
    }
    assert policy.variants == {}


def test_an_organisation_wide_layer_changes_the_module_until_removed():
    policy = Policy.create(PolicySettings())
    policy.add_layer(layer(EXP_A, (), 60))
    assert policy.modules["OPERATIONAL:CELL"].voting_period_seconds == 60
    policy.remove_layer(EXP_A)
    assert policy.modules["OPERATIONAL:CELL"].voting_period_seconds == PolicySettings().voting_period_seconds
    assert policy.modules["OPERATIONAL:CELL"].version == 3


def test_a_lasting_change_also_reshapes_the_running_variants():
    policy = Policy.create(PolicySettings())
    policy.add_layer(Layer(EXP_A, (CELL,), {"OPERATIONAL:CELL": {"quorumPercent": 10}}))
    changed = policy.apply(PolicyUpdate({"votingPeriodSeconds": 500}))
    assert {(m.key, m.scope) for m in changed} >= {("OPERATIONAL:CELL", ()), ("OPERATIONAL:CELL", (CELL,))}
    assert cell_module(policy, CELL).voting_period_seconds == 500
    assert cell_module(policy, CELL).rule.quorum_percent == 10


def test_the_appeal_threshold_defaults_to_twice_the_veto_threshold_and_never_below_it():
    review = Policy.create(PolicySettings(veto_threshold_percent=30)).modules["BUDGET:TOP_LEVEL_CELL"].review
    assert review is not None
    assert review.appeal_veto_threshold_percent == 60
    high = Policy.create(PolicySettings(veto_threshold_percent=70)).modules["BUDGET:TOP_LEVEL_CELL"].review
    assert high is not None
    assert high.appeal_veto_threshold_percent == 100
    policy = Policy.create(PolicySettings(veto_threshold_percent=40))
    policy.apply(PolicyUpdate(modules=({"key": "BUDGET:TOP_LEVEL_CELL", "appealVetoThresholdPercent": 10},)))
    assert policy.modules["BUDGET:TOP_LEVEL_CELL"].review.appeal_veto_threshold_percent == 40


def test_an_experiment_spec_needs_a_hypothesis_a_measure_and_one_end():
    good = {"hypothesis": "h", "successMeasures": ["m"], "cycles": 2}
    assert parse_experiment(good, "x")["cycles"] == 2
    for bad in (
        {**good, "hypothesis": " "},
        {**good, "successMeasures": []},
        {**good, "endsAt": "2030-02-01T00:00:00Z"},
        {"hypothesis": "h", "successMeasures": ["m"]},
        {**good, "cycles": 0},
    ):
        with pytest.raises(InvalidInput):
            parse_experiment(bad, "x")


def test_a_renewal_is_a_new_end_or_permanent():
    eid = str(uuid.uuid4())
    assert parse_renewal({"experimentId": eid, "permanent": True}, "x")["permanent"] is True
    with pytest.raises(InvalidInput):
        parse_renewal({"experimentId": eid}, "x")


def test_a_run_of_n_cycles_ends_at_a_cycle_boundary_after_n_whole_cycles():
    now = T0 + timedelta(seconds=250)  # in cycle 2
    assert experiment_end({"cycles": 1}, ORG, now) == T0 + timedelta(seconds=400)
    assert experiment_end({"endsAt": "2030-05-01T00:00:00Z"}, ORG, now) == datetime(2030, 5, 1, tzinfo=UTC)


def test_measuring_counts_decisions_blocks_time_and_participation():
    def record(status: str, decided_after: int | None, part: str | None) -> ProposalRecord:
        history = [("VOTING", T0)]
        if decided_after is not None:
            history.append((status, T0 + timedelta(seconds=decided_after)))
        return ProposalRecord(
            status, T0, history, Decimal(part) if part else None, Decimal(4) if part else None
        )

    figures = measure(
        [record("ENACTED", 100, "4"), record("BLOCKED", 300, "2"), record("VOTING", None, None)]
    )
    assert figures == {
        "proposalsRaised": 3,
        "proposalsDecided": 2,
        "proposalsPassed": 1,
        "proposalsBlocked": 1,
        "proposalsOpen": 1,
        "averageTimeToDecisionSeconds": 200.0,
        "participationPercent": 75.0,
    }


def test_measuring_nothing_gives_no_averages():
    assert measure([])["averageTimeToDecisionSeconds"] is None


# --- milestones -------------------------------------------------------------------------------------


def graph_with(*specs: tuple[str, str, list]) -> tuple[MilestoneGraph, dict[str, uuid.UUID]]:
    graph, ids = MilestoneGraph(), {}
    for name, phase, deps in specs:
        ids[name] = uuid.uuid4()
        graph.add(
            id=ids[name],
            phase=phase,
            title=name,
            description="",
            depends_on=[str(ids[d]) for d in deps],
            module_keys=["POLICY:STAKEHOLDER_GROUP"],
            proposal_ids=[],
            created_by="0x" + "1" * 40,
            now=T0,
        )
    return graph, ids


def test_a_cycle_of_milestones_is_refused_and_leaves_the_graph_unchanged():
    graph, ids = graph_with(("a", "A", []), ("b", "A", ["a"]), ("c", "B", ["b"]))
    with pytest.raises(InvalidInput):
        graph.link(ids["a"], depends_on=[str(ids["c"])])
    assert graph.milestones[ids["a"]].depends_on == []


def test_a_milestone_waits_for_its_dependencies():
    graph, ids = graph_with(("a", "A", []), ("b", "B", ["a"]))
    done = {ids["b"]: frozenset({"POLICY:STAKEHOLDER_GROUP"})}
    assert graph.status(ids["b"], {}, done) is MilestoneStatus.WAITING
    graph.complete_what_is_done({}, {**done, ids["a"]: frozenset({"POLICY:STAKEHOLDER_GROUP"})}, T0)
    assert graph.current_phase() == ("B", True)


def test_the_current_phase_is_the_first_with_work_left():
    graph, _ = graph_with(("a", "A", []), ("b", "B", ["a"]))
    assert graph.current_phase() == ("A", False)
    assert MilestoneGraph().current_phase() == (None, False)


# --- polls ------------------------------------------------------------------------------------------


def poll(**kwargs) -> Poll:
    values = {
        "id": uuid.uuid4(),
        "organization_id": ORG.id,
        "organization_slug": "acme",
        "body_id": None,
        "question": "Which?",
        "options": ["a", "b"],
        "multiple": False,
        "closes_at": T0 + timedelta(hours=1),
        "created_by": "0x" + "1" * 40,
        "proposal_id": None,
        "now": T0,
    } | kwargs
    return Poll.create(**values)


def test_a_changed_answer_moves_its_count():
    p = poll()
    p.answer(eligible=True, choices=[0], previous=None, now=T0)
    p.answer(eligible=True, choices=[1], previous=[0], now=T0)
    assert (p.counts, p.voter_count) == ([0, 1], 1)


def test_a_poll_refuses_late_answers_outsiders_and_bad_choices():
    p = poll()
    with pytest.raises(Forbidden):
        p.answer(eligible=False, choices=[0], previous=None, now=T0)
    with pytest.raises(InvalidInput):
        p.answer(eligible=True, choices=[2], previous=None, now=T0)
    with pytest.raises(VotingClosed):
        p.answer(eligible=True, choices=[0], previous=None, now=T0 + timedelta(hours=2))


def test_a_poll_needs_two_distinct_options_and_a_future_close():
    with pytest.raises(InvalidInput):
        poll(options=["a"])
    with pytest.raises(InvalidInput):
        poll(options=["a", "a"])
    with pytest.raises(InvalidInput):
        poll(closes_at=T0)


def test_a_poll_is_linked_once():
    p = poll()
    p.link(proposal_id=uuid.UUID(int=9), actor=p.created_by, now=T0)
    with pytest.raises(Conflict):
        p.link(proposal_id=uuid.UUID(int=10), actor=p.created_by, now=T0)
