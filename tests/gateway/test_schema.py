"""The schema against the contract: exported SDL current, every contract operation valid, the local
contract a faithful copy of the shared one, and every type and field described."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationDefinitionNode,
    parse,
    validate,
)

from gateway.export_schema import SDL_PATH, main, sdl
from gateway.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CONTRACT = ROOT / "contract"
SHARED_CONTRACT = ROOT.parent / "shared" / "contract"


def test_exported_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text() == sdl(), (
        "gateway/schema.graphql drifted: run python -m gateway.export_schema"
    )


def test_export_check_fails_when_the_file_drifted(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text(sdl().replace("type Query", "type Querry"))
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0


CONTRACT_DOCUMENT = parse((LOCAL_CONTRACT / "operations.graphql").read_text())
CONTRACT_OPERATIONS = [d for d in CONTRACT_DOCUMENT.definitions if isinstance(d, OperationDefinitionNode)]


@pytest.mark.parametrize(
    "operation", CONTRACT_OPERATIONS, ids=lambda d: d.name.value if d.name else "anonymous"
)
def test_contract_operation_validates_against_the_schema(operation: OperationDefinitionNode) -> None:
    errors = validate(build_schema()._schema, DocumentNode(definitions=(operation,)))
    assert errors == []


def test_contract_document_validates_as_a_whole() -> None:
    assert len(CONTRACT_OPERATIONS) >= 17
    assert validate(build_schema()._schema, CONTRACT_DOCUMENT) == []


@pytest.mark.parametrize("name", ["operations.graphql", "events.md"])
def test_local_contract_is_a_faithful_copy_of_the_shared_one(name: str) -> None:
    local = (LOCAL_CONTRACT / name).read_text()
    if name.endswith(".graphql"):
        parse(local)
    shared = SHARED_CONTRACT / name
    if not SHARED_CONTRACT.is_dir():
        # outside the workspace there is nothing to compare with: the local copy must still be usable
        assert local.strip()
        return
    assert shared.exists(), f"{shared} vanished from the shared contract"
    # the contract may only grow: what is shared stays as it is, new operations are appended after it
    assert local.startswith(shared.read_text()), f"contract/{name} lost or changed something of {shared}"


def test_shared_contract_has_no_file_missing_locally() -> None:
    if not SHARED_CONTRACT.is_dir():
        assert (LOCAL_CONTRACT / "operations.graphql").exists()
        return
    shared = {p.name for p in SHARED_CONTRACT.iterdir() if p.is_file()}
    local = {p.name for p in LOCAL_CONTRACT.iterdir() if p.is_file()}
    assert shared <= local


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, t in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, f in t.fields.items():
                if not f.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(f, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(t, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in t.values.items() if not value.description]
        if isinstance(t, GraphQLUnionType) and not t.description:
            missing.append(name)
    assert missing == []


def test_action_input_is_declared_one_of() -> None:
    assert "input ActionInput @oneOf {" in sdl()
