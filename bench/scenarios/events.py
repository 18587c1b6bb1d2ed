"""3. Event latency: from a vote's acknowledgement (the CastVote answer reaching the client) to (a) an
external JetStream consumer and (b) a GraphQL subscriber (the contract's `ProposalEvents`), with votes
sent at a fixed rate; then the same with many websocket subscribers. The floor: raw NATS — JetStream
publish, and delivery to an ordered consumer and to as many core-NATS subscribers.

Events are matched exactly: the JetStream consumer sees each `vote.cast` with its proposal and voter
(so its acknowledgement) and its CloudEvents id, which is the `id` the subscribers receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats
import websockets
from nats.js.api import DeliverPolicy

from bench.context import Run
from bench.loadgen import Connection, auth, graphql_body, paced, summarize_ms
from bench.seed import open_pairs, propose_many
from tests.e2e.harness import Wallet


class JetStreamWatcher:
    """An external consumer of the organisation's `vote.cast` events (ordered, from now on)."""

    def __init__(self) -> None:
        self.received: dict[str, tuple[tuple[str, str], float]] = {}
        self._nc: Any = None

    async def start(self, nats_url: str, stream: str, subject: str) -> None:
        self._nc = await nats.connect(nats_url)

        async def on_msg(msg: Any) -> None:
            now = time.perf_counter()
            doc = json.loads(msg.data)
            data = doc["data"]
            self.received[doc["id"]] = ((data["proposalId"], data["voter"].lower()), now)

        await self._nc.jetstream().subscribe(
            subject, stream=stream, cb=on_msg, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.close()


class WsSubscriber:
    """One browser: a graphql-transport-ws connection holding one `ProposalEvents` subscription.
    Frames are stamped on arrival and parsed later, to keep the reading cheap."""

    def __init__(self, url: str, query: str, slug: str) -> None:
        self.url = url.replace("http://", "ws://") + "/graphql"
        self.query, self.slug = query, slug
        self.frames: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"], max_queue=None)
        await self._ws.send(json.dumps({"type": "connection_init"}))
        ack = json.loads(await asyncio.wait_for(self._ws.recv(), 15))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        payload = {"query": self.query, "variables": {"organization": self.slug}}
        await self._ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                now = time.perf_counter()
                if '"ping"' in raw[:40]:
                    await self._ws.send('{"type":"pong"}')
                    continue
                self.frames.append((now, raw))

    def events(self) -> dict[str, float]:
        """Event id → arrival time, for the `vote.cast` events received."""
        seen: dict[str, float] = {}
        for at, raw in self.frames:
            msg = json.loads(raw)
            if msg.get("type") != "next":
                self.errors.append(raw[:300])
                continue
            event = (msg["payload"].get("data") or {}).get("proposalEvents") or {}
            if str(event.get("type", "")).endswith("vote.cast.v1"):
                seen.setdefault(event["id"], at)
        return seen

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()


async def wait_subscribers(gateway_url: str, expected: int, within: float = 60) -> None:
    """Until the gateway counts `expected` subscribers (its /metrics gauge)."""
    deadline = time.monotonic() + within
    conn = Connection(gateway_url)
    try:
        while True:
            _, body = await conn.request("GET", "/metrics")
            for line in body.decode().splitlines():
                if line.startswith("gateway_subscribers ") and float(line.split()[1]) >= expected:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway has not counted {expected} subscribers")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def open_subscribers(run: Run, n: int) -> list[WsSubscriber]:
    subs = [
        WsSubscriber(run.bench.gateway_url, run.op("ProposalEvents"), run.orgs["main"].slug) for _ in range(n)
    ]
    for i in range(0, n, 50):
        await asyncio.gather(*(s.open() for s in subs[i : i + 50]))
    await wait_subscribers(run.bench.gateway_url, n)
    return subs


@dataclass
class Cast:
    acked: dict[tuple[str, str], float]  # (proposal, voter) → when the acknowledgement arrived
    errors: int
    first_error: str | None
    seconds: float  # from the first send to the last answer


async def cast_paced(run: Run, pairs: Sequence[tuple[str, Wallet, str]], rate: float) -> Cast:
    """Cast the votes at `rate` per second (64 connections at most in flight)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(Connection(run.bench.gateway_url))
    acked: dict[tuple[str, str], float] = {}
    errors: list[str] = []
    cast = run.op("CastVote")

    async def send(i: int) -> None:
        pid, voter, choice = pairs[i]
        conn = await pool.get()
        try:
            status, body = await conn.request(
                "POST",
                "/graphql",
                graphql_body(cast, {"proposalId": pid, "choice": choice}),
                auth(voter.token),
            )
            now = time.perf_counter()
            payload = (json.loads(body).get("data") or {}).get("castVote") or {}
            if status == 200 and payload.get("vote") and not payload.get("userErrors"):
                acked[(pid, voter.address.lower())] = now
            else:
                errors.append(f"{status}: {body[:300]!r}")
        except Exception as exc:
            errors.append(repr(exc))
            await conn.close()
        finally:
            pool.put_nowait(conn)

    seconds = await paced(rate, len(pairs), send)
    while not pool.empty():
        await pool.get_nowait().close()
    return Cast(acked, len(errors), errors[0] if errors else None, seconds)


def latencies(
    acked: dict[tuple[str, str], float], watcher: JetStreamWatcher, arrivals: dict[str, float]
) -> tuple[list[float], int]:
    """Arrival minus acknowledgement per event (an event may arrive before its acknowledgement: it is
    counted as 0 and reported apart)."""
    out, early = [], 0
    for event_id, at in arrivals.items():
        found = watcher.received.get(event_id)
        if found is None or found[0] not in acked:
            continue
        delta = at - acked[found[0]]
        if delta < 0:
            early += 1
        out.append(max(0.0, delta))
    return out, early


async def settle(check: Any, within: float = 10) -> None:
    """Poll `check` until true or `within` seconds passed (stragglers still on their way)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)


