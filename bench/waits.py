"""Waiting for the platform to be quiet, and reading back what it published."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

if TYPE_CHECKING:
    from bench.context import Run


async def wait_outbox_drained(dsn: str, within: float = 120) -> float:
    """Until the service's relay has published every outbox row; answers the seconds waited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    conn = await asyncpg.connect(dsn)
    try:
        while await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"):
            if loop.time() - start > within:
                raise TimeoutError("the outbox did not drain")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return loop.time() - start


async def stream_last_sequence(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.last_seq
    finally:
        await nc.close()


async def read_events(nats_url: str, stream: str, subject: str, after_sequence: int) -> list[dict[str, Any]]:
    """Every event on `subject` after a stream sequence, read back with an ephemeral pull consumer."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(stream)).state.last_seq
        if last <= after_sequence:
            return []
        sub = await js.pull_subscribe(
            subject,
            stream=stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=after_sequence + 1,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
            ),
        )
        events = []
        while True:
            try:
                msgs = await sub.fetch(1000, timeout=1.0)
            except nats.errors.TimeoutError:
                break
            for msg in msgs:
                events.append(json.loads(msg.data))
            if msgs and msgs[-1].metadata.sequence.stream >= last:
                break
        await sub.unsubscribe()
        return events
    finally:
        await nc.close()


async def wait_consumers_idle(nats_url: str, stream: str, within: float = 300) -> float:
    """Until every durable consumer of the stream (the services' own) has nothing pending; answers the
    seconds waited. A scenario that leaves work behind (e.g. 10,000 verdicts for the proposals service
    to consume) must not bill it to the next one."""
    start = time.monotonic()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        while True:
            consumers = await js.consumers_info(stream)
            busy = [c for c in consumers if c.config.durable_name and (c.num_pending or c.num_ack_pending)]
            if not busy or time.monotonic() - start > within:
                return time.monotonic() - start
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def quiesce(run: Run) -> float:
    """Until what the previous scenario left (outbox rows, events to consume) is done; answers the
    seconds waited, so that no scenario is billed for the one before."""
    t0 = time.monotonic()
    for service in ("membership", "proposals", "timelock"):
        await wait_outbox_drained(run.bench.dsn(service), within=600)
    await wait_consumers_idle(run.bench.nats_url, run.bench.stream, within=600)
    return time.monotonic() - t0
