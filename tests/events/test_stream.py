"""The GOVERNANCE stream is created and kept in the shape the settings give, by every process at start-up
(`kit.Messaging` → `kit.ensure_stream`), idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from kit import Messaging, ServiceSettings


def shape(config: StreamConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "subjects": config.subjects,
        "retention": config.retention,
        "storage": config.storage,
        "max_age": config.max_age,
        "max_bytes": config.max_bytes,
        "discard": config.discard,
        "num_replicas": config.num_replicas,
        "duplicate_window": config.duplicate_window,
    }


def expected(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "name": settings.events_stream,
        "subjects": [f"{settings.events_subject_prefix}.>"],
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "max_age": float(settings.events_stream_max_age_seconds),
        "max_bytes": settings.events_stream_max_bytes,
        "discard": DiscardPolicy.OLD,
        "num_replicas": settings.events_stream_replicas,
        "duplicate_window": float(settings.events_duplicate_window_seconds),
    }


async def start(settings: ServiceSettings) -> Messaging:
    """What every process does at start-up: connect and put the stream in shape."""
    messaging = Messaging(settings, "stream-test")
    messaging.start()
    await asyncio.wait_for(messaging.wait_ready(), 15)
    return messaging


@pytest.fixture
def settings(settings_for: Any) -> ServiceSettings:
    return settings_for(
        ServiceSettings,
        events_stream_max_age_seconds=30 * 24 * 3600,
        events_stream_max_bytes=32 * 1024**2,
        events_duplicate_window_seconds=180,
    )


@pytest.fixture
async def js(infra: Any) -> AsyncIterator[Any]:
    nc = await nats.connect(infra.nats_url)
    yield nc.jetstream()
    await nc.close()


async def test_start_up_creates_the_stream_with_the_configured_shape(settings, js) -> None:
    messaging = await start(settings)
    await messaging.close()

    info = await js.stream_info(settings.events_stream)

    assert shape(info.config) == expected(settings)
    # the contract: a duplicate window of at least two minutes
    assert info.config.duplicate_window >= 120


async def test_the_default_duplicate_window_honours_the_contract() -> None:
    assert ServiceSettings().events_duplicate_window_seconds >= 120


async def test_a_second_start_leaves_the_stream_and_its_events_as_they_are(settings, js) -> None:
    first = await start(settings)
    await first.close()
    await js.publish(
        f"{settings.events_subject_prefix}.org.proposal.created", b"{}", headers={"Nats-Msg-Id": "e1"}
    )
    before = await js.stream_info(settings.events_stream)

    second = await start(settings)
    await second.close()
    after = await js.stream_info(settings.events_stream)

    assert after.created == before.created
    assert shape(after.config) == shape(before.config) == expected(settings)
    assert (after.state.messages, after.state.last_seq) == (1, 1)


async def test_a_drifted_stream_is_brought_back_to_the_settings_at_start_up(settings, js) -> None:
    first = await start(settings)
    await first.close()
    drifted = (await js.stream_info(settings.events_stream)).config
    drifted.subjects = [f"{settings.events_subject_prefix}.>", "elsewhere.>"]
    drifted.max_age = 60.0
    drifted.max_bytes = 1024 * 1024
    drifted.duplicate_window = 10.0
    drifted.discard = DiscardPolicy.NEW
    await js.update_stream(drifted)
    assert shape((await js.stream_info(settings.events_stream)).config) != expected(settings)

    second = await start(settings)
    await second.close()

    assert shape((await js.stream_info(settings.events_stream)).config) == expected(settings)
