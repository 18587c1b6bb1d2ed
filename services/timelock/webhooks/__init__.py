"""Signed webhooks: an organisation's endpoints receive its events (docs/events.md, "Webhooks").

domain.py      URLs, subject filters, signatures, what an attempt's result does (pure)
repository.py  all SQL (organisations, endpoints, deliveries, attempts)
service.py     register / list / delete, fan-out, lease and record attempts (never commits)
sender.py      the HTTP side: per-endpoint queues, bounded concurrency, time limits, address checks
consumer.py    the durable consumer of every event
api.py         the internal HTTP routes the gateway calls
"""

from __future__ import annotations

import asyncio
from typing import Any

from kit import Runtime, Scheduler

from .consumer import build_consumer
from .crypto import SecretBox
from .domain import ATTEMPT_KIND, LEASE_KIND
from .sender import Dispatcher
from .service import Webhooks

__all__ = ["Dispatcher", "Webhooks", "build_consumer", "start", "webhooks_of"]


def webhooks_of(runtime: Runtime) -> Webhooks:
    """The one `Webhooks` of a running app, built from its settings on first use."""
    webhooks = runtime.extra.get("webhooks")
    if webhooks is None:
        s: Any = runtime.settings
        webhooks = Webhooks(
            clock=runtime.clock,
            box=SecretBox(s.webhook_secret_keys),
            timeout_seconds=s.webhook_timeout_seconds,
            max_attempts=s.webhook_max_attempts,
            retry_base_seconds=s.webhook_retry_base_seconds,
            retry_max_seconds=s.webhook_retry_max_seconds,
            allow_private_addresses=s.webhook_allow_private_addresses,
            require_https=s.webhook_require_https,
        )
        runtime.extra["webhooks"] = webhooks
    return webhooks


def start(runtime: Runtime) -> Dispatcher:
    """The webhook scheduler (only the webhook deadline kinds) and the dispatcher, as app tasks."""
    webhooks = webhooks_of(runtime)
    s: Any = runtime.settings
    dispatcher = Dispatcher(
        runtime.db,
        webhooks.claim,
        webhooks.record,
        webhooks.due_endpoints,
        timeout=s.webhook_timeout_seconds,
        max_concurrency=s.webhook_max_concurrency,
        allow_private=s.webhook_allow_private_addresses,
        resolver=webhooks.resolver,
    )
    scheduler = Scheduler(
        runtime.db,
        runtime.clock,
        {ATTEMPT_KIND: webhooks.on_deadline, LEASE_KIND: webhooks.on_deadline},
        runtime.notifier,
        on_fired=dispatcher.on_fired,
    )

    async def purge() -> None:
        async with runtime.db.session() as session:
            await webhooks.purge(session, s.webhook_retention_seconds)

    runtime.extra["webhook_dispatcher"] = dispatcher
    runtime.extra["webhook_scheduler"] = scheduler
    runtime.tasks.append(asyncio.create_task(scheduler.run(), name="timelock-webhook-scheduler"))
    runtime.tasks.append(asyncio.create_task(dispatcher.run(purge), name="timelock-webhook-dispatcher"))
    return dispatcher
