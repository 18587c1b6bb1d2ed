"""The gateway app: `/graphql` (queries, mutations, graphql-transport-ws subscriptions, GraphiQL),
`/healthz`, `/readyz`, `/status` (the platform's, aggregated) and `/metrics`."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from gateway.clients.pool import ServicePool
from gateway.config import Settings
from gateway.context import Context, GatewayRuntime, get_context
from gateway.fanout import EventHub
from gateway.middleware import GatewayMetrics, GatewayMiddleware
from gateway.schema import build_schema
from gateway.status import StatusAggregator
from kit import Messaging, TokenKeyRing, Unauthenticated, configure_logging

log = logging.getLogger("gateway")

try:
    VERSION = package_version("bicameral")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    VERSION = "0.0.0"


def _unstorable_text(value: object) -> bool:
    """Whether a decoded request holds text no service can store: a NUL character (Postgres text cannot
    hold one) or an unpaired surrogate (not UTF-8). Iterative: the nesting is as deep as a client made it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class GatewayGraphQLRouter(GraphQLRouter[Context, None]):
    def decode_json(self, data: str | bytes) -> object:
        """Requests the services could not take are malformed (HTTP 400, websocket 4400), not server errors:
        JSON nested deeper than the parser's stack, and text with NUL characters or unpaired surrogates."""
        try:
            decoded = super().decode_json(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None
        if _unstorable_text(decoded):
            raise json.JSONDecodeError("text with a NUL character or an unpaired surrogate", "", 0)
        return decoded

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket once, from `connection_init`'s payload (a browser cannot set headers).

        `{"authorization": "Bearer <token>"}` (or `{"token": "<token>"}`); none means anonymous; a bad one
        closes the connection (4403) rather than silently downgrading it.
        """
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("authorization") or params.get("Authorization")
        if authorization is None and params.get("token"):
            authorization = f"Bearer {params['token']}"
        if authorization is None:
            if context.auth_error:
                raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": context.auth_error})
            return None
        try:
            context.authenticate(str(authorization))
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": exc.message}) from exc
        return None


def _instrument(pool: ServicePool, metrics: GatewayMetrics) -> None:
    for name, client in pool.items():

        async def on_response(response: httpx.Response, service: str = name) -> None:
            metrics.service_calls.labels(service, response.request.method, str(response.status_code)).inc()

        client.event_hooks["response"].append(on_response)


def create_app(
    settings: Settings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The gateway. `transports` replaces the network to the services (tests: ASGI apps or mocks)."""
    settings = settings or Settings()
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", settings.log_level)
        # one INFO line per service call would drown the gateway's own logs
        logging.getLogger("httpx").setLevel(logging.WARNING)
        pool = ServicePool.create(settings, transports)
        _instrument(pool, metrics)
        messaging = Messaging(settings, "gateway")
        messaging.start()
        hub = EventHub(
            messaging,
            stream=settings.events_stream,
            subject_prefix=settings.events_subject_prefix,
            queue_size=settings.subscriber_queue_size,
            watchdog_seconds=settings.events_watchdog_seconds,
            idle_heartbeat_seconds=settings.events_idle_heartbeat_seconds,
        )

        def gateway_details() -> dict[str, Any]:
            return {
                "nats": "connected" if messaging.connected else "disconnected",
                "natsSubscriptions": hub.nats_subscriptions,
                "subscribers": hub.total_subscribers,
            }

        status = StatusAggregator(
            pool,
            version=VERSION,
            timeout_seconds=settings.status_timeout_seconds,
            gateway_details=gateway_details,
        )
        key_ring = TokenKeyRing.parse(settings.auth_token_keys) if settings.auth_token_keys else None
        if key_ring is None:
            log.warning("AUTH_TOKEN_KEYS is not set: every request is anonymous")
        app.state.gateway = GatewayRuntime(settings, pool, hub, status, key_ring)
        app.state.messaging = messaging
        log.info("started", extra={"version": VERSION, "port": settings.port})
        try:
            yield
        finally:
            await hub.close()
            await messaging.close()
            await pool.aclose()
            log.info("stopped")

    app = FastAPI(
        title="Bicameral gateway",
        version=VERSION,
        description="The GraphQL API of Bicameral for front-ends, dashboards and other DAOs.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    graphql = GatewayGraphQLRouter(
        build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql else None,
        context_getter=get_context,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        allowed_origins=settings.allowed_origins,
    )
    app.include_router(graphql, prefix="/graphql")
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_body_bytes,
        timeout_seconds=settings.request_timeout_seconds,
        metrics=metrics,
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        runtime: GatewayRuntime = request.app.state.gateway
        problems = [] if request.app.state.messaging.connected else ["nats not connected"]
        problems += await runtime.status.ready_problems()
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/status", tags=["operations"])
    async def status(request: Request) -> dict[str, Any]:
        runtime: GatewayRuntime = request.app.state.gateway
        doc = await runtime.status.collect()
        return {
            "name": "gateway",
            "status": doc["status"],
            "version": VERSION,
            "uptimeSeconds": round(runtime.status.uptime_seconds, 3),
            "services": doc["services"],
        }

    @app.get("/metrics", tags=["operations"])
    async def metrics_endpoint(request: Request) -> Response:
        hub: EventHub = request.app.state.gateway.hub
        metrics.subscribers.set(hub.total_subscribers)
        metrics.nats_subscriptions.set(hub.nats_subscriptions)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
