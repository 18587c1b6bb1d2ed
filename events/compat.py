"""Is every published event type still what its subscribers were promised?

`python -m events.compat` compares `events/schemas/` with `events/baseline/` (the schemas as released)
and exits 1 when a released version changed incompatibly; `--record` adds schemas that are not in the
baseline yet (a new type, or a new `.vN+1` of an old one) and never rewrites one that is.

Incompatible, for a `.vN` already in the baseline:

- the schema file is gone (an old version keeps being published until it is retired, deliberately,
  by removing it from the baseline too);
- a property is removed;
- a property becomes required;
- a type changes (a JSON type no longer allowed, a `const` with another value);
- an enum narrows (a value no longer allowed, or a free value becomes an enum);
- a `oneOf`/`anyOf` alternative is no longer accepted.

Compatible: new optional properties, new enum values, looser constraints, descriptions. Subscribers
must ignore properties they do not know and tolerate enum values they do not know (docs/events.md).
An incompatible change is a new file `governance.<aggregate>.<event>.v<N+1>.json`, published next to
the old version until that one is retired.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from events import BASELINE_DIR, SCHEMAS_DIR, load_dir

Schema = dict[str, Any]


def _types(schema: Schema) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _values(schema: Schema) -> list[Any] | None:
    """The values a schema allows when it lists them (`const` or `enum`), else None (any value)."""
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _alternatives(schema: Schema) -> list[Schema] | None:
    for keyword in ("oneOf", "anyOf"):
        if isinstance(schema.get(keyword), list):
            return schema[keyword]
    return None


def breaks(old: Schema, new: Schema, path: str = "") -> Iterator[str]:
    """Why a document valid under `old` may be refused by, or read differently under, `new`."""
    where = path or "(document)"
    old_alts, new_alts = _alternatives(old), _alternatives(new)
    if old_alts is not None or new_alts is not None:
        for i, alt in enumerate(old_alts if old_alts is not None else [old]):
            candidates = new_alts if new_alts is not None else [new]
            if not any(not list(breaks(alt, c, path)) for c in candidates):
                yield f"{where}: alternative {i} is no longer accepted"
        return

    old_types, new_types = _types(old), _types(new)
    if old_types is not None and new_types is not None and not old_types <= new_types:
        yield f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}"

    old_values, new_values = _values(old), _values(new)
    if new_values is not None:
        if old_values is None:
            yield f"{where}: now limited to {new_values}"
        else:
            lost = [v for v in old_values if v not in new_values]
            if lost:
                kind = "const changed" if "const" in old and "const" in new else "enum narrowed"
                yield f"{where}: {kind}: {lost} no longer allowed"

    added = sorted(set(new.get("required", [])) - set(old.get("required", [])))
    if added:
        yield f"{where}: now required: {added}"

    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            yield f"{path}.{name}".lstrip(".") + ": property removed"
        elif isinstance(sub, dict) and isinstance(new_props[name], dict):
            yield from breaks(sub, new_props[name], f"{path}.{name}".lstrip("."))

    for keyword in ("items", "additionalProperties"):
        if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
            yield from breaks(old[keyword], new[keyword], f"{path}[{keyword}]")


def check(current: dict[str, Schema], baseline: dict[str, Schema]) -> list[str]:
    """Every incompatibility of `current` against `baseline`, as `type: path: why` lines."""
    problems: list[str] = []
    for name, old in sorted(baseline.items()):
        new = current.get(name)
        if new is None:
            problems.append(f"{name}: schema removed while this version is released")
            continue
        problems.extend(f"{name}: {why}" for why in breaks(old, new))
    return problems


def unrecorded(current: dict[str, Schema], baseline: dict[str, Schema]) -> list[str]:
    return sorted(set(current) - set(baseline))


def record(schemas_dir: Path = SCHEMAS_DIR, baseline_dir: Path = BASELINE_DIR) -> list[str]:
    """Copy the schemas the baseline lacks into it; answers their types. Recorded ones stay as they are."""
    baseline_dir.mkdir(parents=True, exist_ok=True)
    added = unrecorded(load_dir(schemas_dir), load_dir(baseline_dir))
    for name in added:
        shutil.copyfile(schemas_dir / f"{name}.json", baseline_dir / f"{name}.json")
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--record", action="store_true", help="add new schemas to the baseline")
    args = parser.parse_args(argv)
    current, baseline = load_dir(SCHEMAS_DIR), load_dir(BASELINE_DIR)
    problems = check(current, baseline)
    for line in problems:
        sys.stderr.write(f"incompatible: {line}\n")
    if problems:
        sys.stderr.write("publish the change as a new version (.v<N+1>.json) instead\n")
        return 1
    if args.record:
        for name in record():
            sys.stdout.write(f"recorded {name}\n")
        return 0
    missing = unrecorded(current, baseline)
    for name in missing:
        sys.stderr.write(f"not in the baseline yet: {name} (python -m events.compat --record)\n")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
