"""The rendered overlays of deploy/k8s and small readers for them, shared by the tests of tests/deploy."""

from __future__ import annotations

import base64
import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.render import render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "production")

# process -> the module `python -m` runs
PROCESS_MODULES = {
    "membership": "services.membership",
    "proposals": "services.proposals",
    "timelock": "services.timelock",
    "gateway": "gateway",
}
SERVICES = ("membership", "proposals", "timelock")
MIGRATE_JOB = "bicameral-migrate"

# Secrets the production overlay references but never contains: the operator creates the first,
# CloudNativePG the second (for the Cluster bicameral-pg). deploy/README.md says so.
EXTERNAL_SECRET_KEYS = {
    ("bicameral-secrets", "INTERNAL_AUTH_SECRET"),
    ("bicameral-secrets", "AUTH_TOKEN_KEYS"),
    ("bicameral-secrets", "TIMELOCK_WEBHOOK_SECRET_KEYS"),
    ("bicameral-pg-app", "uri"),
}

Resource = dict[str, Any]


@functools.cache
def rendered(overlay: str) -> tuple[Resource, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def all_of(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def one(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def generated(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    """A generated ConfigMap or Secret by its name without the hash suffix."""
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"].rpartition("-")[0] == name]
    assert len(found) == 1, f"generated {kind}/{name}: {len(found)} found"
    return found[0]


def pod_template(r: Resource) -> dict[str, Any]:
    return r["spec"]["template"]


def workloads(resources: tuple[Resource, ...]) -> list[Resource]:
    return [r for r in resources if r["kind"] in ("Deployment", "StatefulSet", "Job")]


def all_containers(r: Resource) -> list[dict[str, Any]]:
    spec = pod_template(r)["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def app_container(resources: tuple[Resource, ...], process: str) -> tuple[Resource, dict[str, Any]]:
    deployment = one(resources, "Deployment", process)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{process}: one container expected"
    return deployment, containers[0]


def job_container(resources: tuple[Resource, ...]) -> dict[str, Any]:
    (container,) = one(resources, "Job", MIGRATE_JOB)["spec"]["template"]["spec"]["containers"]
    return container


@dataclass(frozen=True)
class EnvValue:
    name: str
    source: str  # "value", "configmap", "secret", "field"
    ref: str | None  # ConfigMap / Secret name
    key: str | None
    value: str | None  # None when the Secret lives outside the overlay


def container_env(resources: tuple[Resource, ...], container: dict[str, Any]) -> dict[str, EnvValue]:
    """Every environment variable the container gets from the manifests, resolved where possible."""

    def lookup(kind: str, name: str) -> Resource | None:
        found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
        return found[0] if found else None

    def secret_value(secret: Resource, key: str) -> str:
        return base64.b64decode(secret["data"][key]).decode()

    env: dict[str, EnvValue] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            cm = lookup("ConfigMap", name)
            assert cm is not None, f"envFrom: ConfigMap {name} is not in the overlay"
            for key, value in cm["data"].items():
                env[key] = EnvValue(key, "configmap", name, key, value)
        else:
            name = source["secretRef"]["name"]
            secret = lookup("Secret", name)
            assert secret is not None, f"envFrom: Secret {name} is not in the overlay"
            for key in secret["data"]:
                env[key] = EnvValue(key, "secret", name, key, secret_value(secret, key))
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = EnvValue(name, "value", None, None, item["value"])
            continue
        value_from = item["valueFrom"]
        if "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            cm = lookup("ConfigMap", ref["name"])
            assert cm is not None, f"{name}: ConfigMap {ref['name']} is not in the overlay"
            env[name] = EnvValue(name, "configmap", ref["name"], ref["key"], cm["data"][ref["key"]])
        elif "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            secret = lookup("Secret", ref["name"])
            value = secret_value(secret, ref["key"]) if secret is not None else None
            env[name] = EnvValue(name, "secret", ref["name"], ref["key"], value)
        else:
            env[name] = EnvValue(name, "field", None, None, None)
    return env


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels / matchExpressions) matches these labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and present and value in expr["values"])
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def settings_class(process: str) -> type:
    from stack.settings_doc import SETTINGS_CLASSES

    return importlib.import_module(SETTINGS_CLASSES[process]).Settings
