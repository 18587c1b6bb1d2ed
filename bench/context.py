"""What every scenario gets: the running stack, an API client for seeding, the sizes, and the
organisations made so far."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import RunResult
from bench.profile import sampling
from bench.seed import Org
from bench.sizes import Sizes
from bench.stack import Bench
from tests.e2e.harness import OPERATIONS, Api

# A tally read: what a screen polling a proposal's standing asks (not a contract operation, a valid query)
TALLY_QUERY = (
    "query Tally($id: ID!) "
    "{ proposal(id: $id) { id status tally { for against abstain eligible quorumReached } } }"
)


@dataclass
class Run:
    bench: Bench
    api: Api
    sizes: Sizes
    say: Callable[[str], None]
    orgs: dict[str, Org] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # set by the scenarios that make them, used by later ones
    shared: dict[str, Any] = field(default_factory=dict)
    profile_dir: Path | None = None

    @property
    def graphql_path(self) -> str:
        return "/graphql"

    def op(self, name: str) -> str:
        return OPERATIONS[name]

    def dsns(self) -> dict[str, str]:
        return {s: self.bench.dsn(s) for s in ("membership", "proposals", "timelock")}

    def step(self, what: str) -> _Step:
        return _Step(self.say, what)

    async def measured(self, run: Awaitable[RunResult]) -> RunResult:
        """Await a closed-loop run and add each process's CPU milliseconds per answered request."""
        before = self.bench.cpu()
        result = await run
        after = self.bench.cpu()
        if result.answered:
            result.cpu_ms = {
                name: round((after[name] - before.get(name, 0.0)) * 1000 / result.answered, 3)
                for name in after
                if after[name] > before.get(name, 0.0)
            }
        return result

    @contextlib.contextmanager
    def profiling(self, label: str) -> Iterator[None]:
        """With `--profile`, sample every process with py-spy while the block runs (bench/profile.py)."""
        if self.profile_dir is None:
            yield
            return
        pids = {k: v for k, v in self.bench.pids().items() if k != "floor"}
        with sampling(pids, self.profile_dir, label) as summary:
            yield
        self.shared.setdefault("profiles", {})[label] = summary


class _Step:
    def __init__(self, say: Callable[[str], None], what: str) -> None:
        self.say, self.what = say, what

    def __enter__(self) -> _Step:
        self.t0 = time.monotonic()
        self.say(f"  {self.what} ...")
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.say(f"  {self.what}: {time.monotonic() - self.t0:.1f}s")
