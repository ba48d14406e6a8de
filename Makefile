# Stellwerk: `make run` starts it on SQLite with the provider sandboxes (installing only what
# running needs); `make test` adds the development tools and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check lint types pytest fmt migrate system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || (apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV))
	$(BIN)/pip install -q --upgrade pip

# What running needs: Stellwerk and its dependencies.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# What developing needs besides: the `dev` extras (pytest, ruff, mypy, playwright, ...).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed-run $@

run: $(VENV)/.installed-run
	$(BIN)/stellwerk serve

system-deps:
	scripts/install-system-deps scripts/test-packages.txt

test: $(VENV)/.installed system-deps check pytest

check: lint types

lint: $(VENV)/.installed
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

types: $(VENV)/.installed
	$(BIN)/mypy

# One test process per CPU; a file's tests stay in one process (they share its servers).
pytest: $(VENV)/.installed
	$(BIN)/pytest -n auto --dist loadfile

fmt: $(VENV)/.installed
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

migrate: $(VENV)/.installed-run
	$(BIN)/stellwerk migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
