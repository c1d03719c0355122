# infra-lab. Two commands matter: `make up` (start the lab) and `make test` (run every test).
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help up down clean ps logs restart deploy rollback versions images test lint test-unit test-core test-worker test-admin test-cadvisor test-alloy suite report bench logql-parser

VENV := .venv
PY := $(VENV)/bin/python
LAB := $(PY) -m infralab
# sha1sum on Linux, shasum on macOS: the venv is rebuilt when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell (sha1sum 2>/dev/null || shasum) < pyproject.toml | cut -c1-12)

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

up: $(STAMP) ## start the lab (builds offline images where no registry answers), wait until healthy
	@$(LAB) up

down: $(STAMP) ## stop the lab, keep volumes
	@$(LAB) down

clean: $(STAMP) ## remove the lab and its volumes (asks unless yes=1)
	@$(LAB) clean $(if $(filter 1,$(yes)),--yes)

ps: $(STAMP) ## state and health of every container
	@$(LAB) ps

logs: $(STAMP) ## logs of a service: make logs s=core-1 [f=1 to follow]
	@$(LAB) logs $(s) $(if $(filter 1,$(f)),--follow)

restart: $(STAMP) ## restart services one at a time without 5xx: make restart s="core-1 core-2"
	@$(LAB) restart $(s)

deploy: $(STAMP) ## build a service at a git ref and roll it out, gated: make deploy s=core-server [ref=HEAD~1]
	@$(LAB) deploy $(s) $(if $(ref),--ref $(ref))

rollback: $(STAMP) ## back to the version the last deploy replaced, no build: make rollback s=core-server
	@$(LAB) rollback $(s)

versions: $(STAMP) ## the version each service runs and the versions kept for a rollback
	@$(LAB) versions

test: lint test-unit images suite ## every test: linters, service unit tests, config checks, smoke and failure drills

# Before pytest in `make test`: a cold build (minutes) would otherwise count against the first lab test's timeout.
images: $(STAMP) ## obtain every image the lab needs (pull or build), start nothing
	@$(LAB) images

lint: $(STAMP) ## Python lint and types
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-unit: test-core test-worker test-admin test-cadvisor test-alloy ## unit tests of the three services (and cAdvisor's main, Alloy's config)

test-core:
	cd core-server && mvn -B -q test

test-worker:
	cd worker-server && cargo fmt --check && cargo clippy --locked -q -- -D warnings && cargo test --locked -q

test-admin:
	cd admin-server && test -z "$$(gofmt -l .)" && go vet ./... && go test ./...

test-cadvisor:
	cd compose/offline/cadvisor && test -z "$$(gofmt -l .)" && go vet ./...

# Alloy cannot run offline: its own parser checks config.alloy (monitoring/alloy/check).
test-alloy:
	cd monitoring/alloy/check && test -z "$$(gofmt -l .)" && go vet ./... && go test ./...

# Grafana's LogQL grammar for tests/static/test_logql.py, exactly as locked; reinstalled when the lock changes.
LOGQL_PARSER := tests/static/logql/node_modules/.package-lock.json
$(LOGQL_PARSER): tests/static/logql/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix tests/static/logql

logql-parser: $(LOGQL_PARSER)

suite: $(STAMP) $(LOGQL_PARSER) ## the pytest suite: unit, static config checks, then the lab (up once) for smoke and failure drills
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) ## measure a running lab against its goals (BENCH_PROJECT, BENCH_NOISE_SECONDS; docs/benchmarks.md)
	@$(LAB) bench

ALLURE := .lab/tools/allure/node_modules/allure-commandline/dist/bin/allure
$(ALLURE):
	npm install --silent --no-audit --no-fund --prefix .lab/tools/allure allure-commandline@2.46.1

report: $(ALLURE) ## render the kept pytest runs as an Allure HTML report (earlier runs of a test show as its retries) (reports/allure-report/index.html)
	$(ALLURE) generate reports/allure-results -o reports/allure-report --clean
