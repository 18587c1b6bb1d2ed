"""The app factory every service shares: lifecycle, plumbing loops and the operational endpoints.

`create_service_app(...)` builds a FastAPI app whose lifespan migrates (unless `RUN_MIGRATIONS=false`),
opens the database, connects to NATS in the background (the service takes writes while NATS is down),
and runs the notifier, outbox relay, consumers and deadline scheduler as tasks. It serves:

- `/healthz`  the process is alive;
- `/readyz`   database reachable, migrations current, NATS connected (503 with reasons otherwise);
- `/status`   JSON for dashboards: name, version, uptime, outbox backlog and oldest age, consumer lag,
              deadlines, and the service's own details;
- `/metrics`  Prometheus text.

Route handlers reach the runtime through `request.app.state.runtime` or the `runtime_dep` / `session_dep`
dependencies; `session_dep` yields a transactional session that commits after the handler returns and
before the response is sent (rolls back on error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._clock import Clock, SystemClock
from ._consumer import Consumer, ConsumerRunner
from ._db import Database, Notifier
from ._deadlines import DEADLINES_CHANNEL, Deadline, FireHandler, Scheduler, deadline_stats
from ._errors import HTTP_STATUS, DomainError
from ._logging import REQUEST_ID_HEADER, configure_logging, new_request_id, request_id_var
from ._messaging import Messaging
from ._migrations import MigrationCheck, migrate
from ._outbox import OUTBOX_CHANNEL, Outbox, Relay, outbox_stats
from ._settings import ServiceSettings

log = logging.getLogger("kit.app")


class Metrics:
    """One registry per app, so several apps can live in one test process."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.published = Counter(
            "outbox_published_total", "Events relayed to JetStream", registry=self.registry
        )
        self.outbox_backlog = Gauge("outbox_backlog", "Events waiting in the outbox", registry=self.registry)
        self.outbox_oldest = Gauge(
            "outbox_oldest_age_seconds", "Age of the oldest unpublished event", registry=self.registry
        )
        self.consumed = Gauge(
            "consumer_processed_total", "Events applied by consumer", ["consumer"], registry=self.registry
        )
        self.parked = Gauge(
            "consumer_parked_total", "Events parked by consumer", ["consumer"], registry=self.registry
        )
        self.consumer_lag = Gauge(
            "consumer_lag", "Events not yet applied", ["consumer"], registry=self.registry
        )
        self.deadlines_fired = Counter(
            "deadlines_fired_total", "Durable deadlines fired", ["kind"], registry=self.registry
        )
        self.deadline_lag = Histogram(
            "deadline_fire_lag_seconds",
            "Delay between a deadline's due time and its firing",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.deadlines_pending = Gauge(
            "deadlines_pending", "Durable deadlines pending", registry=self.registry
        )
        self.deadlines_overdue = Gauge(
            "deadlines_oldest_overdue_seconds", "How late the oldest due deadline is", registry=self.registry
        )
        self.service = service


@dataclass
class Runtime:
    """Everything a running service shares across requests."""

    settings: ServiceSettings
    name: str
    version: str
    clock: Clock
    db: Database
    messaging: Messaging
    outbox: Outbox
    metrics: Metrics
    notifier: Notifier
    started_at: float = field(default_factory=time.monotonic)
    consumers: list[ConsumerRunner] = field(default_factory=list)
    scheduler: Scheduler | None = None
    migration_check: MigrationCheck | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at


async def runtime_dep(request: Request) -> Runtime:
    return request.app.state.runtime


async def session_dep(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.db.session() as session:
        yield session


# commits before the response goes out, so an acknowledged write is a committed write
SessionDep = Depends(session_dep, scope="function")

StatusDetails = Callable[[AsyncSession, Runtime], Awaitable[dict[str, Any]]]


class _RequestContext:
    """Pure ASGI middleware: request id in and out, request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = headers.get(REQUEST_ID_HEADER.lower()) or new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status["code"])).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(token)


def error_response(code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=HTTP_STATUS.get(code, 500)
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        return error_response("INVALID_INPUT", str(first.get("msg", "invalid input")), ".".join(loc) or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the framework's own refusals (unknown route, wrong method, unparsable body) in the same shape
        code = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}.get(
            exc.status_code, "INVALID_INPUT" if exc.status_code < 500 else "INTERNAL"
        )
        body = {"error": {"code": code, "message": str(exc.detail), "field": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RecursionError)
    async def _too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return error_response("INVALID_INPUT", "input nested too deeply")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(OSError)
    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", extra={"error": repr(exc)})
        return error_response("UNAVAILABLE", "a dependency is unavailable; retry shortly")

    @app.exception_handler(DBAPIError)
    async def _dbapi(_request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return error_response("UNAVAILABLE", "the database connection was lost; retry shortly")
        if str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"):
            # class 22, data exception: text Postgres cannot store (NUL bytes) or values out of range
            return error_response("INVALID_INPUT", "a value cannot be stored (invalid characters or range)")
        log.exception("database error")
        return error_response("INTERNAL", "internal error")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response("INTERNAL", "internal error")


async def _migrate_with_retry(settings: ServiceSettings, migrations: Path, attempts: int = 60) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await migrate(settings, migrations)
            return
        except (OSError, OperationalError, InterfaceError, ConnectionError) as exc:
            if attempt == attempts:
                raise
            log.warning("database not reachable for migrations; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(1)


async def _stop_tasks(tasks: list[asyncio.Task[Any]], within: float = 10.0) -> None:
    """Cancel the background loops and wait for them, cancelling again if a library swallowed it."""
    deadline = asyncio.get_running_loop().time() + within
    pending = {t for t in tasks if not t.done()}
    while pending and asyncio.get_running_loop().time() < deadline:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)
    for task in pending:
        log.error("background task did not stop", extra={"task": task.get_name()})


def _spawn(runtime: Runtime, coro: Awaitable[Any], name: str) -> None:
    async def guarded() -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task crashed", extra={"task": name})
            raise

    runtime.tasks.append(asyncio.create_task(guarded(), name=name))


def create_service_app(
    settings: ServiceSettings,
    *,
    name: str,
    version: str,
    migrations: Path,
    routers: Sequence[APIRouter] = (),
    consumers: Callable[[Runtime], Sequence[Consumer]] | None = None,
    deadline_handlers: Callable[[Runtime], Mapping[str, FireHandler]] | None = None,
    status_details: StatusDetails | None = None,
    clock: Clock | None = None,
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None,
    description: str = "",
) -> FastAPI:
    metrics = Metrics(name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(name, settings.log_level)
        if settings.run_migrations:
            await _migrate_with_retry(settings, migrations)
        runtime = Runtime(
            settings=settings,
            name=name,
            version=version,
            clock=clock or SystemClock(),
            db=Database(settings.sqlalchemy_url, pool_size=settings.database_pool_size),
            messaging=Messaging(settings, name),
            outbox=Outbox(settings.events_subject_prefix),
            metrics=metrics,
            notifier=Notifier(settings.service_dsn, [OUTBOX_CHANNEL, DEADLINES_CHANNEL]),
            migration_check=MigrationCheck(migrations),
        )
        app.state.runtime = runtime
        runtime.messaging.start()
        _spawn(runtime, runtime.notifier.run(), f"{name}-notifier")
        relay = Relay(runtime.db, runtime.messaging, runtime.notifier, on_published=metrics.published.inc)
        runtime.extra["relay"] = relay
        _spawn(runtime, relay.run(), f"{name}-relay")
        for consumer in consumers(runtime) if consumers else ():
            runner = ConsumerRunner(
                runtime.db, runtime.messaging, consumer, max_deliver=settings.consumer_max_deliver
            )
            runtime.consumers.append(runner)
            _spawn(runtime, runner.run(), f"{name}-consumer-{consumer.name}")
        if deadline_handlers:

            def on_fired(deadline: Deadline, lag: float) -> None:
                metrics.deadlines_fired.labels(deadline.kind).inc()
                metrics.deadline_lag.observe(max(0.0, lag))

            runtime.scheduler = Scheduler(
                runtime.db, runtime.clock, deadline_handlers(runtime), runtime.notifier, on_fired=on_fired
            )
            _spawn(runtime, runtime.scheduler.run(), f"{name}-scheduler")
        if on_startup:
            await on_startup(runtime)
        log.info("started", extra={"version": version, "port": settings.port})
        try:
            yield
        finally:
            await _stop_tasks(runtime.tasks)
            await runtime.messaging.close()
            await runtime.db.dispose()
            log.info("stopped")

    app = FastAPI(title=f"Bicameral {name}", version=version, description=description, lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(_RequestContext, metrics=metrics)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        problems: list[str] = []
        try:
            async with asyncio.timeout(2), runtime.db.engine.connect() as conn:
                if runtime.migration_check and not await runtime.migration_check.is_current(conn):
                    problems.append("migrations not current")
        except Exception as exc:
            problems.append(f"database unreachable: {type(exc).__name__}")
        if not runtime.messaging.connected:
            problems.append("nats not connected")
        elif not runtime.messaging.ready.is_set():
            problems.append("events stream not in shape yet (see the logs)")
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/status", tags=["operations"])
    async def status(request: Request) -> dict[str, Any]:
        return await collect_status(request.app.state.runtime, status_details)

    @app.get("/metrics", tags=["operations"])
    async def metrics_endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2), runtime.db.session() as session:
                stats = await outbox_stats(session, runtime.clock.now())
                metrics.outbox_backlog.set(stats.backlog)
                metrics.outbox_oldest.set(stats.oldest_age_seconds)
                if runtime.scheduler:
                    dstats = await deadline_stats(session, runtime.clock.now())
                    metrics.deadlines_pending.set(dstats.pending)
                    metrics.deadlines_overdue.set(dstats.oldest_overdue_seconds)
        for runner in runtime.consumers:
            metrics.consumed.labels(runner.durable).set(runner.consumer.processed)
            metrics.parked.labels(runner.durable).set(runner.consumer.parked)
            lag = await runner.lag()
            if lag is not None:
                metrics.consumer_lag.labels(runner.durable).set(lag)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def collect_status(runtime: Runtime, status_details: StatusDetails | None) -> dict[str, Any]:
    state = "ok"
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(3), runtime.db.session() as session:
            stats = await outbox_stats(session, runtime.clock.now())
            details["outbox"] = {
                "backlog": stats.backlog,
                "oldestAgeSeconds": round(stats.oldest_age_seconds, 3),
            }
            if runtime.scheduler:
                d = await deadline_stats(session, runtime.clock.now())
                details["deadlines"] = {
                    "pending": d.pending,
                    "nextDueAt": d.next_due_at.isoformat() if d.next_due_at else None,
                    "oldestOverdueSeconds": round(d.oldest_overdue_seconds, 3),
                    "firedLastMinute": d.fired_last_minute,
                }
            if status_details:
                details.update(await status_details(session, runtime))
    except Exception as exc:
        state = "degraded"
        details["database"] = f"unreachable: {type(exc).__name__}"
    consumers = []
    for runner in runtime.consumers:
        consumers.append(
            {
                "name": runner.durable,
                "lag": await runner.lag(),
                "processed": runner.consumer.processed,
                "duplicates": runner.consumer.duplicates,
                "parked": runner.consumer.parked,
            }
        )
    details["consumers"] = consumers
    details["nats"] = "connected" if runtime.messaging.connected else "disconnected"
    if not runtime.messaging.connected:
        state = "degraded"
    return {
        "name": runtime.name,
        "status": state,
        "version": runtime.version,
        "uptimeSeconds": round(runtime.uptime_seconds, 3),
        "details": details,
    }


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service process (`python -m services.<name>`): graceful shutdown finishes in-flight
    requests within `SHUTDOWN_GRACE_SECONDS`, then the lifespan drains NATS."""
    import gc

    import uvicorn

    # everything imported so far lives as long as the process: keep it out of the collector's full
    # passes, which otherwise pause every request (measured in bench/README.md)
    gc.collect()
    gc.freeze()
    # A request allocates thousands of container objects (ORM rows, pydantic models, GraphQL results):
    # at the default threshold (700) the young generation is collected a few times per request, and
    # each pass walks what is still in flight. 10,000 makes that ~20x rarer for ~2 ms pauses
    # (bench/README.md, "Findings (read path)").
    gc.set_threshold(10_000, 10, 10)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        proxy_headers=True,
    )
