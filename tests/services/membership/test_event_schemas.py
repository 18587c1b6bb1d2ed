"""Every event type membership publishes has a JSON Schema, and the real published messages match it."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from kit.testing import eventually, fetch_events
from tests.services.membership.factories import commit, create_org, leave, new_address, policy_update

# all services' schemas live in events/schemas/; these are the ones membership publishes
SCHEMAS = Path(__file__).parents[3] / "events" / "schemas"
SOURCE = "/services/membership"


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


async def test_every_event_type_published_matches_its_schema(env):
    validators = _validators()
    rich, leaver = new_address(), new_address()
    org = await create_org(env, stakeholders=[rich, leaver], core_team=[new_address()])
    slug, cell = org["slug"], org["topLevelCellId"]
    await commit(env, rich, slug, 0, "100.50")
    await commit(env, leaver, slug, 1, "7")
    await env.enact(
        org,
        [
            {
                "createCell": {
                    "parentId": cell,
                    "name": "C",
                    "purpose": "p",
                    "coreTeam": [{"address": new_address()}],
                }
            },
            {"setCellState": {"cellId": cell, "purpose": "p", "strategy": "s", "agreements": ["a"]}},
            {"allocateBudget": {"cellId": cell, "cycle": 0, "amount": "10"}},
        ],
    )
    await env.enact(org, [{"allocateBudget": {"cellId": cell, "cycle": 0, "amount": "1000"}}])
    await leave(env, leaver, org["stakeholderGroupId"])
    await policy_update(env, org, stakeholderWeighting="COMMITTED_FUNDS", cycleLengthSeconds=86_400)
    commission = {
        "name": "F",
        "purpose": "p",
        "seats": [{"group": "SHG", "seats": 1}],
        "selection": "APPOINTED",
    }
    async with env.as_actor(rich) as c:
        made = await c.post(
            f"/v1/organizations/{slug}/commissions",
            json={**commission, "members": [{"address": new_address(), "group": "SHG"}]},
        )
    assert made.status_code == 201, made.text

    written = await env.events(slug)
    assert {e["type"] for e in written} == set(validators)

    async def published():
        found = await fetch_events(
            env.settings.nats_url,
            env.settings.events_stream,
            f"{env.settings.events_subject_prefix}.{slug}.>",
            wait_seconds=0.2,
        )
        return found if len(found) == len(written) else None

    for envelope in await eventually(published, within=15):
        document = envelope.to_cloudevent()
        errors = [e.message for e in validators[document["type"]].iter_errors(document)]
        assert errors == [], (document["type"], errors)
