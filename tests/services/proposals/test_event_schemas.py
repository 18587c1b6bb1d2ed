"""Every event type proposals publishes has a JSON Schema, and the messages read back from JetStream
match it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from jsonschema import Draft202012Validator

from kit.testing import eventually, fetch_events

from .support import CELL_CORE, STAKEHOLDERS, TLC_CORE, address
from .test_metagovernance_events import METAGOVERNANCE_TYPES

# all services' schemas live in events/schemas/; these are the ones proposals publishes
SCHEMAS = Path(__file__).parents[3] / "events" / "schemas"
SOURCE = "/services/proposals"


def _validators() -> dict[str, Draft202012Validator]:
    out = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        if schema["properties"]["source"]["const"] != SOURCE:
            continue
        Draft202012Validator.check_schema(schema)
        out[schema["title"]] = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return out


async def _every_kind_of_event(h) -> object:
    org = await h.found({"policyDelaySeconds": 60})
    # defeated
    p = await h.proposed(CELL_CORE[0], org.cell)
    await h.votes(p["id"], CELL_CORE[:2], "AGAINST")
    # expired
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "STAKEHOLDER")
    # cancelled
    c = await h.proposed(CELL_CORE[0], org.cell)
    async with h.as_actor(CELL_CORE[0]) as client:
        await client.post(f"/v1/proposals/{c['id']}/cancel")
    h.advance_to(datetime.fromisoformat(p["votingEndsAt"]) + timedelta(seconds=1))
    await h.settle()
    # review: mirrored events, then blocked
    p = await h.proposed(TLC_CORE[0], org.tlc)
    await h.votes(p["id"], TLC_CORE[:2])
    await h.deliver(
        org.timelock(
            p["id"], "review.started", {"endsAt": "2030-02-01T00:00:00Z", "vetoThresholdWeight": "1"}
        )
    )
    await h.deliver(
        org.timelock(
            p["id"],
            "review.concern_raised",
            {"concernId": str(uuid.uuid4()), "raisedBy": STAKEHOLDERS[0], "reason": "hm", "endsAt": None},
        )
    )
    await h.deliver(
        org.timelock(
            p["id"],
            "review.objection_recorded",
            {
                "objector": STAKEHOLDERS[0],
                "objectionWeight": "1",
                "vetoThresholdWeight": "1",
                "withdrawn": False,
            },
        )
    )
    await h.deliver(org.timelock(p["id"], "review.blocked", {"objectionWeight": "1"}))
    # membership actions requested, then rejected
    add = {"addMember": {"bodyId": str(org.cell), "address": address(80), "role": "CONTRIBUTOR"}}
    p = await h.proposed(CELL_CORE[0], org.cell, actions=[add])
    await h.votes(p["id"], CELL_CORE[:2])
    await h.deliver(
        org.membership("organization", org.id, "actions_rejected", {"proposalId": p["id"], "reason": "no"})
    )
    # a policy change: delay, queued, enacted, new module versions
    update = {"updatePolicy": {"quorumPercent": 30}}
    p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[update])
    await h.votes(p["id"], STAKEHOLDERS[:2])
    await h.deliver(org.timelock(p["id"], "operation.queued", {"enactAfter": "2030-03-01T00:00:00Z"}))
    await h.deliver(org.timelock(p["id"], "operation.ready", {}))
    return org


async def test_every_event_type_published_matches_its_schema(h):
    validators = _validators()
    org = await _every_kind_of_event(h)
    written = [e for e in await h.outbox() if e["data"].get("organizationId") == str(org.id)]
    # metagovernance's types are exercised by test_metagovernance_events.py
    assert {e["type"] for e in written} == set(validators) - METAGOVERNANCE_TYPES

    async def published() -> list:
        found = await fetch_events(
            h.settings.nats_url,
            h.settings.events_stream,
            f"{h.settings.events_subject_prefix}.{org.slug}.>",
            wait_seconds=0.2,
        )
        ours = [e for e in found if e.source == "/services/proposals"]
        return ours if len(ours) >= len(written) else []

    messages = await eventually(published, within=15)
    for envelope in messages:
        doc = envelope.to_cloudevent()
        errors = [e.message for e in validators[doc["type"]].iter_errors(doc)]
        assert errors == [], f"{doc['type']}: {errors}"
