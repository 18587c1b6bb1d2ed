"""Helpers for tests of services built on the kit (real Postgres and NATS; no mocks of them)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from ._auth import INTERNAL_HEADER, mint_internal_token
from ._events import Envelope


class FakeClock:
    """A clock tests move by hand. Services read it through `Clock.now()`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def internal_headers(secret: str, actor: str | None = None) -> dict[str, str]:
    """Headers of a call as the gateway would make it on behalf of `actor`."""
    return {INTERNAL_HEADER: mint_internal_token(secret, actor)}


class ServiceClient(httpx.AsyncClient):
    """An in-process client that calls as the gateway would: `await client.as_actor(addr).post(...)`."""

    def __init__(self, app: FastAPI, secret: str, **kwargs: Any) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://service", **kwargs)
        self.secret = secret
        self.app = app

    def as_actor(self, actor: str | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://service",
            headers=internal_headers(self.secret, actor),
        )


@contextlib.asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[ServiceClient]:
    """Run the app's lifespan (migrations, relay, consumers, scheduler) and yield a client for it."""
    async with app.router.lifespan_context(app):
        secret = app.state.settings.internal_auth_secret
        async with ServiceClient(app, secret) as client:
            yield client


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


async def fetch_events(
    nats_url: str, stream: str, subject_filter: str, *, wait_seconds: float = 1.0
) -> list[Envelope]:
    """Every event currently in `stream` matching `subject_filter`, in stream order (ephemeral consumer)."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            subject_filter,
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        out: list[Envelope] = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=wait_seconds)
            except TimeoutError:
                break
            out.extend(Envelope.from_json(m.data) for m in msgs)
            if len(msgs) < 500:
                break
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def eventually(check: Callable[[], Any], *, within: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `check` (sync or async) until it returns a truthy value; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {last!r})")
        await asyncio.sleep(interval)
