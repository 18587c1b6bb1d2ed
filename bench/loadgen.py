"""Load generation: a lean keep-alive HTTP/1.1 client, closed-loop runners and latency statistics.

The client is a few lines over asyncio streams rather than httpx: at 64 concurrent clients on two cores,
the load generator shares the CPU with everything it measures, and httpx costs several times more per
request than the parsing done here. The same client drives the platform and its floor, so whatever it
costs is the same on both sides of a ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it are sequential."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request; answer (status, body). A connection the server had closed while idle is
        reopened once (the request never reached it)."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body or method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (0, 1):
            reused = self._writer is not None
            if not reused:
                await self._connect()
            assert self._reader is not None
            assert self._writer is not None
            self._writer.write(raw)
            try:
                status_line = await self._reader.readline()
            except ConnectionError:
                status_line = b""
            if status_line:
                return await self._read_response(status_line)
            await self.close()
            if not reused or attempt:
                raise HttpError("the server closed the connection without answering")
        raise HttpError("unreachable")  # pragma: no cover

    async def _read_response(self, status_line: bytes) -> tuple[int, bytes]:
        assert self._reader is not None
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip())
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif key == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self._reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await self._reader.readline()
                    break
                parts.append(await self._reader.readexactly(size))
                await self._reader.readline()
            payload = b"".join(parts)
        elif length is not None:
            payload = await self._reader.readexactly(length)
        else:
            payload = await self._reader.read()
            close = True
        if close:
            await self.close()
        return status, payload


# --- GraphQL over the lean client ------------------------------------------------------------------


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def status_ok(status: int, _body: bytes) -> bool:
    return status == 200


def fixed(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> RequestFactory:
    """The same request every time."""
    request = (method, path, body, headers or {})
    return lambda _n: request


def graphql_ok(status: int, body: bytes) -> bool:
    """A cheap check for a read: HTTP 200, data present, no top-level errors (no full parse)."""
    return status == 200 and b'"errors"' not in body and b'"data":null' not in body


# --- statistics ------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def summarize_ms(latencies_s: Sequence[float]) -> dict[str, float | int | None]:
    """Latency figures in milliseconds (None when there were no samples)."""
    values = sorted(latencies_s)
    if not values:
        return {"samples": 0, "p50Ms": None, "p90Ms": None, "p99Ms": None, "maxMs": None, "meanMs": None}

    def ms(x: float) -> float:
        return round(x * 1000, 2)

    return {
        "samples": len(values),
        "p50Ms": ms(percentile(values, 50)),
        "p90Ms": ms(percentile(values, 90)),
        "p99Ms": ms(percentile(values, 99)),
        "maxMs": ms(values[-1]),
        "meanMs": ms(sum(values) / len(values)),
    }


@dataclass
class RunResult:
    """What a closed-loop run measured in its window (warm-up excluded)."""

    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    exhausted: bool = False
    # every answer, warm-up included (what the CPU time of the whole run is divided by)
    answered: int = 0
    # CPU milliseconds per answered request, per process (set by the caller that measured it)
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "requests": len(self.latencies),
            "throughputPerSecond": round(self.throughput, 1),
            **summarize_ms(self.latencies),
            "errors": self.errors,
            "firstError": self.first_error,
            "workExhausted": self.exhausted,
            "cpuMsPerRequest": self.cpu_ms,
        }


# A request factory answers (method, path, body, headers) for the n-th request, or None when the work
# is used up; a check decides whether an answer counts as a success.
Request = tuple[str, str, bytes, dict[str, str]]
RequestFactory = Callable[[int], Request | None]
Check = Callable[[int, bytes], bool]


async def closed_loop(
    url: str,
    make: RequestFactory,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    check: Check = graphql_ok,
    min_requests: int = 5,
    max_extra_seconds: float = 60.0,
    warmup_requests: int | None = None,
) -> RunResult:
    """`concurrency` clients each send a request as soon as their previous one is answered.

    Requests sent after the warm-up are counted; clients stop sending `seconds` later, or once
    `min_requests` were counted if that takes longer (at most `max_extra_seconds` more), so that a
    slow run still has figures. Throughput is counted requests over the time from the end of the
    warm-up to the last answer. `check` sees every answer.

    With finite work, `warmup_requests` ends the warm-up early once that many requests were sent, so
    that a fast side cannot use up all the work before its window opens."""
    counter = iter(range(10**12))
    loop = asyncio.get_running_loop()
    start = loop.time()
    window = {"start": start + warmup}
    result = RunResult(concurrency, seconds)
    last_answer = [window["start"]]
    exhausted = [False]

    def done(now: float) -> bool:
        if now < window["start"] + seconds:
            return False
        return len(result.latencies) >= min_requests or now >= window["start"] + seconds + max_extra_seconds

    async def client() -> None:
        conn = Connection(url)
        try:
            while not done(loop.time()):
                n = next(counter)
                if warmup_requests is not None and n == warmup_requests and loop.time() < window["start"]:
                    window["start"] = last_answer[0] = loop.time()
                req = make(n)
                if req is None:
                    exhausted[0] = True
                    return
                method, path, body, headers = req
                sent_loop = loop.time()
                sent = time.perf_counter()
                try:
                    status, payload = await conn.request(method, path, body, headers)
                except Exception as exc:
                    result.errors += 1
                    result.first_error = result.first_error or repr(exc)
                    await conn.close()
                    continue
                answered = time.perf_counter()
                result.answered += 1
                if not check(status, payload):
                    result.errors += 1
                    result.first_error = result.first_error or f"{status}: {payload[:300]!r}"
                    continue
                if sent_loop >= window["start"]:
                    result.latencies.append(answered - sent)
                    last_answer[0] = max(last_answer[0], loop.time())
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.exhausted = exhausted[0]
    result.seconds = max(0.001, last_answer[0] - window["start"])
    return result


async def paced(
    rate: float, count: int, send: Callable[[int], Awaitable[None]], *, max_in_flight: int = 256
) -> float:
    """Start `send(i)` for i in 0..count-1 at `rate` per second (open loop: a slow answer never delays
    the next start); answer the seconds it took until every send finished."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    gate = asyncio.Semaphore(max_in_flight)
    tasks = []

    async def one(i: int) -> None:
        try:
            await send(i)
        finally:
            gate.release()

    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return loop.time() - start
