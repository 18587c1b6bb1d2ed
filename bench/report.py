"""The results: targets checked (met or not, never failing the run), the terminal table, the JSON file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.sizes import SNAPSHOT_HUB, TARGETS


def _level(levels: list[dict[str, Any]], concurrency: int) -> dict[str, Any] | None:
    return next((lv for lv in levels if lv["concurrency"] == concurrency), None)


def _target(
    scenario: str, what: str, value: Any, limit: float, *, at_most: bool, unit: str = ""
) -> dict[str, Any]:
    met = None if value is None else (value <= limit if at_most else value >= limit)
    sign = "≤" if at_most else "≥"
    return {"scenario": scenario, "target": f"{what} {sign} {limit:g}{unit}", "value": value, "met": met}


def check_targets(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    read = scenarios.get("read")
    if read:
        for name in ("proposalsPage", "proposal"):
            lv = _level(read[name]["levels"], 8)
            if lv:
                out.append(
                    _target(
                        "read",
                        f"{name} throughput share of floor at 8 clients",
                        lv["throughputRatio"],
                        TARGETS["read_floor_share"],
                        at_most=False,
                    )
                )
                out.append(
                    _target(
                        "read",
                        f"{name} p99 at 8 clients",
                        lv["platform"]["p99Ms"],
                        TARGETS["read_p99_ms_at_8"],
                        at_most=True,
                        unit=" ms",
                    )
                )
    write = scenarios.get("voteWrite")
    if write:
        out.append(
            _target(
                "voteWrite",
                "sustained votes/s",
                write["platform"]["throughputPerSecond"],
                TARGETS["votes_per_second"],
                at_most=False,
            )
        )
        out.append(
            {
                "scenario": "voteWrite",
                "target": "persisted = published = acknowledged",
                "value": f"{write['platform']['persisted']} / {write['platform']['published']} / "
                f"{write['platform']['acknowledged']}",
                "met": write["platform"]["consistent"],
            }
        )
    events = scenarios.get("eventLatency")
    if events:
        for part in ("atRate", "atSustainableRate"):
            if part not in events:
                continue
            p = events[part]["platform"]
            out.append(
                _target(
                    "eventLatency",
                    f"JetStream p99 at {p['rate']:g}/s",
                    p["jetstream"]["p99Ms"],
                    TARGETS["event_p99_ms_jetstream"],
                    at_most=True,
                    unit=" ms",
                )
            )
            out.append(
                _target(
                    "eventLatency",
                    f"subscriber p99 at {p['rate']:g}/s",
                    p["subscriber"]["p99Ms"],
                    TARGETS["event_p99_ms_subscriber"],
                    at_most=True,
                    unit=" ms",
                )
            )
        many = events["manySubscribers"]["platform"]
        out.append(
            _target(
                "eventLatency",
                f"subscriber p99 with {many['subscribers']} subscribers at {many['rate']:g}/s",
                many["subscriber"]["p99Ms"],
                TARGETS["event_p99_ms_subscriber"],
                at_most=True,
                unit=" ms",
            )
        )
    deadlines = scenarios.get("deadlines")
    if deadlines:
        burst = deadlines["burst"]["platform"]
        out.append(
            _target(
                "deadlines",
                f"{burst['reviews']} simultaneous deadlines decided within",
                burst["allDecidedSeconds"],
                TARGETS["burst_decided_seconds"],
                at_most=True,
                unit=" s",
            )
        )
        lag = deadlines["sparse"]["platform"]["lag"]["p99Ms"]
        out.append(
            _target(
                "deadlines",
                "sparse lag p99",
                None if lag is None else round(lag / 1000, 3),
                TARGETS["sparse_lag_p99_seconds"],
                at_most=True,
                unit=" s",
            )
        )
    scale = scenarios.get("scale")
    if scale:
        for name in ("proposalsPage", "tally"):
            out.append(
                _target(
                    "scale",
                    f"{name} throughput {scale['small']['proposals']} / {scale['large']['proposals']}",
                    scale["growth"][name]["platformThroughputRatio"],
                    TARGETS["scale_ratio"],
                    at_most=True,
                )
            )
    memory = scenarios.get("memory")
    if memory:
        for name, mb in memory["idleMb"].items():
            if name != "floor":
                out.append(
                    _target(
                        "memory", f"{name} idle RSS", mb, TARGETS["idle_rss_mb"], at_most=True, unit=" MB"
                    )
                )
    return out


def snapshot_comparison(scenarios: dict[str, Any]) -> dict[str, Any] | None:
    read = scenarios.get("read")
    if not read:
        return None
    page = _level(read["proposalsPage"]["levels"], 2)
    proposal = _level(read["proposal"]["levels"], 2)
    return {
        "snapshotHub": SNAPSHOT_HUB,
        "ours": {
            "proposalsPagesPerSecond": page["platform"]["throughputPerSecond"] if page else None,
            "proposalWithVotesPerSecond": proposal["platform"]["throughputPerSecond"] if proposal else None,
            "votesOnProposal": read["proposal"]["votes"],
        },
        "note": "ours at 2 clients; our Proposal answers the proposal and all its votes in one request "
        "(Snapshot's figures are separate single-proposal and vote-page requests)",
    }


def machine(load_start: tuple[float, ...], load_end: tuple[float, ...]) -> dict[str, Any]:
    mem_mb = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    cpu = None
    with contextlib.suppress(OSError):
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            None,
        )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memoryMb": mem_mb,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadAverageAtStart": [round(x, 2) for x in load_start],
        "loadAverageAtEnd": [round(x, 2) for x in load_end],
        "note": "a shared machine: other engineers' test runs may have been loading it during this run",
    }


# --- the terminal table ----------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return text + unit
    return f"{value}{unit}"


def rows(scenarios: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(scenario, measure, platform, floor, ratio) lines for the table."""
    out: list[tuple[str, str, str, str, str]] = []
    read = scenarios.get("read")
    if read:
        for name, label in (
            ("proposalsPage", "Proposals page (20)"),
            ("proposal", f"Proposal ({read['proposal']['votes']} votes)"),
        ):
            for lv in read[name]["levels"]:
                p, f = lv["platform"], lv["floor"]
                out.append(
                    (
                        "1 read",
                        f"{label} c={lv['concurrency']} req/s",
                        _fmt(p["throughputPerSecond"]),
                        _fmt(f["throughputPerSecond"]),
                        _fmt(lv["throughputRatio"]),
                    )
                )
                out.append(
                    (
                        "1 read",
                        f"{label} c={lv['concurrency']} p50/p99 ms",
                        f"{_fmt(p['p50Ms'])}/{_fmt(p['p99Ms'])}",
                        f"{_fmt(f['p50Ms'])}/{_fmt(f['p99Ms'])}",
                        _fmt(lv["p99Ratio"]),
                    )
                )
                if lv["concurrency"] == 8:
                    out.append(_cpu_row("1 read", f"{label} c=8", p, f))
    write = scenarios.get("voteWrite")
    if write:
        p, f = write["platform"], write["floor"]
        out.append(
            (
                "2 vote write",
                f"votes/s c={write['concurrency']}",
                _fmt(p["throughputPerSecond"]),
                _fmt(f["throughputPerSecond"]),
                _fmt(write["throughputRatio"]),
            )
        )
        out.append(
            (
                "2 vote write",
                "p50/p99 ms",
                f"{_fmt(p['p50Ms'])}/{_fmt(p['p99Ms'])}",
                f"{_fmt(f['p50Ms'])}/{_fmt(f['p99Ms'])}",
                _fmt(write["p99Ratio"]),
            )
        )
        out.append(
            (
                "2 vote write",
                "acked/persisted/published",
                f"{p['acknowledged']}/{p['persisted']}/{p['published']}",
                f"{f['acknowledged']}/{f['persisted']}/-",
                "ok" if p["consistent"] else "MISMATCH",
            )
        )
        out.append(_cpu_row("2 vote write", "CastVote", p, f))
    events = scenarios.get("eventLatency")
    if events:
        for key, label in (
            ("atRate", "1 subscriber"),
            ("atSustainableRate", "1 subscriber"),
            ("manySubscribers", None),
        ):
            if key not in events:
                continue
            p, f = events[key]["platform"], events[key]["floor"]
            label = label or f"{p['subscribers']} subscribers"
            for leg, name in (("jetstream", "JetStream"), ("subscriber", "GraphQL ws")):
                if key == "manySubscribers" and leg == "jetstream":
                    continue
                pp, ff = p[leg], f[leg]
                out.append(
                    (
                        "3 events",
                        f"{name} {p['rate']:g}/s, {label} p50/p99 ms",
                        f"{_fmt(pp['p50Ms'])}/{_fmt(pp['p99Ms'])}",
                        f"{_fmt(ff['p50Ms'])}/{_fmt(ff['p99Ms'])}",
                        _plus(events[key].get(f"{leg}P99ExcessMs")),
                    )
                )
            sub = p["subscriber"]
            out.append(
                (
                    "3 events",
                    f"votes/s achieved; delivered, {label}",
                    f"{_fmt(p.get('achievedRate'))}; {sub['delivered']}/{sub['expected']}",
                    f"{_fmt(p['rate'])}; {f['subscriber']['delivered']}",
                    "-",
                )
            )
    deadlines = scenarios.get("deadlines")
    if deadlines:
        b = deadlines["burst"]
        out.append(
            (
                "4 deadlines",
                f"{b['platform']['reviews']} at once: all decided s",
                _fmt(b["platform"]["allDecidedSeconds"]),
                _fmt(b["floor"]["allDecidedSeconds"]),
                _fmt(_div(b["platform"]["allDecidedSeconds"], b["floor"]["allDecidedSeconds"])),
            )
        )
        out.append(
            ("4 deadlines", "  ... and relayed to NATS s", _fmt(b["platform"]["allRelayedSeconds"]), "-", "-")
        )
        sp = deadlines["sparse"]
        out.append(
            (
                "4 deadlines",
                f"{sp['platform']['reviews']} over {sp['spreadSeconds']:g}s: lag p50/p99 ms",
                f"{_fmt(sp['platform']['lag']['p50Ms'])}/{_fmt(sp['platform']['lag']['p99Ms'])}",
                f"{_fmt(sp['floor']['lag']['p50Ms'])}/{_fmt(sp['floor']['lag']['p99Ms'])}",
                _plus(_minus(sp["platform"]["lag"]["p99Ms"], sp["floor"]["lag"]["p99Ms"])),
            )
        )
    scale = scenarios.get("scale")
    if scale:
        for size in ("small", "large"):
            s = scale[size]
            for name, label in (("proposalsPage", "Proposals page"), ("tally", "tally read")):
                lv = s[name]
                out.append(
                    (
                        "5 scale",
                        f"{label} @{s['proposals']:,} req/s (p99 ms)",
                        f"{_fmt(lv['platform']['throughputPerSecond'])} ({_fmt(lv['platform']['p99Ms'])})",
                        f"{_fmt(lv['floor']['throughputPerSecond'])} ({_fmt(lv['floor']['p99Ms'])})",
                        _fmt(lv["throughputRatio"]),
                    )
                )
        for name, label in (("proposalsPage", "Proposals page"), ("tally", "tally read")):
            g = scale["growth"][name]
            out.append(
                (
                    "5 scale",
                    f"{label}: small/large throughput",
                    _fmt(g["platformThroughputRatio"]),
                    _fmt(g["floorThroughputRatio"]),
                    "-",
                )
            )
            if "platformCpuRatio" in g:
                out.append(
                    (
                        "5 scale",
                        f"{label}: large/small CPU per request",
                        _fmt(g["platformCpuRatio"]),
                        _fmt(g["floorCpuRatio"]),
                        "-",
                    )
                )
    memory = scenarios.get("memory")
    if memory:
        floor_idle = memory["idleMb"].get("floor")
        floor_under = memory["underVoteWriteMb"].get("floor")
        for name, idle in memory["idleMb"].items():
            if name == "floor":
                continue
            under = memory["underVoteWriteMb"].get(name)
            out.append(
                (
                    "6 memory",
                    f"{name} RSS MB idle / under write",
                    f"{_fmt(idle)} / {_fmt(under)}",
                    f"{_fmt(floor_idle)} / {_fmt(floor_under)}",
                    _fmt(_div(idle, floor_idle)),
                )
            )
    return out


