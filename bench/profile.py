"""`--profile`: sample every process with py-spy while a scenario's platform side runs, and keep, per
process, the raw folded stacks (open them in speedscope.app or flamegraph.pl) and a summary of where
the samples went, grouped by our own modules and by the libraries under them.

py-spy samples from outside the process (no instrumentation, a few % of one core); it needs ptrace
(root, or CAP_SYS_PTRACE in a container). A process it cannot attach to is reported, not fatal.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# py-spy names a file relative to its sys.path entry: `services/proposals/api.py`, or `proposals/api.py`
# when `services` is a namespace package
OURS = ("gateway/", "services/", "kit/", "bench/", "membership/", "proposals/", "timelock/")
# where a frame's file lives decides its group: our code by package, libraries by distribution
LIBRARIES = (
    "strawberry",
    "graphql",
    "httpx",
    "httpcore",
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "uvicorn",
    "nats",
    "eth_utils",
    "jwt",
    "json",
    "anyio",
    "asyncio",
    "importlib",
)


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def sampling(
    pids: dict[str, int | None], out_dir: Path, label: str, rate: int = 100
) -> Iterator[dict[str, Any]]:
    """Sample the processes while the block runs; the yielded dict is filled with the summaries."""
    summary: dict[str, Any] = {}
    binary = py_spy()
    if binary is None:
        summary["error"] = "py-spy is not installed"
        yield summary
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        path = out_dir / f"{label}-{name}.folded"
        proc = subprocess.Popen(
            [
                binary,
                "record",
                "-p",
                str(pid),
                "-r",
                str(rate),
                "-f",
                "raw",
                "-o",
                str(path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        running[name] = (proc, path)
    try:
        yield summary
    finally:
        for name, (proc, path) in running.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if path.exists():
                summary[name] = summarize(path, rate)
            else:
                summary[name] = {"error": err.decode(errors="replace")[-500:]}


def _group(frame: str) -> str | None:
    """Our file (`gateway/loaders.py`) or the library a frame is in; py-spy writes each frame as
    `function (package/module.py:line)`."""
    file = frame.rpartition("(")[2].rstrip(")").rsplit(":", 1)[0]
    if file.startswith(OURS):
        return file
    if file.startswith("<frozen importlib"):
        return "importlib"
    top = file.split("/", 1)[0]
    return top if top in LIBRARIES else None


def summarize(path: Path, rate: int, top: int = 25) -> dict[str, Any]:
    """Busy samples, the heaviest functions (inclusive) of our code and each library's share."""
    total = 0
    functions: collections.Counter[str] = collections.Counter()
    libraries: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(("Condition.wait", "Queue.get", "Runner.run")) or "select" in frames[-1]:
            continue  # a thread or the event loop waiting for work
        total += n
        seen_fn: set[str] = set()
        for frame in frames:
            group = _group(frame)
            if group is None:
                continue
            if (
                group.startswith(OURS)
                and not group.endswith("__main__.py")
                and not frame.startswith("serve ")
            ):
                key = frame.partition(" (")[0] + " — " + group
                if key not in seen_fn:
                    seen_fn.add(key)
                    functions[key] += n
        leaf = next((g for g in (_group(f) for f in reversed(frames)) if g is not None), "other")
        libraries["our code" if leaf.startswith(OURS) else leaf] += n
    return {
        "file": str(path),
        "busySeconds": round(total / rate, 2),
        "topFunctionsShare": {k: round(v / total, 3) for k, v in functions.most_common(top)} if total else {},
        "selfTimeByLibraryShare": {k: round(v / total, 3) for k, v in libraries.most_common()}
        if total
        else {},
    }
