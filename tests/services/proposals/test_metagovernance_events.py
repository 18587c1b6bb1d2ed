"""Every metagovernance event type has a JSON Schema in events/schemas/, and the messages read back
from JetStream match it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from jsonschema import Draft202012Validator

from kit.testing import eventually, fetch_events

from .support import CELL_CORE, STAKEHOLDERS, TLC_CORE, address

SCHEMAS = Path(__file__).parents[3] / "events" / "schemas"
METAGOVERNANCE_TYPES = frozenset(
    f"governance.{t}.v1"
    for t in (
        "experiment.started",
        "experiment.renewed",
        "experiment.ended",
        "experiment.retrospective_attached",
        "poll.created",
        "poll.answered",
        "poll.closed",
        "poll.linked",
        "milestone.created",
        "milestone.linked",
        "milestone.completed",
        "proposal.voting_opened",
        "proposal.feedback_given",
        "proposal.appealed",
    )
)


def _validators() -> dict[str, Draft202012Validator]:
    out = {}
    for name in METAGOVERNANCE_TYPES:
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        Draft202012Validator.check_schema(schema)
        out[name] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return out


async def _post(h, actor: str, path: str, body: dict) -> dict:
    async with h.as_actor(actor) as c:
        r = await c.post(path, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _every_kind_of_event(h):
    org = await h.found({"policyDelaySeconds": 0, "vetoThresholdPercent": 30})
    commission = uuid.uuid4()
    await h.deliver(org.body(commission, "COMMISSION"))
    await h.deliver(org.joined(commission, address(41), "COMMISSIONER", 0))

    async def policy(update: dict) -> None:
        p = await h.proposed(STAKEHOLDERS[0], org.shg, "POLICY", actions=[{"updatePolicy": update}])
        assert (await h.votes(p["id"], STAKEHOLDERS[:2]))["status"] == "ENACTED"

    # milestones first, so that the experiment's enactment completes one
    graph = await _post(
        h, STAKEHOLDERS[0], f"/v1/organizations/{org.id}/milestones", {"phase": "A", "title": "a"}
    )
    first = graph["milestones"][0]["id"]
    graph = await _post(
        h, STAKEHOLDERS[0], f"/v1/organizations/{org.id}/milestones", {"phase": "B", "title": "b"}
    )
    second = next(m["id"] for m in graph["milestones"] if m["title"] == "b")
    await _post(h, STAKEHOLDERS[0], f"/v1/milestones/{second}/links", {"dependsOn": [first]})
    await _post(h, STAKEHOLDERS[0], f"/v1/milestones/{first}/links", {"moduleKeys": ["OPERATIONAL:CELL"]})
    # an experiment, renewed, then ended
    experiment = {"hypothesis": "h", "successMeasures": ["m"], "bodyIds": [str(org.cell)], "cycles": 1}
    await policy(
        {"modules": [{"key": "OPERATIONAL:CELL", "votingPeriodSeconds": 60}], "experiment": experiment}
    )
    [exp] = (await h.get(f"/v1/organizations/{org.id}/experiments")).json()["items"]
    await policy(
        {
            "renewExperiment": {
                "experimentId": exp["id"],
                "endsAt": (h.clock.now() + timedelta(seconds=10)).isoformat(),
            }
        }
    )
    h.clock.advance(11)
    await h.settle()
    await _post(h, STAKEHOLDERS[0], f"/v1/experiments/{exp['id']}/retrospective", {"text": "learned"})
    # a poll linked, answered, closed
    p = await h.proposed(CELL_CORE[0], org.cell)
    poll = await _post(
        h,
        CELL_CORE[0],
        f"/v1/organizations/{org.id}/polls",
        {
            "question": "q",
            "options": ["a", "b"],
            "closesAt": (h.clock.now() + timedelta(seconds=60)).isoformat(),
        },
    )
    await _post(h, CELL_CORE[0], f"/v1/polls/{poll['id']}/link", {"proposalId": p["id"]})
    await _post(h, STAKEHOLDERS[0], f"/v1/polls/{poll['id']}/answers", {"choices": [1]})
    h.clock.advance(61)
    await h.settle()
    # feedback before voting, then voting opens
    await policy(
        {
            "modules": [
                {
                    "key": "OPERATIONAL:TOP_LEVEL_CELL",
                    "feedbackCommissionId": str(commission),
                    "feedbackWindowSeconds": 30,
                }
            ]
        }
    )
    draft = await h.proposed(TLC_CORE[0], org.tlc)
    await _post(h, address(41), f"/v1/proposals/{draft['id']}/feedback", {"text": "ok"})
    h.advance_to(datetime.fromisoformat(draft["votingStartsAt"]) + timedelta(seconds=1))
    await h.settle()
    # an appeal
    await h.votes(draft["id"], TLC_CORE[:2])
    await h.deliver(org.timelock(draft["id"], "review.blocked", {"objectionWeight": "1"}))
    await _post(h, TLC_CORE[0], f"/v1/proposals/{draft['id']}/appeal", {})
    return org


async def test_every_metagovernance_event_published_matches_its_schema(h):
    validators = _validators()
    org = await _every_kind_of_event(h)
    written = [
        e
        for e in await h.outbox()
        if e["data"].get("organizationId") == str(org.id) and e["type"] in METAGOVERNANCE_TYPES
    ]
    assert {e["type"] for e in written} == METAGOVERNANCE_TYPES

    async def published() -> list:
        found = await fetch_events(
            h.settings.nats_url,
            h.settings.events_stream,
            f"{h.settings.events_subject_prefix}.{org.slug}.>",
            wait_seconds=0.2,
        )
        ours = [e for e in found if e.type in METAGOVERNANCE_TYPES]
        return ours if len(ours) >= len(written) else []

    for envelope in await eventually(published, within=15):
        doc = envelope.to_cloudevent()
        errors = [e.message for e in validators[doc["type"]].iter_errors(doc)]
        assert errors == [], f"{doc['type']}: {errors}"
