# Failsafe: `make run` serves the app on the embedded PostgreSQL and Redis; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Failsafe supports CPython 3.11 to 3.13 (requires-python): the newest of those on PATH.
PYTHONS := python3.13 python3.12 python3.11
PYTHON ?= $(shell for p in $(PYTHONS) python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { echo $$p; break; }; \
	done)
NO_PYTHON := Failsafe needs Python 3.13, 3.12 or 3.11, and none is on PATH ($(PYTHONS), python3)
VENV := .venv
BIN := $(VENV)/bin
# Every package, transitive ones too, pinned with its hashes (`make lock` writes it).
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# A .venv whose creation stopped half-way (no ensurepip: Debian's pythonX.Y-venv missing)
# has a python but no pip: it is made anew rather than reused.
$(STAMP): $(LOCK) pyproject.toml
	@test -n "$(PYTHON)" || { echo "$(NO_PYTHON)"; exit 1; }
	@if [ -e $(BIN)/python ] && ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		echo "$(VENV) is half-made (no pip): making it anew"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || { PYTHON=$(PYTHON) scripts/system-deps.sh venv && $(PYTHON) -m venv $(VENV); } \
		|| { rm -rf $(VENV); exit 1; }
	$(BIN)/python -m pip install --quiet --require-hashes --requirement $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	@rm -f $(VENV)/.installed-*
	@touch $@

.PHONY: install
install: $(STAMP)  ## create .venv and install requirements.lock (hashes checked), then the project

# uv resolves for every platform and Python the project supports (--universal) from PyPI (uv
# reads no pip.conf), keeping the pins it already has unless pyproject.toml moves them.
# The production lock is the runtime subset, held to the same versions.
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet
.PHONY: lock
lock: $(STAMP)  ## resolve requirements.lock (and requirements-production.lock) from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra embedded $(LOCK_ARGS) --output-file $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --constraint $(LOCK) $(LOCK_ARGS) --output-file requirements-production.lock

.PHONY: run
run: $(STAMP)  ## serve on http://127.0.0.1:8000: gunicorn, a worker and beat (supervised), embedded PostgreSQL and Redis
	$(BIN)/python -m config.run

# The MLflow backend's tests run a real MLflow server. Every mlflow release pins an older
# gunicorn than the app does, so it gets a virtualenv of its own (no root needed).
MLFLOW_VERSION := 3.17.2
MLFLOW := .data/mlflow-venv/bin/mlflow

$(MLFLOW):
	@test -n "$(PYTHON)" || { echo "$(NO_PYTHON)"; exit 1; }
	$(PYTHON) -m venv .data/mlflow-venv
	.data/mlflow-venv/bin/python -m pip install --quiet mlflow==$(MLFLOW_VERSION)

.PHONY: mlflow-deps
mlflow-deps: $(MLFLOW)  ## a virtualenv with the MLflow server the backend tests start

# The single sign-on tests run a real OpenID provider (npm's oidc-provider, pinned by its own
# package-lock.json) on loopback, on the machine's Node.js.
OIDC_PROVIDER := tests/oidc_provider/node_modules/oidc-provider/package.json

$(OIDC_PROVIDER): tests/oidc_provider/package-lock.json
	@scripts/system-deps.sh node
	cd tests/oidc_provider && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: oidc-deps
oidc-deps: $(OIDC_PROVIDER)  ## the OpenID provider the single sign-on tests start (npm ci)

.PHONY: test
# The suite runs on TEST_WORKERS pytest-xdist workers (0: in this process), a file to a
# worker: a file's session servers (MLflow, Chromium) start once (tests/services.py).
TEST_WORKERS ?= 2
# system-deps comes first: a machine without them stops here, before any install or test.
test: system-deps $(STAMP) $(MLFLOW) oidc-deps axe-deps lint  ## lint, then the whole suite on real PostgreSQL, Redis, Celery, MLflow
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

# What the suite runs beside Python, from Debian's packages: Chromium, Alertmanager, Prometheus,
# poppler (pdftoppm, pdftotext), Node.js and npm. As root apt-get installs what is missing;
# anyone else is told the one command to run, and make stops there (scripts/system-deps.sh).
.PHONY: system-deps
system-deps:  ## install the Debian packages the suite needs (root), or name the command that does
	@PYTHON=$(PYTHON) scripts/system-deps.sh suite $(if $(PYTHON),$(if $(wildcard $(BIN)/python),,venv))

# The names the tests' messages give for each component: all of them, as above.
.PHONY: browser-deps alertmanager-deps prometheus-deps pdf-deps
browser-deps alertmanager-deps prometheus-deps pdf-deps: system-deps

# The accessibility tests inject axe-core into each page: npm installs the version
# package-lock.json pins into node_modules/, with Debian's nodejs and npm where they are missing.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	@scripts/system-deps.sh node
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
soak: $(STAMP)  ## soak: 100 clients x 5 min on two of each web server, worker and beat; then again with faults
	timeout --signal=TERM --kill-after=60 30m $(BIN)/python bench/soak.py $(SOAK_ARGS)

.PHONY: clean
clean:  ## remove the virtual environment and the embedded data
	rm -rf $(VENV) .data staticfiles test-artifacts node_modules
