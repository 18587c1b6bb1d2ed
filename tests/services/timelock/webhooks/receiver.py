"""A webhook receiver on a real socket (127.0.0.1), verifying deliveries as docs/events.md tells
subscribers to."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from kit.testing import eventually


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> dict[str, Any]:
    """The subscriber's check: a fresh timestamp, then `v1=` HMAC-SHA256 of "<timestamp>.<body>"."""
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        raise ValueError("stale timestamp")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    offered = [p.removeprefix("v1=") for p in headers["webhook-signature"].split() if p.startswith("v1=")]
    if not any(hmac.compare_digest(expected, sig) for sig in offered):
        raise ValueError("bad signature")
    return json.loads(body)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers `status` (after `delay` seconds); `statuses` (consumed first) script the answers."""

    status: int = 204
    delay: float = 0.0
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hang: bool = False
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(headers, body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hang:
                await self.release.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        status = self.statuses.pop(0) if self.statuses else self.status
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"nope" if status >= 300 else b""})

    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received]


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=0, log_config=None, lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), within=10)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        server.force_exit = True
        await task
