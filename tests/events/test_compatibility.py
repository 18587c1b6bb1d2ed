"""A released event version never changes incompatibly: events/schemas/ against events/baseline/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from events import BASELINE_DIR, SCHEMAS_DIR, TYPE_PATTERN, load_dir
from events.compat import check, record, unrecorded

ENACTED = "governance.proposal.enacted.v1"
VOTE = "governance.vote.cast.v1"


def baseline() -> dict[str, Any]:
    return load_dir(BASELINE_DIR)


def released(name: str) -> dict[str, Any]:
    return copy.deepcopy(baseline()[name])


# --- the repository as it is ---------------------------------------------------------------------------


def test_every_released_version_is_still_published_compatibly() -> None:
    assert check(load_dir(SCHEMAS_DIR), baseline()) == []


def test_every_schema_is_recorded_in_the_baseline() -> None:
    assert unrecorded(load_dir(SCHEMAS_DIR), baseline()) == [], "run: python -m events.compat --record"


@pytest.mark.parametrize("path", sorted(SCHEMAS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_schema_is_a_valid_json_schema_named_for_its_type(path: Path) -> None:
    schema = json.loads(path.read_text())

    Draft202012Validator.check_schema(schema)
    assert TYPE_PATTERN.match(path.stem)
    assert schema["title"] == schema["properties"]["type"]["const"] == path.stem


# --- what the checker refuses ---------------------------------------------------------------------------


def _changed(name: str, change) -> list[str]:
    schema = released(name)
    change(schema)
    return check({**baseline(), name: schema}, baseline())


def test_removing_a_property_is_incompatible() -> None:
    def remove(schema: dict[str, Any]) -> None:
        del schema["properties"]["data"]["properties"]["actions"]
        schema["properties"]["data"]["required"].remove("actions")

    assert _changed(ENACTED, remove) == [f"{ENACTED}: data.actions: property removed"]


def test_making_a_property_required_is_incompatible() -> None:
    def require(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["enactedAt"] = {"type": "string"}
        schema["properties"]["data"]["required"].append("enactedAt")

    assert _changed(ENACTED, require) == [f"{ENACTED}: data: now required: ['enactedAt']"]


def test_changing_a_type_is_incompatible() -> None:
    def retype(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["sequence"] = {"type": "string"}

    assert _changed(ENACTED, retype) == [
        f"{ENACTED}: data.sequence: type changed from ['integer'] to ['string']"
    ]


def test_narrowing_an_enum_is_incompatible() -> None:
    def narrow(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["choice"]["enum"].remove("ABSTAIN")

    assert _changed(VOTE, narrow) == [f"{VOTE}: data.choice: enum narrowed: ['ABSTAIN'] no longer allowed"]


def test_turning_a_free_value_into_an_enum_is_incompatible() -> None:
    def close(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["organization"]["enum"] = ["one-org"]

    assert _changed(ENACTED, close) == [f"{ENACTED}: data.organization: now limited to ['one-org']"]


def test_a_null_no_longer_allowed_is_incompatible() -> None:
    name = "governance.membership.left.v1"

    def not_null(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["proposalId"] = schema["properties"]["data"]["properties"][
            "proposalId"
        ]["oneOf"][0]

    assert _changed(name, not_null) == [f"{name}: data.proposalId: alternative 1 is no longer accepted"]


def test_a_released_version_removed_is_incompatible() -> None:
    current = baseline()
    del current[ENACTED]

    assert check(current, baseline()) == [f"{ENACTED}: schema removed while this version is released"]


# --- what it allows -------------------------------------------------------------------------------------


def test_an_optional_property_a_new_enum_value_and_a_looser_constraint_are_compatible() -> None:
    def grow(schema: dict[str, Any]) -> None:
        data = schema["properties"]["data"]["properties"]
        data["note"] = {"type": "string"}
        data["choice"]["enum"].append("BLOCK")
        data["reason"] = {}
        schema["description"] = "reworded"

    assert _changed(VOTE, grow) == []


def test_an_incompatible_change_as_a_new_version_leaves_the_old_one_valid() -> None:
    v2 = released(ENACTED)
    del v2["properties"]["data"]["properties"]["actions"]
    v2["title"] = v2["properties"]["type"]["const"] = "governance.proposal.enacted.v2"

    assert check({**baseline(), "governance.proposal.enacted.v2": v2}, baseline()) == []


def test_recording_adds_new_schemas_and_never_rewrites_released_ones(tmp_path: Path) -> None:
    schemas, base = tmp_path / "schemas", tmp_path / "baseline"
    schemas.mkdir()
    base.mkdir()
    (schemas / f"{ENACTED}.json").write_text(json.dumps({"title": "changed"}))
    (base / f"{ENACTED}.json").write_text(json.dumps({"title": "released"}))
    (schemas / "governance.proposal.enacted.v2.json").write_text(json.dumps({"title": "new"}))

    assert record(schemas, base) == ["governance.proposal.enacted.v2"]
    assert json.loads((base / f"{ENACTED}.json").read_text()) == {"title": "released"}
    assert json.loads((base / "governance.proposal.enacted.v2.json").read_text()) == {"title": "new"}
