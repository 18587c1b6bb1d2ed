"""Demo data: the seed's Reimagining Power organisation, built through the public GraphQL contract only.

`python -m gateway.seed --url http://127.0.0.1:8000` (or `await seed_demo(url)`) signs in demo members
with deterministic keys (derived from a fixed phrase, so every run has the same addresses), founds
`reimagining-power` with a Stakeholder Group of organisations and a Top Level Cell, commits funds,
grows two coordinating cells with two child cells each through enacted proposals, and leaves proposals
in every status. Short policy periods make statuses move while someone watches; a policy change enacted
during seeding then lengthens them, so that the proposals made last stay open.

Idempotent: if the organisation exists, nothing is done. Every call is an operation of
`contract/operations.graphql`, sent as a front-end would send it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from graphql import OperationDefinitionNode, parse, print_ast

log = logging.getLogger("gateway.seed")

SLUG = "reimagining-power"
PHRASE = "bicameral demo / reimagining power / not a real key"
CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "operations.graphql"
WEEK = 7 * 24 * 3600

STAKEHOLDERS = [
    "Commons Foundation",
    "Mycelium Fund",
    "Open Source Collective",
    "Bioregional Trust",
    "Civic Tech Guild",
]
TLC = ["Ada", "Bo", "Chidi"]
CELLS = {
    "Research & Design": (
        ["Dana", "Eli"],
        {"Field Research": ["Fatima", "Gus"], "Design Lab": ["Hana", "Ivo"]},
    ),
    "Community & Operations": (["Jo", "Kai"], {"Events": ["Lea", "Max"], "Finance Ops": ["Noor", "Omar"]}),
}


class SeedError(RuntimeError):
    def __init__(self, message: str, codes: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.codes = set(codes)


def demo_account(name: str) -> LocalAccount:
    """The same key for the same name on every run (a demo, never real funds)."""
    return Account.from_key(keccak(text=f"{PHRASE} / {name}"))


@dataclass
class Persona:
    name: str
    account: LocalAccount
    token: str = ""

    @property
    def address(self) -> str:
        return self.account.address


class Demo:
    def __init__(self, http: httpx.AsyncClient, *, voting: int, review: int, delay: int, poll: float) -> None:
        self.http = http
        # each operation on its own, as a front-end sends it (the whole contract outgrows the token limit)
        self.operations = {
            d.name.value: print_ast(d)
            for d in parse(CONTRACT.read_text()).definitions
            if isinstance(d, OperationDefinitionNode) and d.name is not None
        }
        self.voting, self.review, self.delay, self.poll = voting, review, delay, poll
        names = [*STAKEHOLDERS, *TLC]
        for core, children in CELLS.values():
            names += core + [n for members in children.values() for n in members]
        self.people = {name: Persona(name, demo_account(name)) for name in names}

    # --- the contract's operations ----------------------------------------------------------------

    async def op(self, name: str, variables: dict[str, Any] | None = None, as_: Persona | None = None) -> Any:
        headers = {"Authorization": f"Bearer {as_.token}"} if as_ else {}
        response = await self.http.post(
            "/graphql",
            json={"query": self.operations[name], "operationName": name, "variables": variables or {}},
            headers=headers,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise SeedError(f"{name}: {body['errors']}")
        data = body["data"]
        payload = next(iter(data.values()))
        if isinstance(payload, dict) and payload.get("userErrors"):
            errors = payload["userErrors"]
            raise SeedError(f"{name}: {errors}", (e["code"] for e in errors))
        return payload

    async def sign_in(self, person: Persona) -> None:
        message = await self.op("SignInChallenge", {"address": person.address})
        signature = person.account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
        person.token = (await self.op("SignIn", {"message": message, "signature": signature}))["token"]

    async def propose(
        self, who: str, body_id: str, kind: str, title: str, description: str, actions: Iterable[Any] = ()
    ) -> str:
        variables = {
            "input": {
                "bodyId": body_id,
                "kind": kind,
                "title": title,
                "description": description,
                "actions": list(actions),
            }
        }
        return (await self.op("CreateProposal", variables, self.people[who]))["proposal"]["id"]

    async def vote(
        self, proposal_id: str, choice: str, voters: Iterable[str], reason: str | None = None
    ) -> None:
        for voter in voters:
            variables = {"proposalId": proposal_id, "choice": choice, "reason": reason}
            try:
                await self.op("CastVote", variables, self.people[voter])
            except SeedError as exc:
                if "VOTING_CLOSED" in exc.codes:
                    return  # the votes so far decided it: voting closed early
                raise

    async def status(self, proposal_id: str) -> str:
        return (await self.op("Proposal", {"id": proposal_id}))["status"]

    async def wait_for(self, proposal_id: str, *statuses: str, within: float = 120) -> str:
        deadline = time.monotonic() + within
        while True:
            status = await self.status(proposal_id)
            if status in statuses:
                return status
            if time.monotonic() > deadline:
                raise SeedError(f"proposal {proposal_id} is {status}, expected {' or '.join(statuses)}")
            await asyncio.sleep(self.poll)

    async def organization(self) -> Any:
        return await self.op("Organization", {"slug": SLUG})

    # --- the story --------------------------------------------------------------------------------

    async def run(self) -> bool:
        if await self.organization() is not None:
            log.info("the demo organisation exists; nothing to do")
            return False
        await asyncio.gather(*(self.sign_in(p) for p in self.people.values()))
        org = await self.found()
        shg, tlc = org["stakeholderGroup"]["id"], org["topLevelCell"]["id"]
        await self.commit_funds()

        # the structure, and proposals going down every path to a final status
        coordinating = await self.propose(
            "Ada",
            tlc,
            "OPERATIONAL",
            "Two coordinating cells",
            "Research & Design and Community & Operations will coordinate the work of their clusters.",
            [self.create_cell(tlc, name, core) for name, (core, _) in CELLS.items()],
        )
        await self.vote(coordinating, "FOR", TLC)
        await asyncio.gather(
            self.tlc_cell_state(tlc), self.defeated(shg), self.blocked(tlc), self.cancelled(tlc)
        )
        await self.wait_for(coordinating, "ENACTED")
        cells = await self.cells()
        for name, (core, kids) in CELLS.items():
            proposal = await self.propose(
                core[0],
                cells[name],
                "OPERATIONAL",
                f"Child cells of {name}",
                f"{name} grows into a cluster.",
                [self.create_cell(cells[name], child, members) for child, members in kids.items()],
            )
            await self.vote(proposal, "FOR", core)
            await self.wait_for(proposal, "ENACTED")

        # proposals whose short timers are still running when seeding ends: they move while one watches
        await self.moving(shg, tlc, cells)

        # then a policy change lengthens every period, and what is proposed after it stays open
        await self.wait_for(await self.policy_change(shg), "ENACTED")
        await self.open_proposals(shg, tlc, await self.cells())
        log.info("demo organisation seeded", extra={"organization": SLUG})
        return True

    @staticmethod
    def member(person: Persona) -> dict[str, str]:
        return {"address": person.address, "displayName": person.name}

    def create_cell(self, parent: str, name: str, core: list[str]) -> dict[str, Any]:
        return {
            "createCell": {
                "parentId": parent,
                "name": name,
                "purpose": f"{name}: a cell of the Reimagining Power project.",
                "coreTeam": [self.member(self.people[n]) for n in core],
            }
        }

    async def found(self) -> Any:
        variables = {
            "input": {
                "slug": SLUG,
                "name": "Reimagining Power",
                "purpose": "Partnership governance: a Stakeholder Group that sets purpose and can block, "
                "and autonomous cells that decide and act.",
                "stakeholders": [self.member(self.people[n]) for n in STAKEHOLDERS],
                "topLevelCell": {
                    "name": "Top Level Cell",
                    "purpose": "Coordinates the cells and answers to the Stakeholder Group.",
                    "coreTeam": [self.member(self.people[n]) for n in TLC],
                },
                "policy": {
                    "votingPeriodSeconds": self.voting,
                    "reviewPeriodSeconds": self.review,
                    "concernExtensionSeconds": max(1, self.review // 2),
                    "vetoThresholdPercent": 33,
                    "quorumPercent": 20,
                    "stakeholderWeighting": "EQUAL",
                    "cycleLengthSeconds": 30 * 24 * 3600,
                    "communityProposals": True,
                    "policyDelaySeconds": self.delay,
                },
            }
        }
        return (await self.op("CreateOrganization", variables, self.people["Ada"]))["organization"]

    async def commit_funds(self) -> None:
        for i, name in enumerate(STAKEHOLDERS):
            person = self.people[name]
            await self.op(
                "CommitFunds", {"organization": SLUG, "cycle": 0, "amount": f"{10000 + 2500 * i}"}, person
            )
            await self.op("CommitFunds", {"organization": SLUG, "cycle": 1, "amount": "5000"}, person)

    async def cells(self) -> dict[str, str]:
        org = await self.organization()
        found = {}
        for cell in org["topLevelCell"]["children"]:
            found[cell["name"]] = cell["id"]
            body = await self.op("Body", {"id": cell["id"]})
            found.update({child["name"]: child["id"] for child in body["children"]})
        return found

    async def policy_change(self, shg: str) -> str:
        proposal = await self.propose(
            "Commons Foundation",
            shg,
            "POLICY",
            "End the warm-up: week-long votes and reviews",
            "The demo started with short periods so statuses move quickly; real decisions need time.",
            [
                {
                    "updatePolicy": {
                        "votingPeriodSeconds": WEEK,
                        "reviewPeriodSeconds": WEEK,
                        "policyDelaySeconds": 4 * WEEK,
                    }
                }
            ],
        )
        await self.vote(proposal, "FOR", STAKEHOLDERS[:4], reason="agreed at the kick-off")
        return proposal

    async def tlc_cell_state(self, tlc: str) -> None:
        proposal = await self.propose(
            "Bo",
            tlc,
            "CELL_STATE",
            "The Top Level Cell's Cell State",
            "Purpose, strategy and agreements of the TLC, for the Stakeholder Group's approval.",
            [
                {
                    "setCellState": {
                        "cellId": tlc,
                        "purpose": "Coordinate the cells towards the project's purpose.",
                        "strategy": "Small autonomous cells, optimistic review by the Stakeholder Group.",
                        "agreements": [
                            "Decisions are written down",
                            "Budgets are public",
                            "Anyone may leave",
                        ],
                    }
                }
            ],
        )
        await self.vote(proposal, "FOR", STAKEHOLDERS[:3])

    async def defeated(self, shg: str) -> None:
        proposal = await self.propose(
            "Civic Tech Guild",
            shg,
            "STAKEHOLDER",
            "Sponsor a glossy summit",
            "A large in-person summit this quarter.",
        )
        await self.vote(proposal, "AGAINST", STAKEHOLDERS[:3], reason="not this quarter")

    async def blocked(self, tlc: str) -> None:
        proposal = await self.propose(
            "Chidi",
            tlc,
            "OPERATIONAL",
            "Rent a big office downtown",
            "A shared office for every cell.",
        )
        await self.vote(proposal, "FOR", TLC)
        await self.wait_for(proposal, "IN_REVIEW")
        await self.until_review_open(proposal)
        await self.op(
            "RaiseConcern",
            {"proposalId": proposal, "reason": "Most of us work remotely."},
            self.people["Bioregional Trust"],
        )
        for name in STAKEHOLDERS[3:]:
            await self.op(
                "ObjectToProposal", {"proposalId": proposal, "reason": "too expensive"}, self.people[name]
            )

    async def until_review_open(self, proposal_id: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while (await self.op("Proposal", {"id": proposal_id}))["review"] is None:
            if time.monotonic() > deadline:
                raise SeedError(f"proposal {proposal_id} has no review")
            await asyncio.sleep(self.poll)

    async def cancelled(self, tlc: str) -> None:
        proposal = await self.propose(
            "Ada", tlc, "OPERATIONAL", "Hire a branding agency", "On second thought, we can do it ourselves."
        )
        await self.op("CancelProposal", {"proposalId": proposal}, self.people["Ada"])

    async def moving(self, shg: str, tlc: str, cells: dict[str, str]) -> None:
        # both budgets fit what is available when proposed; the one enacted second no longer fits: FAILED
        budgets = []
        for cell in ("Research & Design", "Community & Operations"):
            proposal = await self.propose(
                "Ada",
                tlc,
                "BUDGET",
                f"Cycle 0 budget for {cell}",
                f"Most of this cycle's committed funds for {cell}.",
                [{"allocateBudget": {"cellId": cells[cell], "cycle": 0, "amount": "40000"}}],
            )
            await self.vote(proposal, "FOR", TLC)
            budgets.append(proposal)
        await self.propose(
            "Mycelium Fund",
            shg,
            "STAKEHOLDER",
            "Open a community channel",
            "Nobody votes on this one: it expires without quorum.",
        )
        call = await self.propose(
            "Bioregional Trust",
            shg,
            "STAKEHOLDER",
            "Host a monthly open call",
            "An open video call on the first Monday of each month.",
        )
        await self.vote(call, "FOR", STAKEHOLDERS[:2])
        for proposal in budgets:
            await self.until_review_open(proposal)
        await self.op(
            "RaiseConcern",
            {"proposalId": budgets[0], "reason": "Does this leave room for the others?"},
            self.people["Civic Tech Guild"],
        )

    async def open_proposals(self, shg: str, tlc: str, cells: dict[str, str]) -> None:
        journey = await self.propose(
            "Open Source Collective",
            shg,
            "STAKEHOLDER",
            "Fund a bioregional learning journey",
            "Visit three bioregional projects and report back.",
        )
        await self.vote(journey, "FOR", ["Open Source Collective"], reason="we learn by visiting")
        notes = await self.propose(
            "Fatima",
            cells["Field Research"],
            "OPERATIONAL",
            "Publish weekly field notes",
            "Short public notes after each field visit.",
        )
        await self.vote(notes, "FOR", ["Fatima"])
        await self.propose(
            "Lea",
            cells["Events"],
            "CELL_STATE",
            "The Events cell's Cell State",
            "Purpose, strategy and agreements of the Events cell.",
            [
                {
                    "setCellState": {
                        "cellId": cells["Events"],
                        "purpose": "Bring people together.",
                        "strategy": "Small local gatherings first.",
                        "agreements": ["Open invitations"],
                    }
                }
            ],
        )
        tooling = await self.propose(
            "Bo",
            tlc,
            "OPERATIONAL",
            "Shared tooling for all cells",
            "One set of collaboration tools for every cell.",
        )
        await self.vote(tooling, "FOR", TLC)
        quorum = await self.propose(
            "Mycelium Fund",
            shg,
            "POLICY",
            "Raise the Stakeholder Group's quorum to 25%",
            "More of us should take part in stakeholder decisions.",
            [{"updatePolicy": {"quorumPercent": 25}}],
        )
        await self.vote(quorum, "FOR", STAKEHOLDERS[:4])
        await self.wait_for(tooling, "IN_REVIEW")
        await self.wait_for(quorum, "QUEUED")


async def seed_demo(
    gateway_url: str,
    *,
    voting_seconds: int = 20,
    review_seconds: int = 15,
    delay_seconds: int = 5,
    poll_seconds: float = 0.5,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Seed the Reimagining Power demo through the gateway at `gateway_url`; no-op if it exists."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, transport=transport) as http:
        demo = Demo(
            http, voting=voting_seconds, review=review_seconds, delay=delay_seconds, poll=poll_seconds
        )
        await demo.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Seed the Reimagining Power demo through the gateway.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway's base URL")
    parser.add_argument("--voting-seconds", type=int, default=20)
    parser.add_argument("--review-seconds", type=int, default=15)
    parser.add_argument("--delay-seconds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(
        seed_demo(
            args.url,
            voting_seconds=args.voting_seconds,
            review_seconds=args.review_seconds,
            delay_seconds=args.delay_seconds,
        )
    )


if __name__ == "__main__":
    main()
