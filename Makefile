# dsdash build. Every target makes its own .venv from the pinned files, so a fresh clone needs
# nothing but Python 3.11+, Node.js 20 and npm.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# checkov's pins (boto3, botocore, packaging) conflict with ours: it gets a tool venv of its own,
# which only `make test` needs (tests/cdk_support/test_policy_linters.py runs it as a subprocess),
# never `make demo`.
POLICY_LINT_VENV := .venv-policy-lint
POLICY_LINT_STAMP := $(POLICY_LINT_VENV)/.installed

# The Python venv and node_modules install side by side (npm ci needs no Python): about 15 s off a
# fresh clone's `make demo`. Output stays grouped per target.
MAKEFLAGS += --jobs=2 --output-sync=target

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: test lint synth demo bench venv policy-lint-venv clean readme-catalog

# The installer: uv, pinned, from the registry into the venv; it downloads and installs in
# parallel where pip goes one package at a time. requirements.lock stays the one source of pins:
# it holds the whole transitive set, the `sandbox` extra (moto: `dsdash demo` and the tests) and
# the `dev` extra included, so the package itself goes in without dependencies.
UV_VERSION := 0.13.8
UV := $(BIN)/uv

# The stamp is older than any pinned file it was built from, so editing a pin rebuilds the venv.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# uv comes from the main venv (order-only: rebuilding that venv does not reinstall checkov).
$(POLICY_LINT_STAMP): requirements-policy-lint.lock | $(STAMP)
	test -x $(POLICY_LINT_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(POLICY_LINT_VENV)
	$(UV) pip install --quiet --python $(POLICY_LINT_VENV)/bin/python --no-deps \
		-r requirements-policy-lint.lock
	touch $@

venv: $(STAMP) $(NPM_STAMP)

policy-lint-venv: $(POLICY_LINT_STAMP)

# Four workers on two cores: many tests wait on a subprocess (jsii's node, `dsdash demo`, chromium),
# and the extra workers use the cores the waiting ones leave idle.
test: venv policy-lint-venv
	$(BIN)/python -m pytest -n 4 --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy config contracts runtime_common metrics spoke_stackset hub_stack enrollment org_stack \
		cdk_support cli dashboard sandbox bench app.py

synth: venv
	npx cdk synth --quiet

demo: venv
	$(BIN)/dsdash demo --out demo-output

bench: venv
	$(BIN)/python -m bench

# Regenerates the metric catalog in README.md from the registry (a test fails when it is stale).
readme-catalog: venv
	$(BIN)/dsdash metrics list --markdown --update-readme README.md

clean:
	rm -rf $(VENV) $(POLICY_LINT_VENV) node_modules cdk.out build .pytest_cache .mypy_cache .ruff_cache
