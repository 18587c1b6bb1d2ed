"""Sending webhook deliveries, away from everything else the timelock does.

The kit's durable deadlines say *when* an attempt is due (the first at once, each retry after its
backoff); a dedicated `Scheduler` fires only the webhook kinds, so webhook timers never share a batch
or a transaction with review deadlines. Firing writes nothing: after its commit it wakes the endpoint's
sender, and the HTTP request happens here, outside any transaction:

- one in-flight request per endpoint (its own worker), so a slow or dead endpoint holds up only its
  own deliveries, and `TIMELOCK_WEBHOOK_MAX_CONCURRENCY` requests at most in all;
- a hard time limit per request (`TIMELOCK_WEBHOOK_TIMEOUT_SECONDS`, connection to answer), no
  redirects, at most a few hundred bytes of the answer read;
- the host is resolved for every attempt and the request goes to the address checked, so a DNS answer
  cannot turn a public endpoint into a private one between the check and the connection.

A sender leases a delivery just before its request (a deadline of its own, `webhook_lease`): if the
process stops mid-request, the lease runs out and the attempt is retried. A sweep every few seconds
wakes senders for anything due that no wake-up reached (a restart, another replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from kit import Database, Deadline, DomainError

from .domain import ATTEMPT_KIND, MAX_ERROR_LENGTH, ip_literal, parse_url, refuse_unless_public

log = logging.getLogger("timelock.webhooks")

# what a receiver's answer may add to a failed attempt's error
ANSWER_BYTES = 300
USER_AGENT = "Bicameral-Webhooks/1"

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Request:
    """One attempt, ready to send: the delivery's body and the headers that sign it."""

    delivery_id: uuid.UUID
    attempt: int
    url: str
    body: bytes
    headers: dict[str, str]


async def send(
    http: httpx.AsyncClient,
    request: Request,
    *,
    time_limit: float,
    allow_private: bool,
    resolver: Resolver = resolve,
) -> Result:
    started = time.monotonic()

    def result(status: int | None, error: str | None) -> Result:
        text = None if error is None else error[:MAX_ERROR_LENGTH]
        return Result(status, text, int((time.monotonic() - started) * 1000))

    try:
        async with asyncio.timeout(time_limit):
            target = parse_url(request.url, require_https=False)
            try:
                literal = ip_literal(target.host)
                addresses = [literal] if literal else await resolver(target.host, target.port)
            except OSError as exc:
                return result(None, f"cannot resolve {target.host}: {exc}")
            refuse_unless_public(addresses, allow_private=allow_private)
            url = httpx.URL(request.url)
            # connect to the address just checked, not to whatever a second lookup would answer
            pinned = url.copy_with(host=addresses[0])
            headers = {**request.headers, "Host": url.netloc.decode()}
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            outgoing = http.build_request(
                "POST", pinned, content=request.body, headers=headers, extensions=extensions
            )
            response = await http.send(outgoing, stream=True, follow_redirects=False)
            try:
                if response.is_success:
                    return result(response.status_code, None)
                answer = b""
                async for chunk in response.aiter_raw():
                    answer += chunk
                    if len(answer) >= ANSWER_BYTES:
                        break
                snippet = answer[:ANSWER_BYTES].decode(errors="replace").strip()
                return result(response.status_code, f"HTTP {response.status_code}: {snippet}".rstrip(": "))
            finally:
                await response.aclose()
    except TimeoutError:
        return result(None, f"no answer within {time_limit:g} s")
    except DomainError as exc:
        return result(None, exc.message)
    except httpx.HTTPError as exc:
        return result(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


class Dispatcher:
    """Sends what is due, one endpoint at a time per endpoint, with bounded concurrency overall.

    `wake(endpoint_id)` (the webhook scheduler's after-commit hook, and a periodic sweep) makes sure a
    worker runs for that endpoint: it claims the endpoint's oldest due delivery (`claim(session,
    endpoint_id)` leases it and answers the signed `Request`), sends it outside any transaction, stores
    the result (`record(session, delivery_id, attempt, result)`), and goes on until nothing is due.
    The lease is taken just before sending, so a long queue behind a slow endpoint never spends attempts.
    """

    def __init__(
        self,
        db: Database,
        claim: Callable[..., Awaitable[Request | None]],
        record: Callable[..., Awaitable[None]],
        due_endpoints: Callable[..., Awaitable[list[uuid.UUID]]],
        *,
        timeout: float,
        max_concurrency: int,
        allow_private: bool,
        resolver: Resolver = resolve,
        http: httpx.AsyncClient | None = None,
        sweep_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self._claim = claim
        self._record = record
        self._due_endpoints = due_endpoints
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver
        self.sweep_seconds = sweep_seconds
        self.send = send
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = http or httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            # `send` holds each request to `timeout` as a whole; these only bound the single phases
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._again: set[uuid.UUID] = set()
        self.sent = 0

    def on_fired(self, deadline: Deadline, _lag: float) -> None:
        """The webhook scheduler's after-commit hook: an attempt came due."""
        if deadline.kind == ATTEMPT_KIND:
            self.wake(uuid.UUID(str(deadline.payload["endpointId"])))

    def wake(self, endpoint_id: uuid.UUID) -> None:
        if endpoint_id in self._workers:
            self._again.add(endpoint_id)  # the running worker looks once more before it stops
            return
        self._workers[endpoint_id] = asyncio.create_task(
            self._work(endpoint_id), name=f"webhook-endpoint-{endpoint_id}"
        )

    @property
    def busy_endpoints(self) -> int:
        return len(self._workers)

    async def _work(self, endpoint_id: uuid.UUID) -> None:
        try:
            while True:
                self._again.discard(endpoint_id)
                try:
                    sent = await self._one(endpoint_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # a claimed delivery keeps its lease: when it runs out, the attempt is retried
                    log.exception("webhook attempt failed to run", extra={"endpoint_id": str(endpoint_id)})
                    await asyncio.sleep(1)
                    sent = False
                if not sent and endpoint_id not in self._again:
                    return
        finally:
            self._workers.pop(endpoint_id, None)

    async def _one(self, endpoint_id: uuid.UUID) -> bool:
        async with self.db.session() as session:
            request = await self._claim(session, endpoint_id)
        if request is None:
            return False
        async with self._slots:
            result = await self.send(
                self._http,
                request,
                time_limit=self.timeout,
                allow_private=self.allow_private,
                resolver=self.resolver,
            )
        self.sent += 1
        async with self.db.session() as session:
            await self._record(session, request.delivery_id, request.attempt, result)
        return True

    async def _sweep(self) -> None:
        async with self.db.session() as session:
            due = await self._due_endpoints(session)
        for endpoint_id in due:
            self.wake(endpoint_id)

    async def run(
        self, housekeeping: Callable[[], Awaitable[None]] | None = None, every: float = 3600
    ) -> None:
        """Lives as long as the app: sweeps for due work a lost wake-up (a restart, another replica's
        scheduler) left behind, runs the housekeeping; on cancel, stops the workers and the client."""
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time()
        try:
            while True:
                try:
                    await self._sweep()
                    if housekeeping is not None and loop.time() >= next_housekeeping:
                        next_housekeeping = loop.time() + every
                        await housekeeping()
                except Exception as exc:
                    log.warning("webhook sweep failed", extra={"error": repr(exc)})
                await asyncio.sleep(self.sweep_seconds)
        finally:
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            if workers:
                await asyncio.wait(workers, timeout=2)
            with contextlib.suppress(Exception):
                await self._http.aclose()
