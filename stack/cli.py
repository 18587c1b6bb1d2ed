"""`bicameral` — run the platform locally, migrate, or serve one process.

bicameral up                 everything, in the foreground (what `make up` runs)
bicameral migrate [NAME...]  run the services' migrations and exit (the Kubernetes Job)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time
from pathlib import Path

from .infra import EmbeddedNats, EmbeddedPostgres, port_open
from .processes import PROCESSES, SERVICES, Child, ports_from_env, process_env, wait_ready

ROOT = Path.cwd()
DATA = ROOT / ".data"
PREFERRED_PG_PORT = 54329
PREFERRED_NATS_PORT = 42229


def _say(msg: str) -> None:
    print(f"[bicameral] {msg}", flush=True)


def _start_infra(env: dict[str, str]) -> list[EmbeddedPostgres | EmbeddedNats]:
    started: list[EmbeddedPostgres | EmbeddedNats] = []
    if not env.get("DATABASE_URL"):
        pg = EmbeddedPostgres(
            DATA / "postgres", port=0 if port_open(PREFERRED_PG_PORT) else PREFERRED_PG_PORT
        )
        env["DATABASE_URL"] = pg.start()
        started.append(pg)
        _say(f"embedded Postgres at {pg.url} (data in .data/postgres)")
    else:
        _say("using Postgres from DATABASE_URL")
    if not env.get("NATS_URL"):
        nt = EmbeddedNats(DATA / "nats", port=0 if port_open(PREFERRED_NATS_PORT) else PREFERRED_NATS_PORT)
        env["NATS_URL"] = nt.start()
        started.append(nt)
        _say(f"embedded NATS JetStream at {nt.url} (data in .data/nats)")
    else:
        _say("using NATS from NATS_URL")
    return started


def up(args: argparse.Namespace) -> int:
    DATA.mkdir(exist_ok=True)
    env = dict(os.environ)
    infra = _start_infra(env)
    ports = ports_from_env(env)
    env = process_env(env, ports)
    logs = DATA / "logs"
    logs.mkdir(exist_ok=True)
    children = [Child(spec, env, logs / f"{spec.name}.log") for spec in PROCESSES]
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        for child in children:
            child.start()
        for child in children:
            wait_ready(f"http://127.0.0.1:{ports[child.spec.name]}", child)
            name = child.spec.name
            _say(f"{name} ready on :{ports[name]} (log: .data/logs/{name}.log)")
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        if not args.no_seed:
            seed = importlib.import_module("gateway.seed")
            _say("seeding the demo organisation (reimagining-power) through the GraphQL API ...")
            asyncio.run(seed.seed_demo(gateway_url))
        _say("Bicameral is up:")
        _say(f"  GraphQL + GraphiQL  {gateway_url}/graphql")
        _say(f"  dashboards          {gateway_url}/status")
        for spec in SERVICES:
            _say(f"  {spec.name:<19} http://127.0.0.1:{ports[spec.name]}  (/docs /status /metrics)")
        _say("Ctrl-C stops everything.")
        while not stopping:
            for child in children:
                if not child.alive() and not stopping:
                    code = child.proc.returncode if child.proc else None
                    child.restarts += 1
                    _say(f"{child.spec.name} exited with code {code}; restarting (#{child.restarts})")
                    time.sleep(min(10, child.restarts))
                    child.start()
            time.sleep(0.5)
        return 0
    except Exception as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping ...")
        for child in reversed(children):
            child.stop()
        for server in reversed(infra):
            server.stop()
        _say("stopped.")


def migrate(args: argparse.Namespace) -> int:
    known = [s.name for s in SERVICES]
    names = args.names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        _say(f"unknown service(s): {', '.join(unknown)}; choose from {', '.join(known)}")
        return 2
    for name in names:
        app_module = importlib.import_module(f"services.{name}.app")
        asyncio.run(app_module.migrate_database())
        _say(f"{name}: migrations at head")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bicameral", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="run the whole platform in the foreground")
    p_up.add_argument("--no-seed", action="store_true", help="do not seed the demo organisation")
    p_up.set_defaults(func=up)
    p_mig = sub.add_parser("migrate", help="migrate the services' databases and exit")
    p_mig.add_argument("names", nargs="*", help="membership, proposals, timelock (default: all)")
    p_mig.set_defaults(func=migrate)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
