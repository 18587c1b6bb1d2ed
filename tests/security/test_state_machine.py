"""The governance state machine fuzzed through the gateway (hypothesis, stateful): random members making
random proposals, votes, cancellations, concerns, objections, commitments and exits, with arbitrary text.

After every step: no 5xx, no GraphQL-level error, no INTERNAL or UNAVAILABLE answer; a refused step changed
nothing in any database. At the end of each run every proposal is in a status DOMAIN.md names and its
tally never counts more than the eligible weight.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.e2e.harness import OPERATIONS, Wallet
from tests.faults.figures import report
from tests.security.support import Fingerprint, Gql, Tally, Target, changed
from tests.security.test_fuzzing import Background

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(240)]

SUITE = "state_machine"
STATUSES = {
    "VOTING",
    "DEFEATED",
    "EXPIRED",
    "IN_REVIEW",
    "BLOCKED",
    "QUEUED",
    "ENACTED",
    "FAILED",
    "CANCELLED",
}
# 0-2 stakeholders, 3-5 the TLC core team, 6 an outsider, 7 anonymous (members drawn more often)
ACTORS = st.sampled_from([0, 0, 1, 2, 3, 3, 4, 5, 6, 7])
# ordinary text twice as often as hostile text, so that most steps get past validation
TEXT = (
    st.text(min_size=1, max_size=40)
    | st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
    | st.sampled_from(["", " ", "x" * 250, "\u0000", "\ud800", "é" * 100, "'; DROP TABLE votes; --"])
)
KINDS = st.sampled_from(["OPERATIONAL", "BUDGET", "STAKEHOLDER", "COMMUNITY", "POLICY", "CELL_STATE"])
WITHDRAW = "mutation($p: ID!) { withdrawObjection(proposalId: $p) { userErrors { code } } }"


class Governance(RuleBasedStateMachine):
    target: ClassVar[Target]
    background: ClassVar[Background]
    fingerprint: ClassVar[Fingerprint]
    wallets: ClassVar[list[Wallet]]
    http: ClassVar[httpx.Client]
    figures: ClassVar[dict[str, int]]

    def __init__(self) -> None:
        super().__init__()
        self.proposals: list[str] = []
        self.slug = ""
        self.bodies: dict[str, str] = {}

    # --- plumbing ---------------------------------------------------------------------------------

    def send(self, query: str, variables: dict[str, Any], who: int | None) -> dict[str, Any]:
        wallet = self.wallets[who] if who is not None and who < len(self.wallets) else None
        headers = {"Authorization": f"Bearer {wallet.token}"} if wallet else {}
        # ASCII-escaped JSON, so text a UTF-8 encoder would reject (a lone surrogate) still reaches the server
        body = json.dumps({"query": query, "variables": variables})
        r = self.http.post(
            self.target.graphql_url, content=body, headers={**headers, "content-type": "application/json"}
        )
        self.target.responses.append(r.text)
        assert r.status_code == 200, r.text[:300]
        return r.json()

    def step(self, query: str, variables: dict[str, Any], who: int) -> str | None:
        """One mutation; answers its user error code (None if accepted) after checking the rules."""
        before = self.background.run(self.fingerprint.take())
        doc = self.send(query, variables, who)
        assert not doc.get("errors"), doc
        payload = next(iter(doc["data"].values()))
        errors = payload.get("userErrors") or []
        code = errors[0]["code"] if errors else None
        self.figures["steps"] += 1
        assert code not in ("INTERNAL", "UNAVAILABLE"), doc
        if code is None:
            self.figures["accepted"] += 1
            self.background.run(self.fingerprint.settled())
            return None
        unchanged = changed(before, self.background.run(self.fingerprint.take())) == []
        Governance.tally.record(SUITE, unchanged)
        assert unchanged, f"refused with {code} but changed the state: {variables}"
        return code

    # --- rules ------------------------------------------------------------------------------------

    @initialize()
    def found(self) -> None:
        self.slug = f"sm-{uuid.uuid4().hex[:10]}"
        shg, tlc = self.wallets[0:3], self.wallets[3:6]
        doc = self.send(
            OPERATIONS["CreateOrganization"],
            {
                "input": {
                    "slug": self.slug,
                    "name": "Machine",
                    "purpose": "p",
                    "stakeholders": [{"address": w.address} for w in shg],
                    "topLevelCell": {
                        "name": "TLC",
                        "purpose": "p",
                        "coreTeam": [{"address": w.address} for w in tlc],
                    },
                    "policy": {
                        "votingPeriodSeconds": 3600,
                        "reviewPeriodSeconds": 3600,
                        "communityProposals": True,
                    },
                }
            },
            0,
        )
        org = doc["data"]["createOrganization"]["organization"]
        self.bodies = {"TLC": org["topLevelCell"]["id"], "SHG": org["stakeholderGroup"]["id"]}
        self.background.run(self.fingerprint.settled())

    @rule(who=ACTORS, kind=KINDS, elsewhere=st.integers(0, 9), title=TEXT, description=TEXT)
    def propose(self, who: int, kind: str, elsewhere: int, title: str, description: str) -> None:
        # mostly raised where the kind belongs, sometimes in the other house
        in_shg = (kind in ("STAKEHOLDER", "COMMUNITY", "POLICY")) != (elsewhere == 0)
        body = self.bodies["SHG" if in_shg else "TLC"]
        actions = []
        if kind == "CELL_STATE":
            actions = [
                {
                    "setCellState": {
                        "cellId": body,
                        "purpose": title,
                        "strategy": "s",
                        "agreements": [description],
                    }
                }
            ]
        elif kind == "POLICY":
            actions = [{"updatePolicy": {"quorumPercent": 30}}]
        variables = {
            "input": {
                "bodyId": body,
                "kind": kind,
                "title": title,
                "description": description,
                "actions": actions,
            }
        }
        before = len(self.proposals)
        if self.step(OPERATIONS["CreateProposal"], variables, who) is None:
            listing = self.send(OPERATIONS["Proposals"], {"organization": self.slug, "first": 100}, None)
            ids = [e["node"]["id"] for e in listing["data"]["proposals"]["edges"]]
            self.proposals = sorted(set(ids), key=ids.index)
            assert len(self.proposals) == before + 1

    @precondition(lambda self: self.proposals)
    @rule(
        who=ACTORS,
        pick=st.integers(0, 100),
        choice=st.sampled_from(["FOR", "AGAINST", "ABSTAIN"]),
        reason=TEXT,
    )
    def vote(self, who: int, pick: int, choice: str, reason: str) -> None:
        p = self.proposals[pick % len(self.proposals)]
        self.step(OPERATIONS["CastVote"], {"proposalId": p, "choice": choice, "reason": reason}, who)

    @precondition(lambda self: self.proposals)
    @rule(who=ACTORS, pick=st.integers(0, 100))
    def cancel(self, who: int, pick: int) -> None:
        self.step(
            OPERATIONS["CancelProposal"], {"proposalId": self.proposals[pick % len(self.proposals)]}, who
        )

    @precondition(lambda self: self.proposals)
    @rule(who=ACTORS, pick=st.integers(0, 100), reason=TEXT)
    def concern(self, who: int, pick: int, reason: str) -> None:
        p = self.proposals[pick % len(self.proposals)]
        self.step(OPERATIONS["RaiseConcern"], {"proposalId": p, "reason": reason}, who)

    @precondition(lambda self: self.proposals)
    @rule(who=ACTORS, pick=st.integers(0, 100), withdraw=st.booleans())
    def object(self, who: int, pick: int, withdraw: bool) -> None:
        p = self.proposals[pick % len(self.proposals)]
        if withdraw:
            self.step(WITHDRAW, {"p": p}, who)
        else:
            self.step(OPERATIONS["ObjectToProposal"], {"proposalId": p, "reason": "no"}, who)

    @rule(
        who=ACTORS,
        cycle=st.integers(-3, 5) | st.sampled_from([2**31 - 1, -(2**31)]),
        amount=st.sampled_from(
            ["1", "0", "-1", "0.000000000000000001", "1e3", "1E+2", "99999999999999999999999999"]
        )
        | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    )
    def commit(self, who: int, cycle: int, amount: str) -> None:
        self.step(
            OPERATIONS["CommitFunds"], {"organization": self.slug, "cycle": cycle, "amount": amount}, who
        )

    @rule(who=ACTORS, body=st.sampled_from(["TLC", "SHG", "nowhere"]))
    def leave(self, who: int, body: str) -> None:
        self.step(OPERATIONS["LeaveBody"], {"bodyId": self.bodies.get(body, str(uuid.uuid4()))}, who)

    @invariant()
    def proposals_are_in_a_named_status_and_never_count_too_much(self) -> None:
        if not self.proposals or self.figures["steps"] % 4:
            return  # every fourth step: a read per proposal is the costliest part of a run
        for p in self.proposals:
            proposal = self.send(OPERATIONS["Proposal"], {"id": p}, None)["data"]["proposal"]
            assert proposal["status"] in STATUSES
            tally = proposal["tally"]
            counted = Decimal(tally["for"]) + Decimal(tally["against"]) + Decimal(tally["abstain"])
            assert counted <= Decimal(tally["eligible"]), tally


@pytest.fixture(scope="module")
async def machine_wallets(target: Target) -> list[Wallet]:
    gql = Gql(target)
    try:
        return [await gql.sign_in(Wallet.create(f"w{i}")) for i in range(7)]
    finally:
        await gql.close()


def test_random_governance_never_fails_and_a_refusal_never_changes_state(
    target: Target, machine_wallets: list[Wallet], tally: Tally
):
    background = Background()
    http = httpx.Client(timeout=20)
    Governance.target, Governance.background, Governance.wallets, Governance.http = (
        target,
        background,
        machine_wallets,
        http,
    )
    Governance.tally = tally
    Governance.figures = {"steps": 0, "accepted": 0}
    Governance.fingerprint = background.run(Fingerprint(target).open())
    try:
        run_state_machine_as_test(
            Governance,
            settings=settings(
                max_examples=4,
                stateful_step_count=20,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        background.run(Governance.fingerprint.close())
        background.close()
        http.close()
    report("security.state_machine", **Governance.figures, **tally.figures(SUITE))
    assert Governance.figures["steps"] >= 20
    assert tally.figures(SUITE)["tried"] == tally.figures(SUITE)["refused_cleanly"]
