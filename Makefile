# modelmon — the two commands: `make run` (serve on the embedded SQLite) and `make test`;
# `make check` is the fast inner loop while editing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock

.PHONY: tools run demo test check lint typecheck unit bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install --quiet -c $(LOCK) -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $@

## Set up and serve on the embedded SQLite database (./modelmon.db), http://127.0.0.1:8000
run: $(VENV)/.runtime
	$(BIN)/modelmon serve

## Set up and run the demo: six simulated weeks of a credit-scoring model in about two minutes
demo: $(VENV)/.runtime
	$(BIN)/modelmon demo

## Set up and run every check: lint, types, and the tests on SQLite and Postgres
test: $(VENV)/.dev tools lint typecheck unit

## The fast inner loop (under a minute): lint, types, and the tests not marked slow, each once on SQLite
check: $(VENV)/.dev lint typecheck
	@# faker and xdist are plugins the serial loop does not use: without them pytest starts ~5 s sooner.
	$(BIN)/python -m pytest -q -m "not slow and not postgres" -p no:faker -p no:xdist -p no:xdist.looponfail

## Install the Debian tools some tests drive (promtool, Prometheus, Alertmanager) when missing
tools:
	bash .ci/tools.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check service tests benchmarks migrations tools
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/python -m pytest -n 2 --durations=10

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.ingest

## Re-pin every dependency (after changing pyproject.toml), from a fresh environment
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip && .lockenv/bin/pip install --quiet '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^modelmon' > $(LOCK).new
	(echo '# Fully pinned versions of every dependency (runtime and dev); regenerate with `make lock`.'; cat $(LOCK).new) > $(LOCK)
	rm -rf .lockenv $(LOCK).new

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
