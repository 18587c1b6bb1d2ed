from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from ._settings import ServiceSettings

log = logging.getLogger("kit.messaging")


def _raise_if_cancelling() -> None:
    """nats-py sometimes turns a cancellation into another exception; loops must still stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Messaging:
    """The process's NATS connection, kept alive forever, and the events stream kept in shape.

    nats-py gives up reconnecting after about two minutes by default and raises on a failed first
    connect: here the first connect is retried in the background and reconnects never stop, so the
    process starts (and keeps taking writes into the outbox) while NATS is down.
    """

    def __init__(self, settings: ServiceSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.nc: Client | None = None
        self._js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise ConnectionError("NATS is not connected")
        return self._js

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"{self.name}-nats-connect")

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error", extra={"error": repr(exc)})

    async def _on_disconnected(self) -> None:
        log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")

    async def _connect_forever(self) -> None:
        while self.nc is None:
            try:
                self.nc = await nats.connect(
                    self.settings.nats_url,
                    name=self.name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except Exception as exc:
                _raise_if_cancelling()
                log.warning("nats connect failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1)
        self._js = self.nc.jetstream(timeout=5)
        while True:
            try:
                await ensure_stream(self._js, self.settings)
                break
            except Exception as exc:
                _raise_if_cancelling()
                # e.g. a storage change JetStream cannot make in place: ops must act (readyz says so)
                log.error("events stream set-up failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1)
        self.ready.set()

    async def wait_ready(self) -> None:
        await self.ready.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), timeout=5)
            with contextlib.suppress(Exception):
                await self.nc.close()


def stream_config(settings: ServiceSettings) -> StreamConfig:
    return StreamConfig(
        name=settings.events_stream,
        subjects=[f"{settings.events_subject_prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=float(settings.events_stream_max_age_seconds),
        max_bytes=settings.events_stream_max_bytes,
        discard=DiscardPolicy.OLD,
        num_replicas=settings.events_stream_replicas,
        duplicate_window=float(settings.events_duplicate_window_seconds),
    )


async def ensure_stream(js: JetStreamContext, settings: ServiceSettings) -> None:
    """Create the events stream, or bring an existing one to the configured shape (idempotent)."""
    config = stream_config(settings)
    try:
        await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            pass  # created by another process in the meantime
    await js.update_stream(config)
