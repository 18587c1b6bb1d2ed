"""The overlays render, validate against the Kubernetes schemas, and have the shape the issue asks for.

No cluster: deploy/render.py renders (tests/deploy/test_render.py holds it to kustomize), kubernetes-validate
checks every built-in kind against the schemas of the newest Kubernetes it bundles with `strict`
(unknown fields are errors), and the CloudNativePG kinds are checked against the trimmed schemas
vendored in deploy/k8s/crd-schemas/.
"""

from __future__ import annotations

import copy
import functools
import json
import re

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate import utils as kv_utils

from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    PROCESS_MODULES,
    SERVICES,
    all_containers,
    all_of,
    app_container,
    container_env,
    generated,
    one,
    pod_template,
    rendered,
    selects,
    workloads,
)

CRD_SCHEMAS = {
    (path.stem.rsplit("_", 1)[0].replace("_", "/"), path.stem.rsplit("_", 1)[1]): json.loads(path.read_text())
    for path in (K8S / "crd-schemas").glob("*.json")
}
KUBERNETES_VERSION = kv_utils.latest_version()


def _validate(document: dict) -> None:
    schema = CRD_SCHEMAS.get((document["apiVersion"], document["kind"]))
    if schema is not None:
        jsonschema.Draft202012Validator(schema).validate(document)
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@functools.cache
def _validation_problems(overlay: str) -> tuple[list[str], set[tuple[str, str]]]:
    """(invalid documents, (apiVersion, kind) of those with no schema at all)."""
    invalid, without_schema = [], set()
    for document in rendered(overlay):
        try:
            _validate(document)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            invalid.append(f"{document['kind']}/{document['metadata']['name']}: {exc.message}")
        except kv_utils.SchemaNotFoundError:
            without_schema.add((document["apiVersion"], document["kind"]))
    return invalid, without_schema


