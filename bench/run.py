"""One bench run: start the stack, set up the organisations, run the scenarios in order, report."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, stack
from bench.context import Run
from bench.scenarios.deadlines import run_deadlines
from bench.scenarios.events import run_events
from bench.scenarios.read import run_read
from bench.scenarios.scale import run_scale
from bench.scenarios.write import run_write
from bench.seed import found, sign_in_many, wait_projected
from bench.sizes import Sizes
from bench.waits import quiesce
from tests.e2e.harness import Api

DAY = 24 * 3600


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


Scenario = Callable[[Run], Awaitable[dict[str, Any]]]
# in this order: reads see a quiet platform; the write scenario also samples memory under load
SCENARIOS: dict[str, Scenario] = {
    "read": run_read,
    "voteWrite": run_write,
    "eventLatency": run_events,
    "deadlines": run_deadlines,
    "scale": run_scale,
}
ALL = (*SCENARIOS, "memory")


async def setup(run: Run) -> None:
    s = run.sizes
    with run.step(f"setup: {s.stakeholders + s.scale_stakeholders + 4} members sign in, two organisations"):
        people = await sign_in_many(run.api, s.stakeholders + 2)
        run.orgs["main"] = await found(
            run.api, "bench-main", people[:-2], people[-2:], voting_seconds=DAY, review_seconds=DAY
        )
        people = await sign_in_many(run.api, s.scale_stakeholders + 2)
        run.orgs["small"] = await found(
            run.api, "bench-small", people[:-2], people[-2:], voting_seconds=DAY, review_seconds=DAY
        )
        for org in run.orgs.values():
            await wait_projected(run.dsns(), org)


async def scenarios(run: Run, only: set[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    await asyncio.sleep(2)  # the processes settle after start-up
    idle = run.bench.rss()
    await setup(run)
    for name, scenario in SCENARIOS.items():
        if name not in only:
            continue
        run.say(f"{name}:")
        t0 = time.monotonic()
        try:
            quiet = await quiesce(run)
            results[name] = await scenario(run)
            results[name]["quiesceSeconds"] = round(quiet, 1)
            results[name]["elapsedSeconds"] = round(time.monotonic() - t0, 1)
        except Exception as exc:
            run.say(f"{name} FAILED: {exc!r}")
            results[name] = {"error": repr(exc), "traceback": traceback.format_exc()[-4000:]}
    if "memory" in only:
        results["memory"] = {
            "idleMb": idle,
            "underVoteWriteMb": run.shared.get("rss_under_write", {}),
            "note": "idle: after start-up, before any data; under write: the peak while scenario 2 ran "
            "(floor: the bare Starlette process, idle and under its own write run)",
        }
    return results


def execute(
    sizes: Sizes,
    out: Path,
    only: set[str],
    *,
    keep_data: bool = False,
    profile_dir: Path | None = None,
    say: Callable[[str], None] = say,
) -> dict[str, Any]:
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    t0 = time.monotonic()
    say(f"bench ({sizes.mode}): starting private Postgres, NATS, the four processes and the floor")
    bench = stack.start(say, keep_data=keep_data)
    try:
        api = Api(bench.graphql_url)
        run = Run(bench, api, sizes, say, profile_dir=profile_dir)

        async def main() -> dict[str, Any]:
            try:
                return await scenarios(run, only)
            finally:
                await api.http.aclose()

        results = asyncio.run(main())
        versions = {"postgres": _postgres_version(bench)}
    finally:
        bench.stop()
    failed = [name for name, r in results.items() if isinstance(r, dict) and "error" in r]
    good = {k: v for k, v in results.items() if k not in failed}
    doc: dict[str, Any] = {
        "schema": 1,
        "mode": sizes.mode,
        "startedAt": started.isoformat(),
        "durationSeconds": round(time.monotonic() - t0, 1),
        "machine": report.machine(load_start, os.getloadavg()),
        "versions": versions,
        "sizes": sizes.as_dict(),
        "scenarios": results,
        "failed": failed,
        "targets": report.check_targets(good),
        "snapshotComparison": report.snapshot_comparison(good),
        "notes": run.notes,
        "profiles": run.shared.get("profiles"),
    }
    report.write_json(doc, out)
    say("")
    say(report.table({**doc, "scenarios": good}))
    say(f"\nresults: {out}")
    if failed:
        say(f"FAILED scenarios: {', '.join(failed)}")
    return doc


def _postgres_version(bench: stack.Bench) -> str | None:
    async def query() -> str:
        conn = await stack.connect(bench.server_dsn)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    try:
        return asyncio.run(query())
    except Exception:
        return None
