"""The four processes of the platform and how to start, watch and stop them as children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    module: str
    port_env: str
    default_port: int


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("membership", "services.membership", "MEMBERSHIP_PORT", 8001),
    ProcessSpec("proposals", "services.proposals", "PROPOSALS_PORT", 8002),
    ProcessSpec("timelock", "services.timelock", "TIMELOCK_PORT", 8003),
    ProcessSpec("gateway", "gateway", "GATEWAY_PORT", 8000),
)
SERVICES = tuple(p for p in PROCESSES if p.name != "gateway")


def ports_from_env(env: dict[str, str]) -> dict[str, int]:
    return {p.name: int(env.get(p.port_env, p.default_port)) for p in PROCESSES}


def process_env(base: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """The environment every child gets: each its own port, the gateway the services' URLs."""
    env = dict(base)
    for p in PROCESSES:
        env[p.port_env] = str(ports[p.name])
    for p in SERVICES:
        env.setdefault(f"GATEWAY_{p.name.upper()}_URL", f"http://127.0.0.1:{ports[p.name]}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass
class Child:
    spec: ProcessSpec
    env: dict[str, str]
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0

    def start(self) -> None:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, no chance to clean up (the fault tests' kill -9)."""
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def wait_ready(url: str, child: Child | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            code = child.proc.returncode if child.proc else None
            raise RuntimeError(f"{child.spec.name} exited with code {code} while starting")
        try:
            r = httpx.get(f"{url}/readyz", timeout=2)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready within {timeout}s: {last}")
