# Failsafe: `make run` serves the app on the embedded PostgreSQL and Redis; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The embedded PostgreSQL ships wheels for CPython 3.11 and 3.12 only: pick one of those.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' 2>/dev/null && { echo $$p; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Failsafe needs Python 3.11 or 3.12 (found none on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@rm -f $(VENV)/.installed-*
	@touch $@

.PHONY: install
install: $(STAMP)  ## create .venv and install the pinned dependencies

.PHONY: run
run: $(STAMP)  ## serve on http://127.0.0.1:8000: gunicorn, a worker and beat (supervised), embedded PostgreSQL and Redis
	$(BIN)/python -m config.run

# The MLflow backend's tests run a real MLflow server. Every mlflow release pins an older
# gunicorn than the app does, so it gets a virtualenv of its own (no root needed).
MLFLOW_VERSION := 3.17.2
MLFLOW := .data/mlflow-venv/bin/mlflow

$(MLFLOW):
	@test -n "$(PYTHON)" || { echo "Failsafe needs Python 3.11 or 3.12 (found none on PATH)"; exit 1; }
	$(PYTHON) -m venv .data/mlflow-venv
	.data/mlflow-venv/bin/python -m pip install --quiet mlflow==$(MLFLOW_VERSION)

.PHONY: mlflow-deps
mlflow-deps: $(MLFLOW)  ## a virtualenv with the MLflow server the backend tests start

# The single sign-on tests run a real OpenID provider (npm's oidc-provider, pinned by its own
# package-lock.json) on loopback, on the machine's Node.js.
OIDC_PROVIDER := tests/oidc_provider/node_modules/oidc-provider/package.json

$(OIDC_PROVIDER): tests/oidc_provider/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd tests/oidc_provider && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: oidc-deps
oidc-deps: $(OIDC_PROVIDER)  ## the OpenID provider the single sign-on tests start (npm ci)

.PHONY: test
# The suite runs on TEST_WORKERS pytest-xdist workers (0: in this process), a file to a
# worker: a file's session servers (MLflow, Chromium) start once (tests/services.py).
TEST_WORKERS ?= 2
test: $(STAMP) $(MLFLOW) oidc-deps system-deps axe-deps lint  ## lint, then the whole suite on real PostgreSQL, Redis, Celery, MLflow
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# `make test` fuzzes every API operation as every role, an outsider and nobody (no credentials)
# with 5 examples each and every schemathesis check; this draws FUZZ_EXAMPLES (default 50: 500
# an operation over the 10 personas), `timeout` bounds it.
FUZZ_EXAMPLES ?= 50
.PHONY: fuzz
fuzz: $(STAMP)  ## schemathesis over every API operation as every role, FUZZ_EXAMPLES (50) each
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout --signal=TERM --kill-after=60 30m \
		$(BIN)/python -m pytest tests/test_api_fuzz.py -q $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP)  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$${DATABASE_URL:-postgres://localhost/failsafe} SECRET_KEY=$${SECRET_KEY:-lint-only} $(BIN)/mypy .

.PHONY: format
format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# What the suite runs beside Python: Chromium, Alertmanager, Prometheus and poppler, from Debian's packages
# (each target installs only what is missing; apt-get needs root).
.PHONY: system-deps
system-deps: browser-deps alertmanager-deps prometheus-deps pdf-deps  ## install the Debian packages the suite needs

.PHONY: browser-deps
browser-deps:  ## install Debian's chromium for the browser tests (needs root and apt)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's postinst starts the packaged service (port 9093) unless policy-rc.d forbids it:
# the test runs its own Alertmanager, so a service started by the install is stopped again.
.PHONY: alertmanager-deps
alertmanager-deps:  ## install Debian's prometheus-alertmanager for the live alert test (root, apt)
	@test -x /usr/bin/prometheus-alertmanager || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null \
		&& if [ -x /etc/init.d/prometheus-alertmanager ] && /etc/init.d/prometheus-alertmanager status >/dev/null 2>&1; then \
			/etc/init.d/prometheus-alertmanager stop >/dev/null; fi; }

# The analysis tests run their own Prometheus on loopback; Debian's postinst may start the
# packaged service (port 9090) and its node exporter: both are stopped again.
.PHONY: prometheus-deps
prometheus-deps:  ## install Debian's prometheus for the metric-analysis tests (root, apt)
	@test -x /usr/bin/prometheus || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
		&& if [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then \
			/etc/init.d/prometheus stop >/dev/null; fi; }

.PHONY: pdf-deps
pdf-deps:  ## install Debian's poppler-utils: the evidence-report test renders the PDF with pdftoppm
	@command -v pdftoppm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }

# The accessibility tests inject axe-core into each page: npm installs the version
# package-lock.json pins into node_modules/, with Debian's nodejs and npm where they are missing.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

.PHONY: axe-deps
axe-deps: $(AXE)  ## install axe-core (pinned in package-lock.json) for the accessibility tests

.PHONY: bench
bench: $(STAMP)  ## run every benchmark in bench/ and write bench/RESULTS.md
	$(BIN)/python bench/run_all.py

# Not part of `make test`: 100 clients for 5 minutes, steady and then with faults (~15 min in
# all, on loopback); `timeout` bounds it, and the script stops every process it started.
SOAK_ARGS ?=
.PHONY: soak
soak: $(STAMP)  ## soak: 100 clients x 5 min on gunicorn, PostgreSQL, Celery; then again with faults
	timeout --signal=TERM --kill-after=60 30m $(BIN)/python bench/soak.py $(SOAK_ARGS)

.PHONY: clean
clean:  ## remove the virtual environment and the embedded data
	rm -rf $(VENV) .data staticfiles test-artifacts node_modules