def _cpu_total(side: dict[str, Any]) -> float | None:
    cpu = side.get("cpuMsPerRequest") or {}
    return round(sum(v for k, v in cpu.items() if k != "loadgen"), 2) if cpu else None


def _cpu_row(scenario: str, label: str, platform: dict[str, Any], floor: dict[str, Any]) -> tuple[str, ...]:
    """CPU ms per request of all the processes serving it (Postgres and NATS included)."""
    p, f = _cpu_total(platform), _cpu_total(floor)
    return (scenario, f"{label} CPU ms/request", _fmt(p), _fmt(f), _fmt(_div(p, f)))


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def _plus(excess_ms: float | None) -> str:
    """A latency's excess over the floor's, for the ratio column (a ratio to ~0 ms means nothing)."""
    return "-" if excess_ms is None else f"+{excess_ms:,.1f}ms"


def table(doc: dict[str, Any]) -> str:
    lines = rows(doc["scenarios"])
    header = ("scenario", "measure", "platform", "floor", "ratio")
    widths = [max(len(header[i]), *(len(r[i]) for r in lines)) if lines else len(header[i]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(header), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in lines]
    out.append("")
    out.append("targets (2-core machine; reported, never failing the run):")
    for t in doc["targets"]:
        mark = {True: "met", False: "NOT MET", None: "n/a"}[t["met"]]
        out.append(f"  [{mark:>7}] {t['scenario']}: {t['target']} — measured {_fmt(t['value'])}")
    snap = doc.get("snapshotComparison")
    if snap:
        ours = snap["ours"]
        hub = snap["snapshotHub"]
        out.append("")
        out.append(
            f"Snapshot hub at 2 connections: {hub['proposalListPagesPerSecond']} list pages/s, "
            f"{hub['votePagesPerSecond']} vote pages/s, {hub['singleProposalsPerSecond']} proposals/s; "
            f"ours at 2 clients: {_fmt(ours['proposalsPagesPerSecond'])} Proposals pages/s, "
            f"{_fmt(ours['proposalWithVotesPerSecond'])} Proposal+{ours['votesOnProposal']} votes/s"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report bench/results/<run>.json` — the table of a results file."""
    paths = argv if argv is not None else sys.argv[1:]
    for path in paths:
        doc = json.loads(Path(path).read_text())
        good = {k: v for k, v in doc["scenarios"].items() if k not in doc.get("failed", [])}
        sys.stdout.write(f"{path} ({doc['mode']}, {doc['startedAt']}, {doc['machine']['nproc']} cpus)\n")
        sys.stdout.write(table({**doc, "scenarios": good}) + "\n")
    return 0


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