# --- rendering and validation ---------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_four_processes_and_the_migrations_job(overlay):
    resources = rendered(overlay)

    assert {d["metadata"]["name"] for d in all_of(resources, "Deployment")} == set(PROCESS_MODULES)
    assert [j["metadata"]["name"] for j in all_of(resources, "Job")] == ["bicameral-migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_validates_strictly_against_its_schema(overlay):
    invalid, without_schema = _validation_problems(overlay)

    assert invalid == []
    assert without_schema == set(), "vendor a schema in deploy/k8s/crd-schemas"


def test_the_custom_resources_are_validated_by_their_vendored_schemas():
    custom = {
        (d["apiVersion"], d["kind"]) for d in rendered("production") if d["kind"] in ("Cluster", "Database")
    }

    assert custom == set(CRD_SCHEMAS)
    for api_version, kind in custom:
        document = next(
            d for d in rendered("production") if (d["apiVersion"], d["kind"]) == (api_version, kind)
        )
        with pytest.raises(kv_utils.SchemaNotFoundError):
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field():
    deployment = copy.deepcopy(one(rendered("dev"), "Deployment", "gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"

    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)


def test_vendored_cluster_schema_rejects_an_unknown_field():
    cluster = copy.deepcopy(one(rendered("production"), "Cluster", "bicameral-pg"))
    cluster["spec"]["instance"] = 3

    with pytest.raises(jsonschema.ValidationError):
        _validate(cluster)


# --- containers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_unprivileged_on_a_read_only_root(overlay):
    for workload in workloads(rendered(overlay)):
        pod = pod_template(workload)["spec"]
        pod_sc = pod.get("securityContext", {})
        for container in all_containers(workload):
            where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
            sc = container.get("securityContext", {})
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert "add" not in sc.get("capabilities", {}), where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where
        assert pod.get("automountServiceAccountToken") is False, workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_containers_write_only_to_an_empty_dir_tmp(overlay):
    resources = rendered(overlay)
    for workload in all_of(resources, "Deployment") + all_of(resources, "Job"):
        pod = pod_template(workload)["spec"]
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in empty_dirs, workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_a_memory_limit(overlay):
    for workload in workloads(rendered(overlay)):
        for container in all_containers(workload):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), container["name"]
            assert "memory" in resources.get("limits", {}), container["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_liveness_and_readiness_probes(overlay):
    resources = rendered(overlay)
    for workload in all_of(resources, "Deployment") + all_of(resources, "StatefulSet"):
        for container in all_containers(workload):
            assert "livenessProbe" in container, container["name"]
            assert "readinessProbe" in container, container["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_termination_grace_covers_the_pre_stop_sleep_and_the_drain(overlay, process):
    resources = rendered(overlay)
    deployment, container = app_container(resources, process)
    env = container_env(resources, container)
    grace = float(env["SHUTDOWN_GRACE_SECONDS"].value)
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    # the kit drains NATS within 5 s after uvicorn's graceful shutdown
    nats_drain = 5

    assert int(sleep[1]) > 0
    assert (
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        > int(sleep[1]) + grace + nats_drain
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_let_the_migrations_job_migrate(overlay):
    resources = rendered(overlay)
    for process in SERVICES:
        env = container_env(resources, app_container(resources, process)[1])
        assert env["RUN_MIGRATIONS"].value == "false", process
    job = one(resources, "Job", "bicameral-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "stack", "migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_annotated_for_prometheus_on_their_metrics_endpoint(overlay):
    resources = rendered(overlay)
    for process in PROCESS_MODULES:
        deployment, container = app_container(resources, process)
        annotations = pod_template(deployment)["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]


# --- services, budgets, autoscaling ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_exactly_one_workload_on_a_named_port(overlay):
    resources = rendered(overlay)
    for service in all_of(resources, "Service"):
        matched = [
            w
            for w in all_of(resources, "Deployment") + all_of(resources, "StatefulSet")
            if selects({"matchLabels": service["spec"]["selector"]}, pod_template(w)["metadata"]["labels"])
        ]
        assert len(matched) == 1, service["metadata"]["name"]
        port_names = {p["name"] for c in all_containers(matched[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, service["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_every_process_has_a_disruption_budget_over_its_pods(overlay, process):
    resources = rendered(overlay)
    labels = pod_template(one(resources, "Deployment", process))["metadata"]["labels"]

    budgets = [p for p in all_of(resources, "PodDisruptionBudget") if selects(p["spec"]["selector"], labels)]

    assert len(budgets) == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_and_proposals_are_autoscaled_and_own_no_fixed_replica_count(overlay):
    resources = rendered(overlay)
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in all_of(resources, "HorizontalPodAutoscaler")}

    assert set(hpas) == {"gateway", "proposals"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert "replicas" not in one(resources, "Deployment", name)["spec"], name
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def _replica_range(resources, name: str) -> tuple[int, int]:
    hpas = [
        h for h in all_of(resources, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name
    ]
    if hpas:
        return hpas[0]["spec"]["minReplicas"], hpas[0]["spec"]["maxReplicas"]
    count = one(resources, "Deployment", name)["spec"].get("replicas", 1)
    return count, count


def test_dev_runs_one_replica_of_each_process():
    for process in PROCESS_MODULES:
        assert _replica_range(rendered("dev"), process) == (1, 1), process


def test_production_runs_several_replicas_of_each_process():
    for process in PROCESS_MODULES:
        assert _replica_range(rendered("production"), process)[0] >= 2, process


# --- Postgres and NATS ----------------------------------------------------------------------------


def test_production_postgres_is_a_three_instance_cloudnativepg_cluster():
    cluster = one(rendered("production"), "Cluster", "bicameral-pg")

    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["affinity"]["podAntiAffinityType"] == "required"


def test_production_database_url_is_the_cluster_application_secret():
    resources = rendered("production")
    for process in SERVICES:
        url = container_env(resources, app_container(resources, process)[1])["DATABASE_URL"]
        # CloudNativePG names it <cluster>-app; `uri` points at <cluster>-rw
        assert (url.ref, url.key) == ("bicameral-pg-app", "uri"), process


def test_production_declares_each_service_database_with_the_configured_prefix():
    resources = rendered("production")
    prefix = generated(resources, "ConfigMap", "bicameral-database")["data"]["DATABASE_PREFIX"]
    databases = all_of(resources, "Database")

    assert {d["spec"]["name"] for d in databases} == {f"{prefix}_{s}" for s in SERVICES}
    assert {d["spec"]["cluster"]["name"] for d in databases} == {"bicameral-pg"}
    assert {d["spec"]["owner"] for d in databases} == {
        one(resources, "Cluster", "bicameral-pg")["spec"]["bootstrap"]["initdb"]["owner"]
    }


def _nats_conf(resources) -> str:
    return generated(resources, "ConfigMap", "nats-config")["data"]["nats.conf"]


def test_production_nats_is_a_three_node_jetstream_cluster_routed_through_a_headless_service():
    resources = rendered("production")
    statefulset = one(resources, "StatefulSet", "nats")
    headless = one(resources, "Service", statefulset["spec"]["serviceName"])
    conf = _nats_conf(resources)
    routes = re.findall(r"nats://([\w.-]+):(\d+)", conf.split("routes", 1)[1])

    assert statefulset["spec"]["replicas"] == 3
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert sorted(host for host, _ in routes) == [
        f"nats-{i}.{headless['metadata']['name']}" for i in range(statefulset["spec"]["replicas"])
    ]
    cluster_port = int(re.search(r"cluster\s*\{[^}]*?port:\s*(\d+)", conf).group(1))
    assert {int(port) for _, port in routes} == {cluster_port}
    assert cluster_port in {p["port"] for p in headless["spec"]["ports"]}
    assert "jetstream" in conf


def test_production_replicates_the_governance_stream_three_times():
    resources = rendered("production")
    for process in PROCESS_MODULES:
        env = container_env(resources, app_container(resources, process)[1])
        assert env["EVENTS_STREAM_REPLICAS"].value == "3", process
        assert env["EVENTS_STREAM"].value == "GOVERNANCE", process


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_stream_replicas_and_size_fit_the_nats_servers(overlay):
    resources = rendered(overlay)
    env = container_env(resources, app_container(resources, "proposals")[1])
    statefulset = one(resources, "StatefulSet", "nats")
    max_file_store = int(re.search(r"max_file_store:\s*(\d+)", _nats_conf(resources)).group(1))
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    volume_gib = int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi"))

    assert int(env["EVENTS_STREAM_REPLICAS"].value) <= statefulset["spec"]["replicas"]
    assert int(env["EVENTS_STREAM_MAX_BYTES"].value) <= max_file_store < volume_gib * 1024**3


def test_dev_runs_postgres_and_nats_in_the_namespace():
    resources = rendered("dev")

    assert one(resources, "StatefulSet", "postgres")["spec"]["replicas"] == 1
    assert one(resources, "StatefulSet", "nats")["spec"]["replicas"] == 1
    url = container_env(resources, app_container(resources, "membership")[1])["DATABASE_URL"].value
    assert url.split("@", 1)[1].startswith("postgres:5432/")


def test_production_contains_no_secret():
    assert all_of(rendered("production"), "Secret") == []


# --- network --------------------------------------------------------------------------------------


def _peers_allowed(resources, pod_labels: dict[str, str]) -> list[dict]:
    peers = []
    for policy in all_of(resources, "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], pod_labels):
            for rule in policy["spec"].get("ingress", []):
                peers += rule.get("from", [{}])
    return peers


def _pod_labels(resources, kind: str, name: str) -> dict[str, str]:
    return pod_template(one(resources, kind, name))["metadata"]["labels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_is_denied_by_default(overlay):
    default = one(rendered(overlay), "NetworkPolicy", "default-deny-ingress")

    assert default["spec"]["podSelector"] == {}
    assert default["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in default["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_accepts_traffic_from_the_ingress_controller(overlay):
    resources = rendered(overlay)
    for workload in workloads(resources):
        labels = pod_template(workload)["metadata"]["labels"]
        from_ingress = [
            p
            for p in _peers_allowed(resources, labels)
            if "ingress-nginx" in json.dumps(p.get("namespaceSelector"))
        ]
        assert bool(from_ingress) == (workload["metadata"]["name"] == "gateway"), workload["metadata"]["name"]


def _is_prometheus(peer: dict) -> bool:
    return peer.get("namespaceSelector", {}).get("matchLabels") == {
        "kubernetes.io/metadata.name": "monitoring"
    } and peer.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "prometheus"}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_services_accept_only_the_apps_pods_and_prometheus(overlay, service):
    resources = rendered(overlay)
    peers = _peers_allowed(resources, _pod_labels(resources, "Deployment", service))

    assert peers
    for peer in peers:
        if _is_prometheus(peer):
            continue
        assert set(peer) == {"podSelector"}, peer
        assert selects(peer["podSelector"], _pod_labels(resources, "Deployment", "gateway")), peer


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_accepts_the_services_and_the_job_but_not_the_gateway(overlay):
    resources = rendered(overlay)
    if overlay == "dev":
        postgres_labels = _pod_labels(resources, "StatefulSet", "postgres")
    else:
        postgres_labels = {"cnpg.io/cluster": "bicameral-pg", "cnpg.io/instanceRole": "primary"}
    app_peers = [p for p in _peers_allowed(resources, postgres_labels) if set(p) == {"podSelector"}]

    def allowed(labels):
        return any(selects(p["podSelector"], labels) for p in app_peers)

    for service in SERVICES:
        assert allowed(_pod_labels(resources, "Deployment", service)), service
    assert allowed(pod_template(one(resources, "Job", "bicameral-migrate"))["metadata"]["labels"])
    assert not allowed(_pod_labels(resources, "Deployment", "gateway"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_accepts_the_four_processes(overlay):
    resources = rendered(overlay)
    peers = _peers_allowed(resources, _pod_labels(resources, "StatefulSet", "nats"))

    for process in PROCESS_MODULES:
        labels = _pod_labels(resources, "Deployment", process)
        assert any(set(p) == {"podSelector"} and selects(p["podSelector"], labels) for p in peers), process
    assert all(set(p) == {"podSelector"} for p in peers)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_ingress_carries_websockets(overlay):
    resources = rendered(overlay)
    ingress = one(resources, "Ingress", "gateway")
    annotations = ingress["metadata"]["annotations"]
    service = one(resources, "Service", "gateway")

    assert annotations["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    # nginx's default 60 s would close every quiet subscription
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    backends = [p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert "http" in {p["name"] for p in service["spec"]["ports"]}


def test_production_ingress_serves_the_public_host_over_tls():
    ingress = one(rendered("production"), "Ingress", "gateway")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}

    assert hosts
    assert hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
