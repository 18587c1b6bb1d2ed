"""The architecture rules that matter, checked on the source rather than remembered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("membership", "proposals", "timelock")
FRAMEWORKS = (
    "sqlmodel",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "nats",
    "asyncio",
    "asyncpg",
    "httpx",
    "kit._db",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _py_files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    return sorted(p for p in base.rglob("*.py") if "migrations" not in p.parts)


def _domain_files(service: str) -> list[Path]:
    base = ROOT / "services" / service
    files = list((base / "domain").rglob("*.py")) if (base / "domain").is_dir() else []
    if (base / "domain.py").exists():
        files.append(base / "domain.py")
    return files


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_is_pure(service):
    files = _domain_files(service)
    assert files, f"{service} has no domain module"
    for path in files:
        framework = {m for m in _imports(path) if m.split(".")[0] in FRAMEWORKS or m in FRAMEWORKS}
        assert not framework, f"{path.relative_to(ROOT)} imports {sorted(framework)}"


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_never_commit(service):
    base = ROOT / "services" / service
    files = (
        [base / "service.py"] if (base / "service.py").exists() else list((base / "service").rglob("*.py"))
    )
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "commit":
                raise AssertionError(
                    f"{path.relative_to(ROOT)}:{node.lineno} commits; the session dependency does"
                )


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other_or_the_gateway(service):
    others = {f"services.{s}" for s in SERVICES if s != service} | {"gateway"}
    for path in _py_files("services", service):
        bad = {m for m in _imports(path) if any(m == o or m.startswith(f"{o}.") for o in others)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_gateway_reaches_services_only_over_http():
    for path in _py_files("gateway"):
        bad = {m for m in _imports(path) if m.startswith("services")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_kit_knows_no_domain():
    for path in _py_files("kit"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("services", "gateway", "stack")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("service", SERVICES)
def test_sql_lives_in_the_repository(service):
    """Raw SQL (`text(...)`) appears only in repository modules and migrations."""
    base = ROOT / "services" / service
    for path in _py_files("services", service):
        if "repository" in path.name or "repository" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "text"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))
            ):
                raise AssertionError(f"{path.relative_to(base)}:{node.lineno} has SQL outside repository.py")
