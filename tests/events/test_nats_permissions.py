"""deploy/nats/accounts.conf in force on a real nats-server: the external subscriber `partner-dao` reads
the events of `reimagining-power` with its own consumer, and can read nothing else and publish nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from kit import ServiceSettings, ensure_stream, new_event
from stack.infra import EmbeddedNats

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nats" / "accounts.conf"
EXAMPLE = ROOT / "examples" / "follow_proposals.py"
PASSWORDS = {"BICAMERAL_NATS_PASSWORD": "platform-secret", "PARTNER_DAO_NATS_PASSWORD": "partner-secret"}
OURS, THEIRS = "reimagining-power", "another-org"
STREAM = "GOVERNANCE"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedNats]:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)  # nats-server reads the passwords from its environment
    embedded = EmbeddedNats(tmp_path / "jetstream", config_file=CONFIG)
    embedded.start()
    yield embedded
    embedded.stop()


def url(server: EmbeddedNats, user: str, password: str) -> str:
    return f"nats://{user}:{password}@127.0.0.1:{server.port}"


@dataclass
class Subscriber:
    nc: Client
    errors: list[str] = field(default_factory=list)

    @property
    def js(self) -> Any:
        # refused requests get no answer: wait one second, not five
        return self.nc.jetstream(timeout=1)

    async def refused(self, action: Any, subject: str) -> bool:
        """The action failed and the server reported a permissions violation on `subject`."""
        try:
            await action
        except Exception:
            pass
        else:
            return False
        await asyncio.sleep(0.1)
        return any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in self.errors)


@pytest.fixture
async def published(server: EmbeddedNats) -> AsyncIterator[dict[str, list[str]]]:
    """Three events of our organisation and two of another, published by the platform's user."""
    nc = await nats.connect(url(server, "bicameral", PASSWORDS["BICAMERAL_NATS_PASSWORD"]))
    js = nc.jetstream()
    await ensure_stream(js, ServiceSettings(events_stream_max_bytes=2**24))
    ids: dict[str, list[str]] = {OURS: [], THEIRS: []}
    for slug, count in ((OURS, 3), (THEIRS, 2)):
        for n in range(count):
            event = new_event(
                source="/services/proposals",
                organization=slug,
                organization_id="3f1c1b52-8a84-4a39-9a0e-8d2f8f6f1e01",
                aggregate="proposal",
                aggregate_id=f"6a0f1c52-8a84-4a39-9a0e-8d2f8f6f1e{n:02d}",
                event="created",
                data={"sequence": 1},
            )
            await js.publish(
                event.nats_subject("governance"), event.to_json(), headers={"Nats-Msg-Id": event.id}
            )
            ids[slug].append(event.id)
    yield ids
    await nc.close()


@pytest.fixture
async def partner(server: EmbeddedNats, published: dict[str, list[str]]) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(nc=None)  # type: ignore[arg-type]

    async def on_error(exc: Exception) -> None:
        subscriber.errors.append(str(exc))

    subscriber.nc = await nats.connect(
        url(server, "partner-dao", PASSWORDS["PARTNER_DAO_NATS_PASSWORD"]),
        inbox_prefix="_INBOX_partner-dao",
        error_cb=on_error,
        max_reconnect_attempts=0,
    )
    yield subscriber
    await subscriber.nc.close()


def consumer(filter_subject: str, name: str = "partner-dao", *, durable: bool = True) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        durable_name=name if durable else None,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        inactive_threshold=None if durable else 60.0,
    )


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "ephemeral"])
async def test_the_subscriber_reads_its_organisations_events_and_acknowledges_them(
    partner: Subscriber, published: dict[str, list[str]], durable: bool
) -> None:
    await partner.js.add_consumer(STREAM, consumer(f"governance.{OURS}.>", durable=durable))
    sub = await partner.js.pull_subscribe_bind(durable="partner-dao", stream=STREAM)
    msgs = await sub.fetch(10, timeout=1)
    for msg in msgs:
        await msg.ack_sync()

    assert [json.loads(m.data)["id"] for m in msgs] == published[OURS]
    info = await partner.js.consumer_info(STREAM, "partner-dao")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    assert partner.errors == []


@pytest.mark.parametrize("other", [f"governance.{THEIRS}.>", "governance.>", "governance.*.proposal.>"])
async def test_the_subscriber_cannot_filter_on_another_organisation(partner: Subscriber, other: str) -> None:
    assert await partner.refused(
        partner.js.add_consumer(STREAM, consumer(other)), f"{STREAM}.partner-dao.{other}"
    )


async def test_the_subscriber_cannot_use_another_consumer_name(partner: Subscriber) -> None:
    create = partner.js.add_consumer(STREAM, consumer(f"governance.{OURS}.>", name="timelock"))
    pull = partner.nc.request(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.timelock", b'{"batch":1}', timeout=1)

    assert await partner.refused(create, f"CONSUMER.CREATE.{STREAM}.timelock")
    assert await partner.refused(pull, f"CONSUMER.MSG.NEXT.{STREAM}.timelock")


@pytest.mark.parametrize(
    "api",
    [f"STREAM.MSG.GET.{STREAM}", f"DIRECT.GET.{STREAM}", f"STREAM.INFO.{STREAM}", f"STREAM.DELETE.{STREAM}"],
)
async def test_the_subscriber_cannot_read_or_change_the_stream_directly(
    partner: Subscriber, api: str
) -> None:
    request = partner.nc.request(f"$JS.API.{api}", b'{"seq":1}', timeout=1)

    assert await partner.refused(request, f"$JS.API.{api}")


async def test_the_subscriber_cannot_publish_events(partner: Subscriber, server: EmbeddedNats) -> None:
    subject = f"governance.{OURS}.proposal.enacted"

    assert await partner.refused(partner.js.publish(subject, b"{}"), subject)
    nc = await nats.connect(url(server, "bicameral", PASSWORDS["BICAMERAL_NATS_PASSWORD"]))
    try:
        assert (await nc.jetstream().stream_info(STREAM)).state.messages == 5
    finally:
        await nc.close()


@pytest.mark.parametrize("subject", [f"governance.{OURS}.>", "governance.>", "_INBOX.>", "$JS.ACK.>"])
async def test_the_subscriber_cannot_listen_on_subjects_or_other_inboxes(
    partner: Subscriber, subject: str
) -> None:
    await partner.nc.subscribe(subject)
    await partner.nc.flush()
    await asyncio.sleep(0.2)

    assert any(
        "permissions violation for subscription" in e.lower() and subject.lower() in e.lower()
        for e in partner.errors
    )


async def test_the_example_follower_runs_with_these_permissions(
    server: EmbeddedNats, published: dict[str, list[str]], tmp_path: Path
) -> None:
    args = [
        "--nats-url", url(server, "partner-dao", PASSWORDS["PARTNER_DAO_NATS_PASSWORD"]),
        "--organization", OURS,
        "--durable", "partner-dao",
        "--store", str(tmp_path / "follower.db"),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lines: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(20):
            while len(lines) < len(published[OURS]):
                lines.append(json.loads(await proc.stdout.readline()))  # type: ignore[union-attr]
    finally:
        proc.terminate()
        _, err = await proc.communicate()

    assert proc.returncode == 0, err.decode()[-2000:]
    assert [line["id"] for line in lines] == published[OURS]
    assert "violation" not in err.decode().lower()
