"""Bicameral's shared plumbing. No domain here; services and the gateway import from this surface only.

Settings      ServiceSettings
Database      Database, ensure_database, drop_databases, migrate, run_env (for alembic env.py),
              fetch_rows (hot reads straight through asyncpg)
Events        Envelope, new_event, Outbox, record_event, record_events, Relay
Consuming     Consumer (durable, idempotent through the inbox)
Deadlines     schedule_deadline(s), cancel_deadline(s), lock_deadlines, Deadline, Scheduler,
              FireInBatches
Time          Clock, SystemClock, utcnow
Identity      Caller, caller (FastAPI dependency), mint_internal_token, verify_internal_token,
              TokenKeyRing, INTERNAL_HEADER, normalize_address, checksum (Ethereum addresses)
Errors        DomainError and subclasses, error_from_code, HTTP_STATUS
App           create_service_app, Runtime, runtime_dep, session_dep, SessionDep, serve, collect_status,
              configure_logging, Messaging, ensure_stream
"""

from ._addresses import checksum, normalize_address
from ._app import (
    Metrics,
    Runtime,
    SessionDep,
    collect_status,
    create_service_app,
    error_response,
    install_error_handlers,
    runtime_dep,
    serve,
    session_dep,
)
from ._auth import (
    INTERNAL_HEADER,
    Caller,
    TokenKeyRing,
    caller,
    mint_internal_token,
    verify_internal_token,
)
from ._clock import Clock, SystemClock, utcnow
from ._consumer import Consumer, ConsumerRunner
from ._db import Database, Notifier, drop_databases, ensure_database, fetch_rows, notify_on_commit
from ._deadlines import Deadline, DeadlineStats, FireInBatches, Scheduler, deadline_stats
from ._deadlines import cancel as cancel_deadline
from ._deadlines import cancel_many as cancel_deadlines
from ._deadlines import lock as lock_deadlines
from ._deadlines import schedule as schedule_deadline
from ._deadlines import schedule_many as schedule_deadlines
from ._errors import (
    HTTP_STATUS,
    AlreadyExited,
    Conflict,
    CoreTeamFull,
    DomainError,
    Forbidden,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    ReviewClosed,
    Unauthenticated,
    Unavailable,
    VotingClosed,
    error_from_code,
)
from ._events import Envelope, new_event
from ._logging import REQUEST_ID_HEADER, configure_logging, current_request_id, request_id_var
from ._messaging import Messaging, ensure_stream, stream_config
from ._migrations import migrate, run_env
from ._outbox import Outbox, OutboxStats, Relay, outbox_stats, record_event, record_events
from ._settings import ServiceSettings

__all__ = [
    "HTTP_STATUS",
    "INTERNAL_HEADER",
    "REQUEST_ID_HEADER",
    "AlreadyExited",
    "Caller",
    "Clock",
    "Conflict",
    "Consumer",
    "ConsumerRunner",
    "CoreTeamFull",
    "Database",
    "Deadline",
    "DeadlineStats",
    "DomainError",
    "Envelope",
    "FireInBatches",
    "Forbidden",
    "InsufficientFunds",
    "InvalidInput",
    "Messaging",
    "Metrics",
    "NotFound",
    "Notifier",
    "Outbox",
    "OutboxStats",
    "Relay",
    "ReviewClosed",
    "Runtime",
    "Scheduler",
    "ServiceSettings",
    "SessionDep",
    "SystemClock",
    "TokenKeyRing",
    "Unauthenticated",
    "Unavailable",
    "VotingClosed",
    "caller",
    "cancel_deadline",
    "cancel_deadlines",
    "checksum",
    "collect_status",
    "configure_logging",
    "create_service_app",
    "current_request_id",
    "deadline_stats",
    "drop_databases",
    "ensure_database",
    "ensure_stream",
    "error_from_code",
    "error_response",
    "fetch_rows",
    "install_error_handlers",
    "lock_deadlines",
    "migrate",
    "mint_internal_token",
    "new_event",
    "normalize_address",
    "notify_on_commit",
    "outbox_stats",
    "record_event",
    "record_events",
    "request_id_var",
    "run_env",
    "runtime_dep",
    "schedule_deadline",
    "schedule_deadlines",
    "serve",
    "session_dep",
    "stream_config",
    "utcnow",
    "verify_internal_token",
]
