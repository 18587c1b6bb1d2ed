"""Render a kustomization the way `kustomize build` does, for the subset of kustomize that deploy/k8s uses.

`make test` must render the overlays on a machine with nothing but Python, and no PyPI package ships a
kustomize binary, so this is a small re-implementation. It supports exactly these kustomization fields
and refuses any other (so nobody adds a feature here that CI would silently render differently):

    resources           files (one or more YAML documents) and directories holding a kustomization
    namespace           set on every namespaced resource
    labels              `pairs` only, added to metadata.labels (not to selectors or templates)
    images              `name` with `newName` / `newTag` / `digest`, on containers and initContainers
    replicas            `name` + `count` on a Deployment / StatefulSet / ReplicaSet
    patches             strategic-merge patches given by `path`, the target named by the patch itself
    configMapGenerator  `name`, `literals`, `files`, `behavior` (create / merge / replace)
    secretGenerator     the same, plus `type`

Generated ConfigMaps and Secrets get kustomize's content-hash suffix, and references to them from pod
templates (envFrom, env valueFrom, volumes, imagePullSecrets) and Ingress TLS are renamed to match, so a
changed setting rolls the Deployments. Output is in kustomize's "legacy" order. `kubectl kustomize DIR`
gives the same documents; tests/deploy/test_render.py holds this to kustomize v5.5.0's output for a
fixture that uses every feature above.

    python deploy/render.py deploy/k8s/overlays/dev        # YAML on stdout
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
}
GENERATOR_FIELDS = {"name", "literals", "files", "behavior", "type"}

# kustomize's legacy order: these kinds first, in this order; then every other kind; then these last
ORDER_FIRST = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}

# Strategic merge: lists of these fields merge item by item on this key (Kubernetes' patchMergeKey);
# any other list is replaced by the patch's. Only built-in kinds may be patched.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
}
BUILTIN_GROUPS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "policy/v1",
    "autoscaling/v2",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
}


class RenderError(Exception):
    pass


def render(directory: str | Path) -> list[Resource]:
    """The resources `kustomize build directory` outputs, in its order."""
    resources, generated = _build(Path(directory).resolve())
    _apply_hash_suffixes(resources, generated)
    return sorted(resources, key=_legacy_order)


def dump(resources: list[Resource]) -> str:
    return "---\n".join(yaml.safe_dump(r, sort_keys=True, default_flow_style=False) for r in resources)


# --- building -------------------------------------------------------------------------------------


def _build(directory: Path) -> tuple[list[Resource], set[int]]:
    """Resources of one kustomization and the ids of those its generators made (hash suffix pending)."""
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    k = yaml.safe_load(path.read_text()) or {}
    unknown = set(k) - KUSTOMIZATION_FIELDS
    if unknown:
        raise RenderError(f"{path}: fields not supported by deploy/render.py: {sorted(unknown)}")

    resources: list[Resource] = []
    generated: set[int] = set()
    for entry in k.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            sub, sub_generated = _build(target)
            resources += sub
            generated |= sub_generated
        else:
            resources += [d for d in yaml.safe_load_all(target.read_text()) if d]
    _check_unique(resources, path)

    for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for spec in k.get(field, []):
            _generate(directory, kind, spec, resources, generated)

    # kustomize's transformer order: patches, namespace, labels, replicas, images
    for patch in k.get("patches", []):
        _patch(directory, patch, resources)
    if "namespace" in k:
        for r in resources:
            if r["kind"] not in CLUSTER_SCOPED:
                r["metadata"]["namespace"] = k["namespace"]
    for group in k.get("labels", []):
        if set(group) - {"pairs"}:
            raise RenderError(f"{path}: labels support only `pairs`")
        for r in resources:
            r["metadata"].setdefault("labels", {}).update({str(a): str(b) for a, b in group["pairs"].items()})
    for rep in k.get("replicas", []):
        matched = [r for r in resources if r["kind"] in SCALABLE and r["metadata"]["name"] == rep["name"]]
        if not matched:
            raise RenderError(f"{path}: replicas: nothing named {rep['name']}")
        for r in matched:
            r["spec"]["replicas"] = rep["count"]
    for image in k.get("images", []):
        if set(image) - {"name", "newName", "newTag", "digest"}:
            raise RenderError(f"{path}: images support only name, newName, newTag, digest")
        for r in resources:
            _set_images(r, image)
    return resources, generated


def _check_unique(resources: list[Resource], where: Path) -> None:
    seen: set[tuple[str, str, str]] = set()
    for r in resources:
        key = _key(r)
        if key in seen:
            raise RenderError(f"{where}: {key} defined twice")
        seen.add(key)


def _key(r: Resource) -> tuple[str, str, str]:
    return (r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"])


# --- generators -----------------------------------------------------------------------------------


def _generate(
    directory: Path, kind: str, spec: dict[str, Any], resources: list[Resource], generated: set[int]
) -> None:
    unknown = set(spec) - (GENERATOR_FIELDS if kind == "Secret" else GENERATOR_FIELDS - {"type"})
    if unknown:
        raise RenderError(f"{directory}: {kind} generator fields not supported: {sorted(unknown)}")
    data: dict[str, str] = {}
    for literal in spec.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise RenderError(f"{directory}: literal without '=': {literal}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            raise RenderError(
                f"{directory}: quoted literal (kustomize strips the quotes; write it bare): {literal}"
            )
        data[key] = value
    for file in spec.get("files", []):
        data[Path(file).name] = (directory / file).read_text()
    if kind == "Secret":
        data = {key: _base64(value) for key, value in data.items()}

    behavior = spec.get("behavior", "create")
    existing = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == spec["name"]]
    if behavior == "create":
        if existing:
            raise RenderError(f"{directory}: {kind} {spec['name']} exists; use behavior merge or replace")
        new: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}, "data": data}
        if kind == "Secret":
            new["type"] = spec.get("type", "Opaque")
        resources.append(new)
        generated.add(id(new))
    elif behavior in ("merge", "replace"):
        if len(existing) != 1 or id(existing[0]) not in generated:
            raise RenderError(f"{directory}: no generated {kind} {spec['name']} to {behavior}")
        target = existing[0]
        target["data"] = {**target.get("data", {}), **data} if behavior == "merge" else data
    else:
        raise RenderError(f"{directory}: unknown behavior {behavior}")


def _base64(value: str) -> str:
    """kustomize's encoding of a Secret value: base64 in lines of 70, each ending in a newline when there
    is more than one."""
    encoded = base64.b64encode(value.encode()).decode()
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return encoded if len(lines) <= 1 else "".join(f"{line}\n" for line in lines)


def _hash_suffix(r: Resource) -> str:
    """kustomize's name hash: sha256 of the Go JSON encoding of kind, name, data (and a Secret's type),
    the first ten hex digits with 0 1 3 a e swapped for letters (no accidental words).

    The name is always empty: kustomize's hasher looks it up as one field called "metadata/name", which
    no object has. (So two generated ConfigMaps with the same data get the same suffix.)"""
    fields: dict[str, Any] = {"kind": r["kind"], "name": "", "data": r.get("data", {})}
    if r["kind"] == "Secret":
        fields["type"] = r.get("type", "Opaque")
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes these for safe embedding in HTML
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}))


def _apply_hash_suffixes(resources: list[Resource], generated: set[int]) -> None:
    renames: dict[tuple[str, str, str], str] = {}
    for r in resources:
        if id(r) in generated:
            old = r["metadata"]["name"]
            r["metadata"]["name"] = f"{old}-{_hash_suffix(r)}"
            renames[(r["kind"], r["metadata"].get("namespace", ""), old)] = r["metadata"]["name"]
    for r in resources:
        namespace = r["metadata"].get("namespace", "")
        for pod in _pod_specs(r):
            _rename_references(pod, namespace, renames)
        if r["kind"] == "Ingress":
            for tls in r.get("spec", {}).get("tls", []):
                if "secretName" in tls:
                    tls["secretName"] = renames.get(
                        ("Secret", namespace, tls["secretName"]), tls["secretName"]
                    )


def _pod_specs(r: Resource) -> list[dict[str, Any]]:
    if r["kind"] not in WORKLOADS:
        return []
    if r["kind"] == "Pod":
        return [r["spec"]]
    if r["kind"] == "CronJob":
        return [r["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return [r["spec"]["template"]["spec"]]


def _rename_references(pod: dict[str, Any], ns: str, renames: dict[tuple[str, str, str], str]) -> None:
    def rename(ref: dict[str, Any] | None, kind: str, field: str = "name") -> None:
        if ref and field in ref:
            ref[field] = renames.get((kind, ns, ref[field]), ref[field])

    for container in pod.get("containers", []) + pod.get("initContainers", []):
        for source in container.get("envFrom", []):
            rename(source.get("configMapRef"), "ConfigMap")
            rename(source.get("secretRef"), "Secret")
        for env in container.get("env", []):
            value_from = env.get("valueFrom", {})
            rename(value_from.get("configMapKeyRef"), "ConfigMap")
            rename(value_from.get("secretKeyRef"), "Secret")
    for volume in pod.get("volumes", []):
        rename(volume.get("configMap"), "ConfigMap")
        rename(volume.get("secret"), "Secret", "secretName")
        for source in volume.get("projected", {}).get("sources", []):
            rename(source.get("configMap"), "ConfigMap")
            rename(source.get("secret"), "Secret")
    for pull in pod.get("imagePullSecrets", []):
        rename(pull, "Secret")


# --- patches --------------------------------------------------------------------------------------


def _patch(directory: Path, spec: dict[str, Any], resources: list[Resource]) -> None:
    if set(spec) != {"path"}:
        raise RenderError(
            f"{directory}: patches support only `path` (a strategic-merge patch naming its target)"
        )
    for patch in (d for d in yaml.safe_load_all((directory / spec["path"]).read_text()) if d):
        if patch.get("apiVersion") not in BUILTIN_GROUPS:
            raise RenderError(
                f"{spec['path']}: only built-in kinds can be patched here, not {patch.get('apiVersion')}"
            )
        name = patch["metadata"]["name"]
        targets = [r for r in resources if r["kind"] == patch["kind"] and r["metadata"]["name"] == name]
        if len(targets) != 1:
            raise RenderError(f"{spec['path']}: {len(targets)} resources match {patch['kind']} {name}")
        merged = _merge(targets[0], patch)
        targets[0].clear()
        targets[0].update(merged)


def _merge(original: Any, patch: Any, field: str | None = None) -> Any:
    if isinstance(original, dict) and isinstance(patch, dict):
        if any(str(k).startswith("$") for k in patch):
            raise RenderError(f"patch directives are not supported: {sorted(patch)}")
        result = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            elif key in result:
                result[key] = _merge(result[key], value, key)
            else:
                result[key] = copy.deepcopy(value)
        return result
    if field == "ports" and isinstance(original, list):
        # container ports merge on (containerPort, protocol) with defaults kustomize fills in its own way
        raise RenderError("patching a `ports` list is not supported by deploy/render.py")
    merge_key = MERGE_KEYS.get(field or "")
    if isinstance(original, list) and isinstance(patch, list) and merge_key:
        # Kubernetes' strategic merge: the patch's items first, in its order (merged into the original's
        # item of the same key), then the original's items the patch does not name
        named = {item.get(merge_key) for item in patch}
        result = []
        for item in patch:
            match = next((o for o in original if o.get(merge_key) == item.get(merge_key)), None)
            result.append(copy.deepcopy(item) if match is None else _merge(match, item))
        return result + [copy.deepcopy(o) for o in original if o.get(merge_key) not in named]
    return copy.deepcopy(patch)


# --- images ---------------------------------------------------------------------------------------


def _split_image(image: str) -> tuple[str, str]:
    """("registry/name", ":tag" or "@sha256:..." or "")."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _set_images(node: Any, spec: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    name, suffix = _split_image(container.get("image", ""))
                    if name == spec["name"]:
                        new_name = spec.get("newName", name)
                        if "digest" in spec:
                            suffix = f"@{spec['digest']}"
                        elif "newTag" in spec:
                            suffix = f":{spec['newTag']}"
                        container["image"] = f"{new_name}{suffix}"
            _set_images(value, spec)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, spec)


# --- order ----------------------------------------------------------------------------------------


def _legacy_order(r: Resource) -> tuple[int, str, str, str]:
    kind = r["kind"]
    if kind in ORDER_FIRST:
        rank = ORDER_FIRST.index(kind)
    elif kind in ORDER_LAST:
        rank = len(ORDER_FIRST) + 1 + ORDER_LAST.index(kind)
    else:
        rank = len(ORDER_FIRST)
    api = r["apiVersion"]
    group, _, version = api.rpartition("/")
    gvk = f"{group or '~G'}_{version}_{kind}"
    return (rank, gvk, r["metadata"].get("namespace", ""), r["metadata"]["name"])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write(__doc__ or "")
        return 2
    sys.stdout.write(dump(render(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
