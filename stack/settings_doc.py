"""The README's configuration table, generated from the settings classes so it cannot drift.

`python -m stack.settings_doc` rewrites the table in README.md; a test fails when it is stale.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from kit import ServiceSettings

SETTINGS_CLASSES = {
    "membership": "services.membership.config",
    "proposals": "services.proposals.config",
    "timelock": "services.timelock.config",
    "gateway": "gateway.config",
}
README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def env_name(cls: type[ServiceSettings], name: str, field: FieldInfo) -> str:
    if isinstance(field.validation_alias, str):
        return field.validation_alias
    prefix = cls.model_config.get("env_prefix", "")
    return f"{prefix}{name}".upper()


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    return "" if value in ("", None, []) else f"`{value}`"


def _description(field: FieldInfo) -> str:
    return (field.description or "").replace("|", "\\|").replace("\n", " ")


def settings_classes() -> dict[str, type[ServiceSettings]]:
    return {name: importlib.import_module(mod).Settings for name, mod in SETTINGS_CLASSES.items()}


def all_env_names() -> dict[str, set[str]]:
    """Every environment variable each process reads."""
    return {
        name: {env_name(cls, f, info) for f, info in cls.model_fields.items()}
        for name, cls in settings_classes().items()
    }


def render() -> str:
    classes = settings_classes()
    # names read by more than one process, without a prefix: one row each, in the shared table
    shared: dict[str, FieldInfo] = {}
    for cls in classes.values():
        for info in cls.model_fields.values():
            if isinstance(info.validation_alias, str):
                shared.setdefault(info.validation_alias, info)
    readers = {alias: sorted(p for p, names in all_env_names().items() if alias in names) for alias in shared}
    lines = ["Shared:", "", "| variable | default | meaning | read by |", "|---|---|---|---|"]
    for alias, info in shared.items():
        who = "all" if len(readers[alias]) == len(classes) else ", ".join(readers[alias])
        lines.append(f"| `{alias}` | {_default(info)} | {_description(info)} | {who} |")
    for process, cls in classes.items():
        lines += ["", f"`{process}`:", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, info in cls.model_fields.items():
            if isinstance(info.validation_alias, str):
                continue
            lines.append(f"| `{env_name(cls, name, info)}` | {_default(info)} | {_description(info)} |")
    return "\n".join(lines)


def updated_readme(text: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    return pattern.sub(lambda _m: f"{START}\n{render()}\n{END}", text)


def main() -> None:
    README.write_text(updated_readme(README.read_text()))


if __name__ == "__main__":
    main()
