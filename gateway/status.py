"""Dashboards: the platform's status, aggregated from every service's own `/status`.

Each service is asked in parallel with a short timeout; one that does not answer is `down`, one that
answers badly is `degraded`, and the aggregate never fails because of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from gateway.clients.pool import ServicePool

OK, DEGRADED, DOWN = "ok", "degraded", "down"
_KNOWN = {OK, DEGRADED, DOWN}


class StatusAggregator:
    def __init__(
        self,
        pool: ServicePool,
        *,
        version: str,
        timeout_seconds: float,
        gateway_details: Callable[[], dict[str, Any]],
    ) -> None:
        self._pool = pool
        self._version = version
        self._timeout = timeout_seconds
        self._gateway_details = gateway_details
        self._started = time.monotonic()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started

    def gateway_status(self) -> dict[str, Any]:
        details = self._gateway_details()
        return {
            "name": "gateway",
            "status": OK if details.get("nats") == "connected" else DEGRADED,
            "version": self._version,
            "uptimeSeconds": round(self.uptime_seconds, 3),
            "details": details,
        }

    async def probe(self, name: str, client: httpx.AsyncClient) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                response = await client.get("/status", timeout=self._timeout)
        except (TimeoutError, httpx.TimeoutException):
            return _down(name, f"no answer within {self._timeout:g}s")
        except httpx.HTTPError as exc:
            return _down(name, f"unreachable: {type(exc).__name__}")
        latency = round((time.perf_counter() - started) * 1000, 1)
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _entry(
                name, DEGRADED, None, None, {"error": f"unreadable answer ({response.status_code})"}
            )
        status = body.get("status")
        if response.status_code >= 500 or status not in _KNOWN:
            status = DEGRADED
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        return _entry(
            name,
            status,
            body.get("version"),
            body.get("uptimeSeconds"),
            {**details, "latencyMs": latency},
        )

    async def collect(self) -> dict[str, Any]:
        services = await asyncio.gather(*(self.probe(name, client) for name, client in self._pool.items()))
        entries = [self.gateway_status(), *services]
        states = [entry["status"] for entry in services]
        if all(state == DOWN for state in states):
            overall = DOWN
        elif all(state == OK for state in states) and entries[0]["status"] == OK:
            overall = OK
        else:
            overall = DEGRADED
        return {"status": overall, "services": entries}

    async def ready_problems(self) -> list[str]:
        """What keeps the gateway from serving: each service's liveness, in parallel."""

        async def check(name: str, client: httpx.AsyncClient) -> str | None:
            try:
                async with asyncio.timeout(self._timeout):
                    response = await client.get("/healthz", timeout=self._timeout)
            except (TimeoutError, httpx.HTTPError):
                return f"{name} unreachable"
            return None if response.is_success else f"{name} unhealthy ({response.status_code})"

        results = await asyncio.gather(*(check(name, client) for name, client in self._pool.items()))
        return [problem for problem in results if problem]


def _entry(name: str, status: str, version: Any, uptime: Any, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "version": None if version is None else str(version),
        "uptimeSeconds": uptime if isinstance(uptime, int | float) else None,
        "details": details,
    }


def _down(name: str, reason: str) -> dict[str, Any]:
    return _entry(name, DOWN, None, None, {"error": reason})