async def measure_platform(
    run: Run, pairs: Sequence[tuple[str, Wallet, str]], rate: float, subscribers: int
) -> dict[str, Any]:
    org = run.orgs["main"]
    watcher = JetStreamWatcher()
    await watcher.start(
        run.bench.nats_url, run.bench.stream, f"{run.bench.subject_prefix}.{org.slug}.vote.cast"
    )
    subs = await open_subscribers(run, subscribers)
    try:
        cast = await cast_paced(run, pairs, rate)
        acked = cast.acked
        await settle(
            lambda: len(watcher.received) >= len(acked) and all(len(s.frames) >= len(acked) for s in subs)
        )
    finally:
        for s in subs:
            await s.close()
        await watcher.stop()
    js_arrivals = {eid: at for eid, (_, at) in watcher.received.items()}
    js_lat, js_early = latencies(acked, watcher, js_arrivals)
    ws_lat: list[float] = []
    ws_early = delivered = 0
    protocol_errors: list[str] = []
    last_arrival = 0.0
    for s in subs:
        arrivals = s.events()
        lat, early = latencies(acked, watcher, arrivals)
        ws_lat += lat
        ws_early += early
        delivered += len(lat)
        protocol_errors += s.errors
        last_arrival = max([last_arrival, *arrivals.values()])
    first_ack = min(acked.values(), default=0.0)
    fanout_seconds = last_arrival - first_ack if acked and last_arrival > first_ack else None
    return {
        "rate": rate,
        "subscribers": subscribers,
        "votes": len(pairs),
        "acknowledged": len(acked),
        "voteErrors": cast.errors,
        "firstVoteError": cast.first_error,
        "sendSeconds": round(cast.seconds, 2),
        "achievedRate": round(len(acked) / cast.seconds, 1) if cast.seconds else None,
        "jetstream": {**summarize_ms(js_lat), "arrivedBeforeAck": js_early},
        "subscriber": {
            **summarize_ms(ws_lat),
            "arrivedBeforeAck": ws_early,
            "delivered": delivered,
            "expected": len(acked) * subscribers,
            # what the gateway's fan-out sustained: deliveries from the first acknowledgement to the last
            "deliveriesPerSecond": round(delivered / fanout_seconds, 1) if fanout_seconds else None,
            "protocolErrors": protocol_errors[:5],
        },
    }


