"""The benchmarks at smoke sizes, so that `make bench` never rots: every scenario must produce its
figures and the results file must be well-formed. Speed is measured by `make bench`, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.run import ALL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def _figures(doc: dict[str, Any]) -> dict[str, list[Any]]:
    """The figures each scenario must have produced (None where one is missing)."""
    s = doc["scenarios"]
    read = [
        level[side][key]
        for name in ("proposalsPage", "proposal")
        for level in s["read"][name]["levels"]
        for side in ("platform", "floor")
        for key in ("throughputPerSecond", "p50Ms", "p99Ms")
    ]
    read += [
        level["throughputRatio"]
        for name in ("proposalsPage", "proposal")
        for level in s["read"][name]["levels"]
    ]
    write = s["voteWrite"]
    events = s["eventLatency"]
    deadlines = s["deadlines"]
    scale = s["scale"]
    return {
        "read": read,
        "voteWrite": [
            write["platform"]["throughputPerSecond"] or None,
            write["platform"]["p99Ms"],
            write["platform"]["acknowledged"] or None,
            write["platform"]["persisted"],
            write["platform"]["published"],
            write["floor"]["throughputPerSecond"] or None,
            write["throughputRatio"],
        ],
        "eventLatency": [
            events[part][side][leg][key]
            for part in ("atRate", "manySubscribers")
            for side in ("platform", "floor")
            for leg in ("jetstream", "subscriber")
            for key in ("p50Ms", "p99Ms")
        ],
        "deadlines": [
            deadlines[kind][side][key]
            for kind in ("burst", "sparse")
            for side in ("platform", "floor")
            for key in ("allDecidedSeconds",)
        ]
        + [deadlines["sparse"][side]["lag"]["p99Ms"] for side in ("platform", "floor")],
        "scale": [
            scale["growth"][read][key]
            for read in ("proposalsPage", "tally")
            for key in ("platformThroughputRatio", "floorThroughputRatio")
        ],
        "memory": [*s["memory"]["idleMb"].values(), *s["memory"]["underVoteWriteMb"].values()],
    }


@pytest.mark.timeout(420)
def test_every_scenario_produces_its_figures_and_a_well_formed_results_file(tmp_path):
    out = tmp_path / "smoke.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    doc = json.loads(out.read_text())
    assert doc["mode"] == "smoke"
    assert doc["failed"] == []
    assert set(doc["scenarios"]) == set(ALL)
    assert {"nproc", "memoryMb", "python", "note"} <= set(doc["machine"])
    missing = {name: figures for name, figures in _figures(doc).items() if any(f is None for f in figures)}
    assert missing == {}
    assert all(isinstance(t["met"], bool) for t in doc["targets"]), doc["targets"]
    assert "scenario" in run.stdout  # the table was printed
