"""Every mutation × every kind of caller, against the rules of DOMAIN.md, generated from one table.

Callers: anonymous, an outsider (signed in, member of nothing), a contributor of a cell, the core team of
another cell (a cell below the TLC), the TLC core team, a stakeholder, and a stakeholder who has exited.
The shared targets (proposals in voting, a review, and for metagovernance a poll, a milestone, two
commissions, a draft awaiting a commission's feedback, an ended experiment, blocked proposals to appeal and
webhooks) are made before the exit, so the exited stakeholder is in their snapshots and is refused for
having left, not for being unknown.

Each cell of the table runs as one test. A refusal must carry the expected code and change nothing in any
service's database; an allowed call must succeed. Cells that use up their target (cancelling, leaving)
run last, refusals before the allowed caller in each row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from graphql import build_ast_schema, parse

from kit.testing import eventually
from tests.e2e.harness import Wallet
from tests.faults.figures import report
from tests.security.support import Fingerprint, Gql, Target, changed, user_error_code

pytestmark = [pytest.mark.e2e, pytest.mark.security]

ROLES = ("anonymous", "outsider", "contributor", "other_cell_core", "tlc_core", "stakeholder", "exited")
OK = "OK"
U, F, N, X = "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "ALREADY_EXITED"

POLICY = {
    "votingPeriodSeconds": 600,
    "reviewPeriodSeconds": 5,
    # the first concern keeps the shared review open for the rest of the suite
    "concernExtensionSeconds": 1800,
    # no single objection blocks the shared review
    "vetoThresholdPercent": 100,
    "quorumPercent": 20,
    "cycleLengthSeconds": 3600,
    "communityProposals": True,
    "policyDelaySeconds": 0,
}
SEATS = "OPEN"  # the seat group that seating and drawing fill
HOOK = "https://1.1.1.1/matrix"  # a public address, so registering needs no lookup
QUIET = "matrix.none"  # a subject filter no event matches: the webhooks never deliver, nothing changes later


@dataclass
class World:
    slug: str
    shg_id: str
    tlc_id: str
    cell_id: str
    roles: dict[str, Wallet | None]
    targets: dict[str, str]


def proposal_input(body: str, kind: str, actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "input": {
            "bodyId": body,
            "kind": kind,
            "title": f"{kind} {uuid.uuid4().hex[:6]}",
            "description": "matrix",
            "actions": actions or [],
        }
    }


def cell_state(cell: str) -> list[dict[str, Any]]:
    return [{"setCellState": {"cellId": cell, "purpose": "p", "strategy": "s", "agreements": ["a"]}}]


def new_org(w: World, role: str) -> dict[str, Any]:
    founder = w.roles[role]
    address = founder.address if founder else Wallet.create().address
    slug = f"m-{uuid.uuid4().hex[:10]}"
    return {
        "input": {
            "slug": slug,
            "name": "Another",
            "purpose": "p",
            "stakeholders": [{"address": address}],
            "topLevelCell": {"name": "TLC", "purpose": "p", "coreTeam": [{"address": address}]},
        }
    }


# The table: (row name, operation, variables for a world and a caller, expected per role in ROLES order).
# DOMAIN.md: "who may propose" per kind; voters are the deciding body's core team or the SHG, and an exited
# member can no longer vote or object; only the proposer cancels; any member may leave any body.
# Metagovernance (DOMAIN.md and docs/internal-api.md): polls are opened and answered by the organisation's
# members and linked by their maker; milestones and retrospectives belong to who may propose POLICY;
# commissions are set up and seated by the TLC core team and stakeholders, and only their members give
# feedback; an appeal is open to who may propose the blocked proposal again; an organisation's webhooks are
# managed by its stakeholders and TLC core team, and anyone else's webhook is not found for them.
Row = tuple[str, str, Callable[[World, str], dict[str, Any]], tuple[str, ...]]
TABLE: list[Row] = [
    ("sign-in challenge", "SignInChallenge", lambda w, r: {"address": _addr(w, r)}, (OK,) * 7),
    ("sign in", "SignIn", lambda w, r: {}, (OK,) * 7),
    ("found an organisation", "CreateOrganization", new_org, (U, OK, OK, OK, OK, OK, OK)),
    (
        "commit funds",
        "CommitFunds",
        lambda w, r: {"organization": w.slug, "cycle": 0, "amount": "10"},
        (U, F, F, F, F, OK, F),
    ),
    (
        "propose OPERATIONAL at the TLC",
        "CreateProposal",
        lambda w, r: proposal_input(w.tlc_id, "OPERATIONAL"),
        (U, F, OK, OK, OK, F, F),
    ),
    (
        "propose BUDGET at the TLC",
        "CreateProposal",
        lambda w, r: proposal_input(w.tlc_id, "BUDGET"),
        (U, F, OK, OK, OK, F, F),
    ),
    (
        "propose OPERATIONAL at a cell",
        "CreateProposal",
        lambda w, r: proposal_input(w.cell_id, "OPERATIONAL"),
        (U, F, F, OK, F, F, F),
    ),
    (
        "propose CELL_STATE for the TLC",
        "CreateProposal",
        lambda w, r: proposal_input(w.tlc_id, "CELL_STATE", cell_state(w.tlc_id)),
        (U, F, F, F, OK, F, F),
    ),
    (
        "propose CELL_STATE for a cell",
        "CreateProposal",
        lambda w, r: proposal_input(w.cell_id, "CELL_STATE", cell_state(w.cell_id)),
        (U, F, F, OK, F, F, F),
    ),
    (
        "propose STAKEHOLDER",
        "CreateProposal",
        lambda w, r: proposal_input(w.shg_id, "STAKEHOLDER"),
        (U, F, F, F, F, OK, F),
    ),
    (
        "propose COMMUNITY (enabled)",
        "CreateProposal",
        lambda w, r: proposal_input(w.shg_id, "COMMUNITY"),
        (U, OK, OK, OK, OK, OK, OK),
    ),
    (
        "propose POLICY",
        "CreateProposal",
        lambda w, r: proposal_input(w.shg_id, "POLICY", [{"updatePolicy": {"quorumPercent": 25}}]),
        (U, F, F, F, OK, OK, F),
    ),
    (
        "vote on a TLC proposal",
        "CastVote",
        lambda w, r: {"proposalId": w.targets["tlc_vote"], "choice": "FOR"},
        (U, F, F, F, OK, F, F),
    ),
    (
        "vote on a cell proposal",
        "CastVote",
        lambda w, r: {"proposalId": w.targets["cell_vote"], "choice": "FOR"},
        (U, F, F, OK, F, F, F),
    ),
    (
        "vote on an SHG proposal",
        "CastVote",
        lambda w, r: {"proposalId": w.targets["shg_vote"], "choice": "AGAINST"},
        (U, F, F, F, F, OK, F),
    ),
    (
        "raise a concern in review",
        "RaiseConcern",
        lambda w, r: {"proposalId": w.targets["review"], "reason": "why?"},
        (U, F, F, F, F, OK, F),
    ),
    (
        "object in review",
        "ObjectToProposal",
        lambda w, r: {"proposalId": w.targets["review"], "reason": "no"},
        (U, F, F, F, F, OK, F),
    ),
    (
        "withdraw an objection",
        "WithdrawObjection",
        lambda w, r: {"proposalId": w.targets["review"]},
        (U, F, F, F, F, OK, F),
    ),
    (
        "open a poll",
        "CreatePoll",
        lambda w, r: {
            "input": {
                "organization": w.slug,
                "question": "Which first?",
                "options": ["a", "b"],
                "closesAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            }
        },
        (U, F, OK, OK, OK, OK, F),
    ),
    (
        "answer a poll",
        "AnswerPoll",
        lambda w, r: {"pollId": w.targets["poll"], "choices": [0]},
        (U, F, OK, OK, OK, OK, F),
    ),
    (
        "link the stakeholder's poll",
        "LinkPoll",
        lambda w, r: {"pollId": w.targets["poll"], "proposalId": w.targets["shg_vote"]},
        (U, F, F, F, F, OK, F),
    ),
    (
        "set a milestone",
        "CreateMilestone",
        lambda w, r: {"input": {"organization": w.slug, "phase": "A", "title": f"m {r}"}},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "link a milestone",
        "LinkMilestone",
        lambda w, r: {"milestoneId": w.targets["milestone"], "input": {"moduleKeys": ["OPERATIONAL:CELL"]}},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "write a retrospective",
        "WriteRetrospective",
        lambda w, r: {"experimentId": w.targets["experiment"], "text": f"learned by {r}"},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "set up a commission",
        "CreateCommission",
        lambda w, r: {
            "input": {
                "organization": w.slug,
                "name": "Feedback",
                "purpose": "p",
                "seats": [{"group": "SHG", "seats": 1}],
                "selection": "APPOINTED",
            }
        },
        (U, F, F, F, OK, OK, F),
    ),
    (
        "seat a commissioner",
        "SeatCommissioner",
        lambda w, r: {"commissionId": w.targets["seats"], "seat": {"address": _fresh(), "group": SEATS}},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "draw commissioners",
        "DrawCommissioners",
        lambda w, r: {"commissionId": w.targets["seats"], "group": SEATS, "fromBodyId": w.tlc_id, "count": 1},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "give a commission's feedback",
        "GiveFeedback",
        lambda w, r: {"proposalId": w.targets["draft"], "text": "consider"},
        (U, F, OK, F, F, F, F),
    ),
    (
        "appeal a blocked TLC proposal",
        "AppealProposal",
        lambda w, r: {"proposalId": _own(w, r, "blocked")},
        (U, F, OK, OK, OK, F, F),
    ),
    (
        "register a webhook",
        "RegisterWebhook",
        lambda w, r: {"organization": w.slug, "url": HOOK, "subjects": [QUIET]},
        (U, F, F, F, OK, OK, F),
    ),
    (
        "delete a webhook",
        "DeleteWebhook",
        lambda w, r: {"id": _own(w, r, "webhook")},
        (U, N, N, N, OK, OK, N),
    ),
    (
        "cancel the TLC core's proposal",
        "CancelProposal",
        lambda w, r: {"proposalId": w.targets["cancel"]},
        (U, F, F, F, OK, F, F),
    ),
    ("leave a cell", "LeaveBody", lambda w, r: {"bodyId": w.cell_id}, (U, N, OK, OK, N, N, N)),
    ("leave the TLC", "LeaveBody", lambda w, r: {"bodyId": w.tlc_id}, (U, N, N, N, OK, N, N)),
    ("leave the SHG", "LeaveBody", lambda w, r: {"bodyId": w.shg_id}, (U, N, N, N, N, OK, X)),
]

# the mutations of contract/operations.graphql (withdrawObjection is the gateway's own addition)
CONTRACT_MUTATIONS = {
    "signInChallenge",
    "signIn",
    "createOrganization",
    "commitFunds",
    "leaveBody",
    "createProposal",
    "castVote",
    "cancelProposal",
    "raiseConcern",
    "objectToProposal",
    "withdrawObjection",
}
WITHDRAW = (
    "mutation WithdrawObjection($proposalId: ID!) { withdrawObjection(proposalId: $proposalId) "
    "{ review { status } userErrors { field code message } } }"
)


def _addr(w: World, role: str) -> str:
    wallet = w.roles[role]
    return wallet.address if wallet else Wallet.create().address


def _fresh() -> str:
    return Wallet.create().address


def _own(w: World, role: str, target: str) -> str:
    """A target an allowed call uses up has one per allowed role; the refusals try the first of them."""
    return w.targets.get(f"{target}:{role}", w.targets[target])


def cells() -> list[Any]:
    out = []
    for name, operation, variables, expected in TABLE:
        # within a row: refusals first, then the allowed callers (who may use the target up)
        ordered = sorted(zip(ROLES, expected, strict=True), key=lambda p: p[1] == OK)
        for role, outcome in ordered:
            out.append(pytest.param(operation, variables, role, outcome, id=f"{name} | {role} -> {outcome}"))
    return out


@pytest.fixture(scope="module")
async def world(target: Target, fingerprint: Fingerprint) -> AsyncIterator[World]:
    gql = Gql(target)
    try:
        built = await build_world(gql)
        await fingerprint.quiet()
        yield built
    finally:
        await gql.close()


async def build_world(gql: Gql) -> World:
    wallets = await asyncio.gather(*(gql.sign_in(Wallet.create(r)) for r in ROLES[1:]))
    roles: dict[str, Wallet | None] = {"anonymous": None, **dict(zip(ROLES[1:], wallets, strict=True))}
    names = ("tlc2", "tlc3", "sh2", "sh3", "cell2")
    helpers = dict(
        zip(names, await asyncio.gather(*(gql.sign_in(Wallet.create(n)) for n in names)), strict=True)
    )
    slug = f"matrix-{uuid.uuid4().hex[:8]}"
    stakeholders = (roles["stakeholder"], roles["exited"], helpers["sh2"], helpers["sh3"])
    org = (
        await gql.ok(
            "CreateOrganization",
            roles["stakeholder"],
            input={
                "slug": slug,
                "name": "Matrix",
                "purpose": "Who may do what",
                "stakeholders": [{"address": w.address} for w in stakeholders],
                "topLevelCell": {
                    "name": "TLC",
                    "purpose": "p",
                    "coreTeam": [
                        {"address": w.address} for w in (roles["tlc_core"], helpers["tlc2"], helpers["tlc3"])
                    ],
                },
                "policy": POLICY,
            },
        )
    )["organization"]
    tlc_id, shg_id = org["topLevelCell"]["id"], org["stakeholderGroup"]["id"]
    tlc_voters = [roles["tlc_core"], helpers["tlc2"]]

    async def propose(who: Wallet, body: str, kind: str, actions: list[dict[str, Any]] | None = None) -> str:
        return await gql.propose(who, proposal_input(body, kind, actions)["input"])

    async def passed(proposal: str, voters: list[Wallet], status: str) -> None:
        for w in voters:
            await gql.ok("CastVote", w, proposalId=proposal, choice="FOR")
        await gql.wait_status(proposal, status, within=30)

    async def cell() -> tuple[str, str]:
        """A cell below the TLC, made as DOMAIN.md says (an enacted TLC proposal), with a contributor."""
        crew = [roles["other_cell_core"], helpers["cell2"]]
        create = [
            {
                "createCell": {
                    "parentId": tlc_id,
                    "name": "Research",
                    "purpose": "Find out",
                    "coreTeam": [{"address": w.address} for w in crew],
                }
            }
        ]
        await passed(await propose(roles["tlc_core"], tlc_id, "OPERATIONAL", create), tlc_voters, "ENACTED")
        cell_id = (await gql.op("Body", id=tlc_id))["data"]["body"]["children"][0]["id"]
        add = [
            {"addMember": {"bodyId": cell_id, "address": roles["contributor"].address, "role": "CONTRIBUTOR"}}
        ]
        await passed(await propose(crew[0], cell_id, "OPERATIONAL", add), crew, "ENACTED")
        return cell_id, await propose(crew[0], cell_id, "OPERATIONAL")

    async def review() -> str:
        """A TLC proposal in review, kept open: the first concern extends the 5 s window by half an hour."""
        proposal = await propose(helpers["tlc2"], tlc_id, "OPERATIONAL")
        await passed(proposal, tlc_voters, "IN_REVIEW")
        await gql.ok("RaiseConcern", helpers["sh2"], proposalId=proposal, reason="keep it open")
        return proposal

    async def blocked() -> str:
        """A TLC proposal blocked in review: every stakeholder objects (the veto threshold is 100 %), after a
        concern that keeps the 5 s window open while they do."""
        proposal = await propose(helpers["tlc2"], tlc_id, "OPERATIONAL")
        await passed(proposal, tlc_voters, "IN_REVIEW")
        await gql.ok("RaiseConcern", helpers["sh2"], proposalId=proposal, reason="wait")
        await asyncio.gather(
            *(gql.ok("ObjectToProposal", w, proposalId=proposal, reason="no") for w in stakeholders)
        )
        await gql.wait_status(proposal, "BLOCKED")
        return proposal

    async def metagovernance() -> dict[str, str]:
        """Two commissions (one asked for feedback on COMMUNITY drafts, with the contributor on it, and one
        to seat people on), a draft awaiting that feedback for an hour, and an experiment that has ended."""
        asked, seats = await asyncio.gather(
            gql.ok(
                "CreateCommission",
                roles["stakeholder"],
                input={
                    "organization": slug,
                    "name": "Feedback",
                    "purpose": "Feedback on drafts",
                    "seats": [{"group": "OPERATIONAL", "seats": 2}],
                    "selection": "APPOINTED",
                    "members": [{"address": roles["contributor"].address, "group": "OPERATIONAL"}],
                },
            ),
            gql.ok(
                "CreateCommission",
                roles["tlc_core"],
                input={
                    "organization": slug,
                    "name": "Seats",
                    "purpose": "Seated and drawn",
                    "seats": [{"group": SEATS, "seats": 9}],
                    "selection": "APPOINTED",
                },
            ),
        )
        feedback = {"key": "COMMUNITY:STAKEHOLDER_GROUP", "feedbackWindowSeconds": 3600}
        ask = {
            "changeModules": {"modules": [{**feedback, "feedbackCommissionId": asked["commission"]["id"]}]}
        }
        asking = await propose(roles["stakeholder"], shg_id, "POLICY", [ask])
        # proposed once the proposals service knows the organisation (no retry), so its end is still ahead;
        # enacted after that end, it starts and ends at once
        trial = {
            "changeModules": {
                "modules": [{"key": "CELL_STATE:CELL", "votingPeriodSeconds": 601}],
                "experiment": {
                    "hypothesis": "Longer votes for cells",
                    "successMeasures": ["more participation"],
                    "endsAt": (datetime.now(UTC) + timedelta(seconds=5)).isoformat(),
                },
            }
        }
        trying = await propose(roles["stakeholder"], shg_id, "POLICY", [trial])
        await asyncio.gather(*(passed(p, shg_voters, "ENACTED") for p in (asking, trying)))
        ended = await eventually(ended_experiment, within=30, interval=0.2)
        return {
            "seats": seats["commission"]["id"],
            "draft": await propose(helpers["sh2"], shg_id, "COMMUNITY"),
            "experiment": ended,
        }

    async def ended_experiment() -> str | None:
        doc = await gql.op("Experiments", organization=slug, status=["ENDED"], first=1)
        edges = doc["data"]["experiments"]["edges"]
        return edges[0]["node"]["id"] if edges else None

    async def webhook(who: Wallet) -> str:
        made = await gql.ok("RegisterWebhook", who, organization=slug, url=HOOK, subjects=[QUIET])
        return made["webhook"]["id"]

    async def poll() -> str:
        closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        made = await gql.ok(
            "CreatePoll",
            roles["stakeholder"],
            input={"organization": slug, "question": "Which?", "options": ["a", "b"], "closesAt": closes},
        )
        return made["poll"]["id"]

    async def milestone() -> str:
        made = await gql.ok(
            "CreateMilestone",
            roles["stakeholder"],
            input={"organization": slug, "phase": "A", "title": "First"},
        )
        return made["milestone"]["id"]

    shg_voters = [roles["stakeholder"], helpers["sh2"], helpers["sh3"]]
    (cell_id, cell_vote), review_id, meta, appeals = await asyncio.gather(
        cell(), review(), metagovernance(), asyncio.gather(blocked(), blocked(), blocked())
    )
    hooks = await asyncio.gather(webhook(roles["tlc_core"]), webhook(roles["stakeholder"]))
    targets = {
        "tlc_vote": await propose(roles["tlc_core"], tlc_id, "OPERATIONAL"),
        "cell_vote": cell_vote,
        "shg_vote": await propose(roles["stakeholder"], shg_id, "STAKEHOLDER"),
        "cancel": await propose(roles["tlc_core"], tlc_id, "OPERATIONAL"),
        "review": review_id,
        "poll": await poll(),
        "milestone": await milestone(),
        **meta,
        # used up by the allowed callers: one each
        "blocked": appeals[0],
        **{
            f"blocked:{r}": p
            for r, p in zip(("contributor", "other_cell_core", "tlc_core"), appeals, strict=True)
        },
        "webhook": hooks[0],
        **{f"webhook:{r}": h for r, h in zip(("tlc_core", "stakeholder"), hooks, strict=True)},
    }
    await gql.ok("LeaveBody", roles["exited"], bodyId=shg_id)
    return World(slug, shg_id, tlc_id, cell_id, roles, targets)


results: dict[str, int] = {"cells": 0, "allowed": 0, "refused": 0, "unchanged_on_refusal": 0}


@pytest.mark.parametrize(("operation", "variables", "role", "expected"), cells())
async def test_the_authorisation_matrix(
    operation: str,
    variables: Callable[[World, str], dict[str, Any]],
    role: str,
    expected: str,
    world: World,
    gql: Gql,
    fingerprint: Fingerprint,
):
    who = world.roles[role]
    before = await fingerprint.take()
    if operation == "SignIn":
        wallet = Wallet(who.key) if who else Wallet.create()
        message = (await gql.op("SignInChallenge", address=wallet.address))["data"]["signInChallenge"]
        doc = await gql.op("SignIn", message=message, signature=wallet.sign(message))
        gql.target.tokens.add(str(doc["data"]["signIn"]["token"]))
    elif operation == "WithdrawObjection":
        doc = await gql.run(WITHDRAW, variables(world, role), who.token if who else None)
    else:
        doc = await gql.op(operation, who, **variables(world, role))
    assert not doc.get("errors"), doc
    results["cells"] += 1
    if operation == "SignInChallenge":
        assert isinstance(doc["data"]["signInChallenge"], str)
        results["allowed"] += 1
        return
    code = user_error_code(doc)
    if expected == OK:
        assert code is None, f"{role} was refused {operation}: {doc}"
        results["allowed"] += 1
        # let what it set off (events consumed by the other services) finish before the next cell
        await fingerprint.settled()
    else:
        assert code == expected, f"{role} {operation}: expected {expected}, got {code or 'accepted'}: {doc}"
        results["refused"] += 1
        assert changed(before, await fingerprint.take()) == [], "a refused call changed the state"
        results["unchanged_on_refusal"] += 1


def test_the_matrix_covers_every_mutation_and_reports_its_figures():
    """Runs after the cells. Every mutation the gateway offers has its row: one added later without a row
    is listed in the figures and fails here."""
    sdl = Path(__file__).resolve().parents[2] / "gateway" / "schema.graphql"
    offered = set(build_ast_schema(parse(sdl.read_text())).mutation_type.fields)
    covered = {operation[0].lower() + operation[1:] for _, operation, _, _ in TABLE}
    missing = sorted(offered - covered)
    report(
        "security.authorisation_matrix",
        **results,
        mutations_offered=len(offered),
        mutations_in_table=len(offered & covered),
        not_in_table=",".join(missing) or "none",
    )
    assert covered >= CONTRACT_MUTATIONS, "a contract mutation is missing from the matrix"
    assert missing == [], f"mutations without a row in the authorisation matrix: {missing}"
    assert results["cells"] == len(TABLE) * len(ROLES)
    assert results["refused"] == results["unchanged_on_refusal"]
