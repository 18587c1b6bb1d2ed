"""`make up`'s command from scratch: embedded Postgres and NATS, four processes, demo seed, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stack.infra import free_port

REPO = Path(__file__).resolve().parents[2]


def test_up_starts_everything_from_scratch_serves_platform_status_and_stops_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    ports = {name: free_port() for name in ("GATEWAY", "MEMBERSHIP", "PROPOSALS", "TIMELOCK")}
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env["PYTHONPATH"] = str(REPO)
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack", "up"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 150
        while "Bicameral is up" not in (tmp_path / "up.log").read_text():
            assert proc.poll() is None, (tmp_path / "up.log").read_text()[-4000:]
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()[-4000:]
            time.sleep(0.5)
        gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
        query = "query { platformStatus { status services { name status version uptimeSeconds } } }"
        answer = httpx.post(f"{gateway}/graphql", json={"query": query}, timeout=10).json()
        status = answer["data"]["platformStatus"]
        assert status["status"] == "OK"
        assert {s["name"]: s["status"] for s in status["services"]} == {
            "membership": "OK",
            "proposals": "OK",
            "timelock": "OK",
            "gateway": "OK",
        }
        seeded = httpx.post(
            f"{gateway}/graphql",
            json={"query": 'query { organization(slug: "reimagining-power") { slug name } }'},
            timeout=10,
        ).json()
        assert seeded["data"]["organization"]["slug"] == "reimagining-power"
        assert (tmp_path / ".data" / "postgres" / "PG_VERSION").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        log.close()
    text = (tmp_path / "up.log").read_text()
    assert code == 0, text[-3000:]
    assert "stopped." in text
