"""The timelock's durable deadlines: the kit's scheduler fires them, `Timelock.on_deadlines` decides.

Each review has one pending deadline at a time (end of window, `enactAfter`, expiry), stored in
`kit_deadlines` in the transaction that set it. The kit's loop takes due rows with `FOR UPDATE SKIP
LOCKED` and marks them fired in the handler's transaction, so after a restart every missed deadline is
due at once and decided once, and replicas never decide the same one twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Clock, Database, Deadline, FireInBatches, Notifier, Scheduler

from .domain import DeadlineKind
from .service import Timelock

FireHandler = Callable[[AsyncSession, Deadline], Awaitable[None]]


def deadline_handlers(timelock: Timelock) -> dict[str, FireHandler]:
    """Every kind is decided in batches; the kit falls back to one deadline at a time when a batch fails."""
    batched = FireInBatches(timelock.on_deadlines)
    return {kind.value: batched for kind in DeadlineKind}


def build_scheduler(
    db: Database, clock: Clock, timelock: Timelock, notifier: Notifier | None = None, **options: object
) -> Scheduler:
    """A scheduler outside the app (tests run several over one database to play replicas)."""
    return Scheduler(db, clock, deadline_handlers(timelock), notifier, **options)  # type: ignore[arg-type]
