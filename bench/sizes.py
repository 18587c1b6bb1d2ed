"""How big each scenario is (full and smoke) and the targets the figures are compared with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Sizes:
    mode: str
    warmup_seconds: float
    # the main organisation: every proposal is voted on by its Stakeholder Group
    stakeholders: int
    # 1. read
    read_proposals: int
    read_concurrency: tuple[int, ...]
    read_seconds: float
    # 2. vote write
    write_concurrency: int
    write_seconds: float
    write_max_rate: float  # votes prepared = rate x seconds (a run that uses them all stops early)
    # 3. event latency
    event_rate: float
    event_seconds: float
    subscribers: int
    subscribers_rate: float
    subscribers_seconds: float
    # 4. deadlines
    burst_deadlines: int
    sparse_deadlines: int
    sparse_seconds: float
    # 5. scale
    scale_stakeholders: int
    scale_small: int
    scale_large: int
    scale_concurrency: int
    scale_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, assignments: list[str]) -> Sizes:
        """`["scale_large=20000", "read_concurrency=1,8"]` → these sizes with those fields changed."""
        changes: dict[str, Any] = {}
        for assignment in assignments:
            name, _, raw = assignment.partition("=")
            current = getattr(self, name.strip())
            if isinstance(current, tuple):
                changes[name.strip()] = tuple(int(x) for x in raw.split(","))
            else:
                changes[name.strip()] = type(current)(raw)
        return replace(self, mode=self.mode + ("*" if changes else ""), **changes)


FULL = Sizes(
    mode="full",
    warmup_seconds=1.5,
    stakeholders=100,
    read_proposals=25,
    read_concurrency=(1, 2, 8, 64),
    read_seconds=8,
    write_concurrency=32,
    write_seconds=20,
    write_max_rate=500,
    event_rate=200,
    event_seconds=5,
    subscribers=1000,
    subscribers_rate=0.5,
    subscribers_seconds=30,
    burst_deadlines=10_000,
    sparse_deadlines=3_000,
    sparse_seconds=60,
    scale_stakeholders=10,
    scale_small=1_000,
    scale_large=100_000,
    scale_concurrency=8,
    scale_seconds=8,
)

SMOKE = Sizes(
    mode="smoke",
    warmup_seconds=0.3,
    stakeholders=20,
    read_proposals=21,
    read_concurrency=(1, 8),
    read_seconds=1,
    write_concurrency=8,
    write_seconds=2,
    write_max_rate=150,
    event_rate=30,
    event_seconds=1,
    subscribers=10,
    subscribers_rate=20,
    subscribers_seconds=1,
    burst_deadlines=100,
    sparse_deadlines=50,
    sparse_seconds=3,
    scale_stakeholders=10,
    scale_small=20,
    scale_large=50,
    scale_concurrency=4,
    scale_seconds=1,
)

# The targets for the 2-core machine: reported as met or not, never failing the run.
TARGETS = {
    "read_floor_share": 1 / 3,  # read throughput at least a third of the floor's
    "read_p99_ms_at_8": 50.0,
    "votes_per_second": 1000.0,
    "event_p99_ms_jetstream": 50.0,
    "event_p99_ms_subscriber": 100.0,
    "burst_decided_seconds": 5.0,
    "sparse_lag_p99_seconds": 1.0,
    "scale_ratio": 1.5,
    "idle_rss_mb": 150.0,
}

# Snapshot's hub (Node.js on MySQL), 2-core machine, 1,000 proposals / 100,000 votes, 2 connections.
SNAPSHOT_HUB = {
    "proposalListPagesPerSecond": 270,
    "votePagesPerSecond": 216,
    "singleProposalsPerSecond": 678,
    "connections": 2,
}
