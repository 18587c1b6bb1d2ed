"""Pure ASGI middleware for HTTP requests: request id, body size limit (413), time limit (504), metrics.

Websockets pass through untouched: they are limited per message by strawberry and authenticated in
`connection_init`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit import REQUEST_ID_HEADER, request_id_var


class GatewayMetrics:
    """One registry per app, so several gateways can live in one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.service_calls = Counter(
            "gateway_service_calls_total",
            "Calls to the services by service, method and status",
            ["service", "method", "status"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "gateway_requests_rejected_total",
            "Requests refused by a limit",
            ["reason"],
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "gateway_subscribers", "Open GraphQL subscriptions to proposal events", registry=self.registry
        )
        self.nats_subscriptions = Gauge(
            "gateway_nats_subscriptions", "JetStream subscriptions feeding them", registry=self.registry
        )


class _BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: dict[str, object], request_id: str) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _graphql_error(message: str, code: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class GatewayMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, timeout_seconds: float, metrics: GatewayMetrics
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(REQUEST_ID_HEADER.lower().encode(), b"").decode()[:128] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_token = request_id_var.set(request_id)  # the gateway's own log lines carry it too
        started = time.perf_counter()
        response = {"started": False, "status": 500}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            self.metrics.rejected.labels("body_size").inc()
            await _send_json(
                send, 413, _graphql_error("request body too large", "PAYLOAD_TOO_LARGE"), request_id
            )
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["started"] = True
                response["status"] = message["status"]
                message.setdefault("headers", []).append(
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode())
                )
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            self.metrics.rejected.labels("body_size").inc()
            if not response["started"]:
                response["status"] = 413
                await _send_json(
                    send, 413, _graphql_error("request body too large", "PAYLOAD_TOO_LARGE"), request_id
                )
        except TimeoutError:
            self.metrics.rejected.labels("timeout").inc()
            if not response["started"]:
                response["status"] = 504
                await _send_json(send, 504, _graphql_error("request took too long", "TIMEOUT"), request_id)
        finally:
            request_id_var.reset(request_id_token)
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(response["status"])).observe(
                time.perf_counter() - started
            )
