"""The figures the reliability and security suites report: what was tried, what held.

Each test records one line (`report("faults.kill9", acknowledged=120, persisted=120, published=120)`);
the suites' `pytest_terminal_summary` prints them all at the end of the run (pytest shows nothing else
for passing tests) and writes them as JSON beside the run's temporary files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}
_printed: list[bool] = [False]


def report(name: str, **numbers: Any) -> str:
    """Record one test's figures and answer the summary line (also printed, for `-s` runs)."""
    FIGURES[name] = numbers
    line = f"{name}: " + " ".join(f"{k}={v}" for k, v in numbers.items())
    print(line)
    return line


def totals() -> str:
    """The three pairs that must be equal, over the whole run. Mutations are counted per test; deadlines
    are counted over the fault platform's databases, so the largest count is the run's."""

    def total(key: str) -> int:
        return sum(int(n.get(key, 0)) for n in FIGURES.values())

    def largest(key: str) -> int:
        return max((int(n.get(key, 0)) for n in FIGURES.values()), default=0)

    return (
        f"totals: mutations acknowledged={total('acknowledged')} persisted={total('persisted')} "
        f"published={total('published')} | deadlines due={largest('deadlines_due')} "
        f"decided={largest('deadlines_decided')} | bad inputs tried={total('tried')} "
        f"refused_cleanly={total('refused_cleanly')}"
    )


def terminal_summary(terminalreporter: Any) -> None:
    """Print the figures once per run, however many conftests call this."""
    if _printed[0] or not FIGURES:
        return
    _printed[0] = True
    terminalreporter.section("reliability and security figures")
    for name in sorted(FIGURES):
        numbers = FIGURES[name]
        terminalreporter.write_line(f"{name}: " + " ".join(f"{k}={v}" for k, v in numbers.items()))
    terminalreporter.write_line(totals())
    factory = getattr(terminalreporter.config, "_tmp_path_factory", None)
    if factory is not None:
        path = Path(factory.getbasetemp()) / "figures.json"
        path.write_text(json.dumps(FIGURES, indent=2, sort_keys=True, default=str))
        terminalreporter.write_line(f"(also in {path})")
