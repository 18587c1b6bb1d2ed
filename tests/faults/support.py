"""A client that drives governance through the gateway while the platform is broken under it, the ledger of
what the client was told, and the read-back of what the databases and the stream hold.

Every mutation's outcome is one of:
- `ack`      the gateway answered the payload with no user error: the client was told it happened;
- `refused`  a user error with a domain code (VOTING_CLOSED, REVIEW_CLOSED, FORBIDDEN, ...): it did not;
- `unknown`  a transport error, a timeout, a GraphQL-level error or UNAVAILABLE: the client cannot know,
             so the platform must have done it fully or not at all.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import nats

from kit import Envelope
from kit.testing import fetch_events
from tests.e2e.harness import OPERATIONS, Wallet
from tests.faults.platform import SERVICES, FaultStack

UNKNOWN_CODES = frozenset({"UNAVAILABLE", "INTERNAL", "TIMEOUT"})


@dataclass
class Outcome:
    operation: str
    key: tuple[str, ...]
    status: str  # ack | refused | unknown
    code: str | None = None
    payload: dict[str, Any] | None = None
    seconds: float = 0.0
    at: float = 0.0  # monotonic time the request was sent


@dataclass
class Ledger:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


class Client:
    """GraphQL over HTTP that never raises: every answer goes into the ledger."""

    def __init__(self, url: str, ledger: Ledger, timeout: float = 20.0) -> None:
        self.url = url
        self.ledger = ledger
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def query(self, name: str, who: Wallet | None = None, **variables: Any) -> dict[str, Any] | None:
        """A read: its data, or None when the platform could not answer."""
        try:
            doc = await self.send(name, who, variables)
        except (httpx.HTTPError, ValueError):
            return None
        return None if doc.get("errors") else doc.get("data")

    async def send(self, name: str, who: Wallet | None, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {who.token}"} if who and who.token else {}
        r = await self.http.post(
            self.url, json={"query": OPERATIONS[name], "variables": variables}, headers=headers
        )
        return r.json()

    async def mutate(self, name: str, who: Wallet | None, key: tuple[str, ...], **variables: Any) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(name, key, "unknown", at=started)
        try:
            doc = await self.send(name, who, variables)
        except (httpx.HTTPError, ValueError) as exc:
            outcome.code = type(exc).__name__
        else:
            if doc.get("errors") or not doc.get("data"):
                outcome.code = str(((doc.get("errors") or [{}])[0].get("extensions") or {}).get("code"))
            else:
                payload = next(iter(doc["data"].values()))
                errors = payload.get("userErrors") or []
                if not errors:
                    outcome.status, outcome.payload = "ack", payload
                else:
                    outcome.code = errors[0]["code"]
                    outcome.status = "unknown" if outcome.code in UNKNOWN_CODES else "refused"
        outcome.seconds = time.monotonic() - started
        self.ledger.outcomes.append(outcome)
        if outcome.status == "unknown":
            # a client backs off while the platform is broken, rather than hammering it
            await asyncio.sleep(0.25)
        return outcome

    async def sign_in(self, wallet: Wallet, attempts: int = 20) -> Wallet:
        for _ in range(attempts):
            try:
                challenge = (await self.send("SignInChallenge", None, {"address": wallet.address}))["data"]
                message = challenge["signInChallenge"]
                doc = await self.send("SignIn", None, {"message": message, "signature": wallet.sign(message)})
                token = doc["data"]["signIn"]["token"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                token = None
            if token:
                wallet.token = token
                return wallet
            await asyncio.sleep(0.5)
        raise AssertionError(f"could not sign in {wallet.address}")

    async def status_of(self, proposal_id: str) -> dict[str, Any] | None:
        data = await self.query("Proposal", id=proposal_id)
        return data["proposal"] if data else None

    async def wait_review_open(self, proposal_id: str, within: float) -> dict[str, Any] | None:
        """The proposal once its review is open; None if it went elsewhere or the platform was down."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            p = await self.status_of(proposal_id)
            if p is not None:
                if p["status"] == "IN_REVIEW" and p["review"] and p["review"]["status"] == "PENDING":
                    return p
                if p["status"] not in ("VOTING", "IN_REVIEW"):
                    return None
            await asyncio.sleep(0.15)
        return None


# --- the organisation the faults run against --------------------------------------------------------

FAST_POLICY = {
    # voting that does not close early ends by its deadline, reviews pass or block by theirs
    "votingPeriodSeconds": 3,
    "reviewPeriodSeconds": 2,
    "concernExtensionSeconds": 1,
    "vetoThresholdPercent": 50,
    "quorumPercent": 20,
    "cycleLengthSeconds": 3600,
    "policyDelaySeconds": 1,
}


@dataclass
class Org:
    slug: str
    id: str
    shg_id: str
    tlc_id: str
    shg: list[Wallet]
    tlc: list[Wallet]


async def found_org(client: Client, stakeholders: int = 6, core: int = 5, policy: dict | None = None) -> Org:
    shg = [await client.sign_in(Wallet.create(f"S{i}")) for i in range(stakeholders)]
    tlc = [await client.sign_in(Wallet.create(f"C{i}")) for i in range(core)]
    slug = f"faults-{uuid.uuid4().hex[:8]}"
    out = await client.mutate(
        "CreateOrganization",
        shg[0],
        ("org", slug),
        input={
            "slug": slug,
            "name": "Fault lines",
            "purpose": "Prove that nothing is lost",
            "stakeholders": [{"address": w.address} for w in shg],
            "topLevelCell": {
                "name": "TLC",
                "purpose": "Decide",
                "coreTeam": [{"address": w.address} for w in tlc],
            },
            "policy": policy or FAST_POLICY,
        },
    )
    assert out.status == "ack", out
    o = out.payload["organization"]  # type: ignore[index]
    return Org(slug, o["id"], o["stakeholderGroup"]["id"], o["topLevelCell"]["id"], shg, tlc)


