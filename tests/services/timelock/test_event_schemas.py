"""Every event type the timelock publishes has a JSON Schema in events/schemas/, and the messages read back
from JetStream match it."""

from __future__ import annotations

from events import validators
from kit.testing import eventually, fetch_events

from .support import WEEK, Harness, Org, proposal_event

SOURCE = "/services/timelock"


async def test_every_event_type_published_matches_its_schema(timelock: Harness, org: Org) -> None:
    schemas = validators(SOURCE)
    await timelock.found_org(org, [1, 1, 1])
    blocked = await timelock.open_review(org, percent="50")
    await timelock.concern(1, blocked, "is this within our purpose?")
    await timelock.object(1, blocked, reason="no")
    await timelock.object(2, blocked)
    expiring = await timelock.open_review(org, delay=60, grace=WEEK)
    await timelock.advance(WEEK)
    await timelock.advance(60)
    await timelock.advance(WEEK)
    cancelled = await timelock.open_review(org)
    await timelock.deliver(proposal_event(org, cancelled, "cancelled", {"status": "CANCELLED"}))

    written = await timelock.events()
    assert {e["type"] for e in written} == set(schemas)
    assert {e["data"]["proposalId"] for e in written} == {str(blocked), str(expiring), str(cancelled)}

    async def read_back() -> list:
        found = await fetch_events(
            timelock.settings.nats_url,
            timelock.settings.events_stream,
            f"{timelock.settings.events_subject_prefix}.{org.slug}.>",
            wait_seconds=0.2,
        )
        ours = [e for e in found if e.source == SOURCE]
        return ours if len(ours) == len(written) else []

    for envelope in await eventually(read_back, within=15):
        document = envelope.to_cloudevent()
        errors = [e.message for e in schemas[document["type"]].iter_errors(document)]
        assert errors == [], (document["type"], errors)
