# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
export CDK_DISABLE_CLI_TELEMETRY=1
export CDK_DISABLE_VERSION_CHECK=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

.PHONY: all demo test unit bench synth lint clean env
CODE := functions stacks gatewatch_cli gatewatch_demo app.py

all: test

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "gatewatch needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# arm64 wheels for the Lambda asset, fetched at install time so synth and tests never download.
WHEEL_STAMP := .wheelhouse/.stamp
$(WHEEL_STAMP): functions/requirements.txt | $(STAMP)
	$(PY) -m pip download --quiet --disable-pip-version-check --platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.14 --implementation cp -d .wheelhouse -r functions/requirements.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

env: $(STAMP) $(NODE_STAMP) $(WHEEL_STAMP)

demo: env
	$(VENV)/bin/gatewatch demo

test: env
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# The fast tier: the unit tests, without anything that synthesizes CDK or runs the demo (markers in tests/conftest.py).
# Serial: on two shared cores, starting xdist workers cost more than they saved (16 s serial vs 22 s with -n 2).
unit: env
	$(PY) -m pytest -q -p no:cacheprovider tests/unit -m "not synth and not demo"

# The static gate: lint and format (ruff), types (mypy), no imports of another module's private names, and a
# complexity report (radon: every function above 10) with a ceiling (xenon: none above 30, modules on average
# 20 or less). CI runs it before the tests.
lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) tools/check_imports.py
	@echo "complexity: functions above 10 (radon cc; the hot loops are kept flat on purpose, see docs/performance.md)"
	@$(VENV)/bin/radon cc -s -n C $(CODE)
	$(VENV)/bin/xenon --max-absolute D --max-modules C --max-average B $(CODE)

bench: env
	$(PY) bench/bench_engine.py
	$(PY) bench/bench_handler.py

synth: env
	npx cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .wheelhouse gatewatch-demo
