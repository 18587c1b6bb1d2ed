"""The published events' JSON Schemas, one file per CloudEvents `type` (docs/events.md).

`events/schemas/<type>.json` describes the whole CloudEvents document of one `type`, e.g.
`governance.proposal.enacted.v1`; `events/baseline/` holds the schemas as last released, which
`events.compat` compares them with so that a published version never changes incompatibly.

This directory is part of the repository, not of the image: the services do not read it at run time.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent
SCHEMAS_DIR = ROOT / "schemas"
BASELINE_DIR = ROOT / "baseline"

TYPE_PATTERN = re.compile(
    r"^governance\.(?P<aggregate>[a-z_]+)\.(?P<event>[a-z_]+)\.v(?P<version>[1-9][0-9]*)$"
)


def load_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """Every schema of a directory by its `type` (the file name without `.json`)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


@cache
def schemas() -> dict[str, dict[str, Any]]:
    return load_dir(SCHEMAS_DIR)


def source_of(schema: dict[str, Any]) -> str | None:
    """The emitting service a schema names (`/services/proposals`), from its `source` const."""
    return schema.get("properties", {}).get("source", {}).get("const")


def validators(source: str | None = None) -> dict[str, Draft202012Validator]:
    """A validator per event type (with format checks), optionally only the types `source` emits."""
    out = {}
    for name, schema in schemas().items():
        if source is not None and source_of(schema) != source:
            continue
        out[name] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return out