# --- load -------------------------------------------------------------------------------------------


async def drive_one_proposal(client: Client, org: Org, rng: random.Random) -> None:
    """One TLC proposal through voting and, when it passes, review: votes, concerns, objections.

    Each (proposal, voter) and (proposal, objector) is tried at most once, so an acknowledged vote or
    objection must be found exactly as acknowledged."""
    proposer = rng.choice(org.tlc)
    created = await client.mutate(
        "CreateProposal",
        proposer,
        ("proposal",),
        input={
            "bodyId": org.tlc_id,
            "kind": "OPERATIONAL",
            "title": f"Fault drill {uuid.uuid4().hex[:6]}",
            "description": "Driven while the platform breaks",
            "actions": [],
        },
    )
    if created.status != "ack":
        return
    pid = created.payload["proposal"]["id"]  # type: ignore[index]
    created.key = ("proposal", pid)
    # three FOR closes early; two FOR and one AGAINST waits for the deadline; more AGAINST defeats
    choices = rng.choice([["FOR", "FOR", "FOR"], ["FOR", "FOR", "AGAINST"], ["FOR", "AGAINST", "AGAINST"]])
    voters = rng.sample(org.tlc, len(choices))
    for voter, choice in zip(voters, choices, strict=True):
        await client.mutate(
            "CastVote", voter, ("vote", pid, voter.address.lower(), choice), proposalId=pid, choice=choice
        )
    if choices.count("FOR") < 2 or await client.wait_review_open(pid, within=8) is None:
        return
    reviewers = rng.sample(org.shg, rng.randint(1, 4))
    for i, who in enumerate(reviewers):
        if i < 2:
            await client.mutate(
                "RaiseConcern",
                who,
                ("concern", pid, who.address.lower()),
                proposalId=pid,
                reason=f"concern {i}",
            )
        if rng.random() < 0.6:
            await client.mutate(
                "ObjectToProposal", who, ("objection", pid, who.address.lower()), proposalId=pid, reason="no"
            )


async def drive(client: Client, org: Org, stop: asyncio.Event, workers: int = 3, seed: int = 7) -> int:
    """Run `workers` clients proposing, voting and reviewing until `stop`; answer how many proposals."""
    rounds = [0]

    async def worker(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        while not stop.is_set():
            await drive_one_proposal(client, org, rng)
            rounds[0] += 1

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return rounds[0]


# --- read-back ---------------------------------------------------------------------------------------


class Store:
    """Reads the services' databases directly (what was persisted) and the stream (what was published)."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack

    async def fetch(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.dsn(service), timeout=10)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def events(self) -> list[Envelope]:
        return await fetch_events(self.stack.nats_url, self.stack.stream, f"{self.stack.subject_prefix}.>")

    async def outbox(self) -> dict[str, list[asyncpg.Record]]:
        return {s: await self.fetch(s, "SELECT id, subject, published_at FROM kit_outbox") for s in SERVICES}

    async def backlog(self) -> int:
        total = 0
        for s in SERVICES:
            rows = await self.fetch(s, "SELECT count(*) AS n FROM kit_outbox WHERE published_at IS NULL")
            total += rows[0]["n"]
        return total

    async def pending_deadlines(self, within_seconds: float = 60.0) -> int:
        """Deadlines not yet decided that fall due before `now + within_seconds` (votes, reviews)."""
        total = 0
        for s in ("proposals", "timelock"):
            rows = await self.fetch(
                s,
                "SELECT count(*) AS n FROM kit_deadlines WHERE fired_at IS NULL AND cancelled_at IS NULL "
                "AND due_at < now() + make_interval(secs => $1)",
                within_seconds,
            )
            total += rows[0]["n"]
        return total

    async def deadlines(self) -> tuple[int, int]:
        """(due, decided): deadlines whose time has come (not withdrawn), and those of them that fired."""
        due = decided = 0
        for s in ("proposals", "timelock"):
            row = (
                await self.fetch(
                    s,
                    "SELECT count(*) FILTER (WHERE due_at <= now()) AS due, "
                    "count(*) FILTER (WHERE due_at <= now() AND fired_at IS NOT NULL) AS decided "
                    "FROM kit_deadlines WHERE cancelled_at IS NULL",
                )
            )[0]
            due += row["due"]
            decided += row["decided"]
        return due, decided

    async def settle(self, within: float = 45.0) -> None:
        """Wait until every outbox is relayed, every vote and review deadline has been decided (none is
        left in the next minute: what remains are expiries days away) and the stream is still."""
        deadline = time.monotonic() + within
        quiet = 0
        last: tuple[int, int, int] | None = None
        while time.monotonic() < deadline:
            state = (await self.backlog(), await self.pending_deadlines(), await self.stream_last_sequence())
            if state[0] == 0 and state[1] == 0 and state == last:
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
            last = state
            await asyncio.sleep(0.5)
        raise AssertionError(f"the platform did not settle within {within}s: backlog, pending, last = {last}")

    async def stream_last_sequence(self) -> int:
        nc = await nats.connect(self.stack.nats_url)
        try:
            return int((await nc.jetstream().stream_info(self.stack.stream)).state.last_seq)
        finally:
            await nc.close()


def duplicate_ids(events: list[Envelope]) -> list[str]:
    return [i for i, n in Counter(e.id for e in events).items() if n > 1]


def by_type(events: list[Envelope], aggregate: str, event: str) -> list[Envelope]:
    return [e for e in events if e.aggregate == aggregate and e.event == event]
