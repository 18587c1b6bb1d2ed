"""The manifests agree with the code they run.

Setting names come live from the settings classes (`stack.settings_doc.all_env_names()`), ports from the
settings' defaults, probe and scrape paths from the routes of the real apps (built, not started).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
from urllib.parse import urlsplit

import pytest
from prometheus_client import generate_latest

from kit import ServiceSettings
from stack.settings_doc import all_env_names
from tests.deploy.manifests import (
    DEPLOY,
    EXTERNAL_SECRET_KEYS,
    OVERLAYS,
    PROCESS_MODULES,
    ROOT,
    SERVICES,
    all_of,
    app_container,
    container_env,
    job_container,
    one,
    pod_template,
    rendered,
    settings_class,
)

SECRET_SETTINGS = {"INTERNAL_AUTH_SECRET", "AUTH_TOKEN_KEYS", "DATABASE_URL", "TIMELOCK_WEBHOOK_SECRET_KEYS"}
# The gateway inherits these from kit.ServiceSettings but has no database and runs no consumer.
NOT_READ_BY_GATEWAY = {
    "DATABASE_URL",
    "DATABASE_PREFIX",
    "DATABASE_POOL_SIZE",
    "RUN_MIGRATIONS",
    "CONSUMER_MAX_DELIVER",
}
# stand-ins for the values of the secrets production keeps outside the overlay
EXTERNAL_PLACEHOLDERS = {"uri": "postgresql://app:placeholder@bicameral-pg-rw:5432/app"}


@functools.cache
def env_names() -> dict[str, set[str]]:
    return all_env_names()


@functools.cache
def served_paths(process: str) -> frozenset[str]:
    module = importlib.import_module(f"{PROCESS_MODULES[process]}.app")
    app = module.create_app(settings_class(process)())
    return frozenset(getattr(route, "path", "") for route in app.routes)


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_a_process_gets_every_setting_it_reads_and_no_other(overlay, process):
    resources = rendered(overlay)
    configured = set(container_env(resources, app_container(resources, process)[1]))
    reads = env_names()[process]
    expected = reads - NOT_READ_BY_GATEWAY if process == "gateway" else reads

    assert sorted(configured - reads) == [], "set in the manifests, read by no code"
    assert sorted(expected - configured) == [], "read by the code, missing from the manifests"


def test_the_gateway_reads_none_of_the_database_settings_it_inherits():
    fields = {
        name
        for name, info in ServiceSettings.model_fields.items()
        if info.validation_alias in NOT_READ_BY_GATEWAY
    }
    source = "\n".join(path.read_text() for path in (ROOT / "gateway").rglob("*.py"))

    assert env_names()["gateway"] >= NOT_READ_BY_GATEWAY
    assert len(fields) == len(NOT_READ_BY_GATEWAY)
    for needle in [*fields, "sqlalchemy_url", "service_dsn", "server_dsn", "create_service_app"]:
        assert needle not in source, needle


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migrations_job_gets_only_settings_the_services_read(overlay):
    resources = rendered(overlay)
    configured = set(container_env(resources, job_container(resources)))

    assert configured <= set().union(*(env_names()[s] for s in SERVICES))
    assert {"DATABASE_URL", "DATABASE_PREFIX"} <= configured


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_secret_settings_come_from_secrets_and_nothing_else_does(overlay, process):
    resources = rendered(overlay)
    env = container_env(resources, app_container(resources, process)[1])

    for name, value in env.items():
        assert (value.source == "secret") == (name in SECRET_SETTINGS), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_configmap_holds_a_secret_setting(overlay):
    for configmap in all_of(rendered(overlay), "ConfigMap"):
        assert set(configmap["data"]) & SECRET_SETTINGS == set(), configmap["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_each_setting_has_one_source(overlay, process):
    resources = rendered(overlay)
    _, container = app_container(resources, process)
    names: list[str] = [item["name"] for item in container.get("env", [])]
    for source in container["envFrom"]:
        names += list(one(resources, "ConfigMap", source["configMapRef"]["name"])["data"])

    # a second definition silently wins over the first (env over envFrom, later envFrom over earlier)
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_reference_is_in_the_overlay_or_provided_outside_it_in_production(overlay):
    resources = rendered(overlay)
    containers = [app_container(resources, p)[1] for p in PROCESS_MODULES] + [job_container(resources)]
    unresolved = {
        (value.ref, value.key)
        for container in containers
        for value in container_env(resources, container).values()
        if value.source == "secret" and value.value is None
    }

    assert unresolved == (EXTERNAL_SECRET_KEYS if overlay == "production" else set())
    readme = (DEPLOY / "README.md").read_text()
    for secret, key in unresolved:
        assert f"`{secret}`" in readme, secret
        assert f"`{key}`" in readme, key


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_the_configured_values_are_valid_settings(overlay, process, monkeypatch):
    resources = rendered(overlay)
    _, container = app_container(resources, process)
    for names in env_names().values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    for value in container_env(resources, container).values():
        monkeypatch.setenv(
            value.name, value.value if value.value is not None else EXTERNAL_PLACEHOLDERS.get(value.key, "x")
        )

    settings = settings_class(process)()

    # the kubelet's probes and the Service reach the pod's address, not its loopback
    assert settings.host == "0.0.0.0"
    assert settings.port == container["ports"][0]["containerPort"]


# --- ports, addresses, probes, commands -----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_container_and_service_ports_are_the_settings_default_port(overlay, process):
    resources = rendered(overlay)
    default = settings_class(process).model_fields["port"].default
    _, container = app_container(resources, process)
    service = one(resources, "Service", process)

    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http", default)]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(default, "http")]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_the_gateway_calls_each_service_at_its_service_address(overlay, service):
    resources = rendered(overlay)
    env = container_env(resources, app_container(resources, "gateway")[1])
    url = urlsplit(env[f"GATEWAY_{service.upper()}_URL"].value)
    target = one(resources, "Service", url.hostname)

    assert (
        pod_template(one(resources, "Deployment", service))["metadata"]["labels"].items()
        >= target["spec"]["selector"].items()
    )
    assert url.port in {p["port"] for p in target["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_probes_and_scrape_path_are_routes_the_process_serves(overlay, process):
    deployment, container = app_container(rendered(overlay), process)
    paths = served_paths(process)

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] in paths, probe
        assert container[probe]["httpGet"]["port"] == "http", probe
    assert pod_template(deployment)["metadata"]["annotations"]["prometheus.io/path"] in paths


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESS_MODULES)
def test_each_deployment_runs_its_process_module(overlay, process):
    _, container = app_container(rendered(overlay), process)
    module = PROCESS_MODULES[process]

    assert container["command"] == ["python", "-m", module]
    assert importlib.util.find_spec(f"{module}.__main__") is not None


def test_the_migrations_job_migrates_every_service():
    from stack.processes import SERVICES as STACK_SERVICES

    assert {s.name for s in STACK_SERVICES} == set(SERVICES)
    assert importlib.util.find_spec("stack.__main__") is not None


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_offers_the_coroutine_the_migrate_command_calls(service):
    module = importlib.import_module(f"services.{service}.app")

    assert inspect.iscoroutinefunction(getattr(module, "migrate_database", None)), (
        f"services.{service}.app.migrate_database() is what `python -m stack migrate` (the Job) runs"
    )


# --- dashboards -----------------------------------------------------------------------------------


def _metric_names() -> set[str]:
    from gateway.middleware import GatewayMetrics
    from kit import Metrics

    text = generate_latest(Metrics("any").registry) + generate_latest(GatewayMetrics().registry)
    names = set(re.findall(r"^# TYPE (\S+)", text.decode(), flags=re.MULTILINE))
    # prometheus_client adds a `<name>_created` timestamp to counters and histograms
    return {name for name in names if not name.endswith("_created")}


def test_the_deploy_readme_names_every_metric_the_processes_export():
    readme = (DEPLOY / "README.md").read_text()

    assert sorted(name for name in _metric_names() if f"`{name}`" not in readme) == []


def test_the_deploy_readme_names_the_status_fields_to_watch():
    readme = (DEPLOY / "README.md").read_text()

    for field in ("backlog", "oldestAgeSeconds", "lag", "parked", "oldestOverdueSeconds", "nats"):
        assert f"`{field}`" in readme, field
