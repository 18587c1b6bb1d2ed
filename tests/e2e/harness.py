"""Drive the real platform: four processes started as subprocesses, spoken to only through the
contract's GraphQL operations over HTTP and websockets, as a front-end would."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from stack.processes import PROCESSES, Child, process_env, wait_ready

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "operations.graphql"


def contract_operations() -> dict[str, str]:
    """Each named operation of the contract as a standalone document."""
    text = CONTRACT.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    pattern = re.compile(r"^(query|mutation|subscription)\s+(\w+)", re.MULTILINE)
    starts = [(m.start(), m.group(2)) for m in pattern.finditer(body)]
    ops = {}
    for i, (pos, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(body)
        ops[name] = body[pos:end].strip()
    return ops


OPERATIONS = contract_operations()


@dataclass
class Wallet:
    """A member's Ethereum key; `token` is set once signed in."""

    key: str
    name: str = ""
    token: str | None = None

    @classmethod
    def create(cls, name: str = "") -> Wallet:
        return cls(Account.create().key.hex(), name)

    @property
    def address(self) -> str:
        return Account.from_key(self.key).address

    def sign(self, message: str) -> str:
        signed = Account.sign_message(encode_defunct(text=message), self.key)
        return "0x" + signed.signature.hex().removeprefix("0x")


class GraphQLError(AssertionError):
    pass


@dataclass
class Api:
    """A GraphQL client speaking the contract's operations."""

    url: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.http.post(
            self.url, json={"query": query, "variables": variables or {}}, headers=headers
        )
        return r.json()

    async def op(self, name: str, as_: Wallet | None = None, **variables: Any) -> dict[str, Any]:
        """Run contract operation `name`; fail on GraphQL-level errors; answer `data`."""
        doc = await self.raw(OPERATIONS[name], variables, as_.token if as_ else None)
        if doc.get("errors"):
            raise GraphQLError(f"{name}: {json.dumps(doc['errors'])[:800]}")
        return doc["data"]

    async def ok(self, name: str, as_: Wallet | None = None, **variables: Any) -> dict[str, Any]:
        """Run a mutation and require an empty `userErrors`; answer the payload."""
        data = await self.op(name, as_, **variables)
        payload = next(iter(data.values()))
        assert payload["userErrors"] == [], f"{name}: {payload['userErrors']}"
        return payload

    async def refused(self, name: str, as_: Wallet | None = None, **variables: Any) -> str:
        """Run a mutation that must be refused; answer the first user error's code."""
        data = await self.op(name, as_, **variables)
        payload = next(iter(data.values()))
        assert payload["userErrors"], f"{name} was accepted: {payload}"
        return payload["userErrors"][0]["code"]

    async def sign_in(self, wallet: Wallet) -> Wallet:
        challenge = (await self.op("SignInChallenge", address=wallet.address))["signInChallenge"]
        payload = await self.ok("SignIn", message=challenge, signature=wallet.sign(challenge))
        wallet.token = payload["token"]
        return wallet

    async def wait_status(self, proposal_id: str, status: str, within: float = 30) -> dict[str, Any]:
        """Poll until the proposal has `status`; with IN_REVIEW, also until its review has opened
        (the timelock opens it moments after the vote closes; until then `review` is null)."""
        deadline = asyncio.get_running_loop().time() + within
        last = None
        while asyncio.get_running_loop().time() < deadline:
            last = (await self.op("Proposal", id=proposal_id))["proposal"]
            if last["status"] == status and (status != "IN_REVIEW" or last["review"] is not None):
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"proposal {proposal_id} not {status} within {within}s; last: {last}")


@dataclass
class Platform:
    """The four processes of one test run."""

    children: dict[str, Child]
    ports: dict[str, int]
    env: dict[str, str]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def graphql_url(self) -> str:
        return f"{self.gateway_url}/graphql"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def restart(self, name: str) -> None:
        child = self.children[name]
        child.start()
        wait_ready(self.url(name), child)

    def kill(self, name: str) -> None:
        self.children[name].kill()

    def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            child.stop()


def isolated_env(database_url: str, nats_url: str) -> dict[str, str]:
    """The environment of one platform with its own databases, stream and secrets."""
    import os

    from kit.testing import unique_suffix

    suffix = unique_suffix()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DATABASE_PREFIX": f"e{suffix}",
            "NATS_URL": nats_url,
            "EVENTS_STREAM": f"GOV_E{suffix.upper()}",
            "EVENTS_SUBJECT_PREFIX": f"gove{suffix}",
            "EVENTS_STREAM_MAX_BYTES": str(64 * 1024 * 1024),
            "INTERNAL_AUTH_SECRET": f"internal-secret-e2e-{suffix}-0123456789abcdef",
            "AUTH_TOKEN_KEYS": f"k1:member-secret-e2e-{suffix}-0123456789abcdef",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def start_platform(base_env: dict[str, str], log_dir: Path, ports: dict[str, int]) -> Platform:
    env = process_env(base_env, ports)
    children = {spec.name: Child(spec, env, log_dir / f"{spec.name}.log") for spec in PROCESSES}
    platform = Platform(children, ports, env)
    try:
        for child in children.values():
            child.start()
        for name, child in children.items():
            wait_ready(platform.url(name), child, timeout=60)
    except Exception:
        platform.stop()
        for name in children:
            log = (log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            print(f"--- {name} log ---\n{log}")
        raise
    return platform


class Subscription:
    """A graphql-transport-ws client for one subscription, as a browser would open it."""

    def __init__(self, url: str, query: str, variables: dict[str, Any], token: str | None = None) -> None:
        self.url = url.replace("http://", "ws://")
        self.query = query
        self.variables = variables
        self.token = token
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscription:
        import websockets

        self._ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])
        init: dict[str, Any] = {"type": "connection_init"}
        if self.token:
            init["payload"] = {"Authorization": f"Bearer {self.token}"}
        await self._ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(self._ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await self._ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": self.query, "variables": self.variables},
                }
            )
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            if msg["type"] == "next":
                await self.events.put(msg["payload"])
            elif msg["type"] == "ping":
                await self._ws.send(json.dumps({"type": "pong"}))
            elif msg["type"] in ("error", "complete"):
                await self.events.put({"protocol": msg})

    async def next(self, within: float = 15) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), within)

    async def __aexit__(self, *exc: object) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