async def measure_floor(run: Run, rate: float, count: int, subscribers: int) -> dict[str, Any]:
    """Raw NATS: JetStream publish (await the ack) at `rate`; arrival at an ordered JetStream consumer and
    at `subscribers` core-NATS subscriptions, measured from the publish's ack."""
    stream, subject = "BENCHFLOOR", "benchfloor.vote.cast"
    nc = await nats.connect(run.bench.nats_url)
    js = nc.jetstream()
    with contextlib.suppress(Exception):
        await js.delete_stream(stream)
    await js.add_stream(name=stream, subjects=["benchfloor.>"], max_bytes=512 * 1024 * 1024)
    acks: dict[int, float] = {}
    js_arrivals: dict[int, float] = {}
    core_arrivals: list[tuple[int, float]] = []

    async def on_js(msg: Any) -> None:
        js_arrivals[int(msg.header["i"])] = time.perf_counter()

    async def on_core(msg: Any) -> None:
        core_arrivals.append((int(msg.header["i"]), time.perf_counter()))

    await js.subscribe(
        subject, stream=stream, cb=on_js, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    for _ in range(subscribers):
        await nc.subscribe(subject, cb=on_core)
    body = json.dumps(
        {"specversion": "1.0", "type": "governance.vote.cast.v1", "data": {"x": "y" * 500}}
    ).encode()

    async def send(i: int) -> None:
        await js.publish(subject, body, headers={"i": str(i), "Nats-Msg-Id": f"floor-{time.time_ns()}-{i}"})
        acks[i] = time.perf_counter()

    try:
        await paced(rate, count, send)
        await settle(lambda: len(js_arrivals) >= count and len(core_arrivals) >= count * subscribers)
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream)
        await nc.close()

    def lat(pairs: Sequence[tuple[int, float]]) -> tuple[list[float], int]:
        out, early = [], 0
        for i, at in pairs:
            if i in acks:
                early += at < acks[i]
                out.append(max(0.0, at - acks[i]))
        return out, early

    js_lat, js_early = lat(list(js_arrivals.items()))
    core_lat, core_early = lat(core_arrivals)
    return {
        "rate": rate,
        "subscribers": subscribers,
        "published": len(acks),
        "jetstream": {**summarize_ms(js_lat), "arrivedBeforeAck": js_early},
        "subscriber": {**summarize_ms(core_lat), "arrivedBeforeAck": core_early, "delivered": len(core_lat)},
    }


async def run_events(run: Run) -> dict[str, Any]:
    org = run.orgs["main"]
    s = run.sizes
    # besides the rate asked for, half the vote rate scenario 2 sustained: latency without a backlog
    sustained = run.shared.get("write_throughput")
    easy_rate = round(min(s.event_rate, max(1.0, sustained / 2)), 1) if sustained else None
    counts = {
        "atRate": int(s.event_rate * s.event_seconds),
        "atSustainableRate": int(easy_rate * s.event_seconds) if easy_rate else 0,
        "manySubscribers": int(s.subscribers_rate * s.subscribers_seconds),
    }
    voters = len(org.stakeholders) - 1
    pairs = {}
    with run.step(f"events: proposals open for {sum(counts.values())} votes"):
        for part, n in counts.items():
            if n:
                ids = await propose_many(
                    run.api, org, math.ceil(n / voters), title=f"Event proposal ({part})"
                )
                pairs[part] = open_pairs(ids, org.stakeholders)[:n]
    plan = [
        ("atRate", s.event_rate, 1),
        ("atSustainableRate", easy_rate, 1),
        ("manySubscribers", s.subscribers_rate, s.subscribers),
    ]
    result: dict[str, Any] = {}
    for part, rate, subscribers in plan:
        if part not in pairs or rate is None:
            continue
        n = len(pairs[part])
        with run.step(f"events: {n} votes at {rate:g}/s, {subscribers} subscriber(s)"):
            with run.profiling(f"events-{part}") if part == "atRate" else contextlib.nullcontext():
                platform = await measure_platform(run, pairs[part], rate, subscribers)
            floor = await measure_floor(run, rate, n, subscribers)
        result[part] = {"platform": platform, "floor": floor, **excess(platform, floor)}
    return result


def excess(platform: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """Latency over the floor's, in ms (a ratio means little when the floor's is a fraction of a ms)."""
    out = {}
    for leg in ("jetstream", "subscriber"):
        p, f = platform[leg]["p99Ms"], floor[leg]["p99Ms"]
        out[f"{leg}P99ExcessMs"] = None if p is None or f is None else round(p - f, 2)
    return out
