"""What the security tests share: the platform they attack, a GraphQL client that keeps every answer (for
the leak scan), a fingerprint of the services' databases (for "no state change on refusal") and the
tally of bad inputs tried against those refused cleanly."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

from tests.e2e.harness import OPERATIONS, Platform, Wallet

SERVICES = ("membership", "proposals", "timelock")


@dataclass
class Target:
    """The platform under attack and what an attacker must never learn: its secrets and every token."""

    platform: Platform
    env: dict[str, str]
    database_url: str
    log_dir: Path
    tokens: set[str] = field(default_factory=set)
    responses: list[str] = field(default_factory=list)

    @property
    def graphql_url(self) -> str:
        return self.platform.graphql_url

    @property
    def internal_secret(self) -> str:
        return self.env["INTERNAL_AUTH_SECRET"]

    @property
    def member_keys(self) -> str:
        return self.env["AUTH_TOKEN_KEYS"]

    def dsn(self, service: str) -> str:
        base = self.database_url.rsplit("/", 1)[0]
        return f"{base}/{self.env['DATABASE_PREFIX']}_{service}"

    def logs(self) -> dict[str, str]:
        return {p.stem: p.read_text(errors="replace") for p in self.log_dir.glob("*.log")}


class Tally:
    """Bad inputs tried, and how many were refused cleanly (a 4xx or a GraphQL/user error with a stable
    code, quickly, no 5xx, nothing changed)."""

    def __init__(self) -> None:
        self.tried: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def record(self, suite: str, refused_cleanly: bool) -> None:
        self.tried[suite] += 1
        self.refused[suite] += refused_cleanly

    def figures(self, suite: str) -> dict[str, int]:
        return {"tried": self.tried[suite], "refused_cleanly": self.refused[suite]}


class Gql:
    """GraphQL over HTTP as an attacker or a user; keeps every answer's text for the leak scan."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.http = httpx.AsyncClient(timeout=20)

    async def close(self) -> None:
        await self.http.aclose()

    async def post(
        self, body: Any, headers: dict[str, str] | None = None, *, content: bytes | None = None
    ) -> httpx.Response:
        if content is not None:
            r = await self.http.post(
                self.target.graphql_url,
                content=content,
                headers={"content-type": "application/json", **(headers or {})},
            )
        else:
            r = await self.http.post(self.target.graphql_url, json=body, headers=headers or {})
        self.target.responses.append(r.text)
        return r

    async def run(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.post({"query": query, "variables": variables or {}}, headers)
        return r.json()

    async def op(self, name: str, who: Wallet | None = None, **variables: Any) -> dict[str, Any]:
        return await self.run(OPERATIONS[name], variables, who.token if who else None)

    async def ok(self, name: str, who: Wallet | None = None, **variables: Any) -> dict[str, Any]:
        doc = await self.op(name, who, **variables)
        assert not doc.get("errors"), doc
        payload = next(iter(doc["data"].values()))
        assert payload["userErrors"] == [], f"{name}: {payload['userErrors']}"
        return payload

    async def sign_in(self, wallet: Wallet) -> Wallet:
        message = (await self.ok_plain("SignInChallenge", address=wallet.address))["signInChallenge"]
        payload = await self.ok("SignIn", message=message, signature=wallet.sign(message))
        wallet.token = payload["token"]
        self.target.tokens.add(wallet.token)
        return wallet

    async def propose(self, who: Wallet, proposal: dict[str, Any], within: float = 10) -> str:
        """Create a proposal; right after a membership change the proposals service may not have its event
        yet (the security platform re-checks a refusal for 0.2 s only), so ask again, as a client would."""
        deadline = time.monotonic() + within
        while True:
            doc = await self.op("CreateProposal", who, input=proposal)
            code = user_error_code(doc)
            if code not in ("FORBIDDEN", "NOT_FOUND") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert code is None, doc
        return doc["data"]["createProposal"]["proposal"]["id"]

    async def ok_plain(self, name: str, **variables: Any) -> dict[str, Any]:
        doc = await self.op(name, **variables)
        assert not doc.get("errors"), doc
        return doc["data"]

    async def wait_status(self, proposal_id: str, status: str, within: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + within
        last = None
        while time.monotonic() < deadline:
            last = (await self.op("Proposal", id=proposal_id))["data"]["proposal"]
            if last["status"] == status and (status != "IN_REVIEW" or last["review"] is not None):
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"proposal {proposal_id} not {status} within {within}s; last: {last}")


def user_error_code(doc: dict[str, Any]) -> str | None:
    """The first user error's code of a mutation's answer; None when it was accepted."""
    payload = next(iter((doc.get("data") or {}).values()), None)
    if not isinstance(payload, dict):
        return None
    errors = payload.get("userErrors") or []
    return errors[0]["code"] if errors else None


class Fingerprint:
    """A digest of every row of every table of the three services' databases, in one round trip each.

    The outbox counts by event id only (the relay marking rows published is progress, not state)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.conns: dict[str, asyncpg.Connection] = {}
        self.queries: dict[str, str] = {}
        self.nc: Any = None

    async def open(self) -> Fingerprint:
        for service in SERVICES:
            conn = await asyncpg.connect(self.target.dsn(service))
            self.conns[service] = conn
        self.nc = await nats.connect(self.target.env["NATS_URL"])
        return self

    async def busy(self) -> bool:
        """Events still waiting in an outbox or not yet taken in by a consumer."""
        for conn in self.conns.values():
            if await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"):
                return True
        for info in await self.nc.jetstream().consumers_info(self.target.env["EVENTS_STREAM"]):
            if info.config.durable_name and (info.num_pending or info.num_ack_pending):
                return True
        return False

    async def _query(self, service: str) -> str:
        tables = [
            r["tablename"]
            for r in await self.conns[service].fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        parts = []
        for t in tables:
            column = "r.id::text" if t == "kit_outbox" else "r::text"
            digest = f"md5(coalesce(string_agg({column}, '|' ORDER BY {column}), ''))"
            parts.append(f"SELECT '{t}' AS t, count(*) AS n, {digest} AS h FROM \"{t}\" r")
        return " UNION ALL ".join(parts)

    async def take(self, *services: str) -> dict[str, tuple[int, str]]:
        """The digest of every table, of the named services' databases (default: all three)."""
        out = {}
        for service, conn in self.conns.items():
            if services and service not in services:
                continue
            if service not in self.queries:
                self.queries[service] = await self._query(service)
            for row in await conn.fetch(self.queries[service]):
                out[f"{service}.{row['t']}"] = (row["n"], row["h"])
        return out

    async def quiet(self, within: float = 5.0) -> dict[str, tuple[int, str]]:
        """The fingerprint once nothing is in flight: every outbox relayed, every durable consumer caught up,
        and the digest the same twice in a row."""
        deadline = time.monotonic() + within
        last = await self.take()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now = await self.take()
            if now == last and not await self.busy():
                return now
            last = now
        raise AssertionError("the databases kept changing")

    async def settled(self, within: float = 5.0) -> None:
        """Wait until nothing is in flight (cheaper than `quiet`, for loops that call it often)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not await self.busy():
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for conn in self.conns.values():
            await conn.close()
        await self.nc.close()


def changed(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
