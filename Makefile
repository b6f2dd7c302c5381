# Two entry points for a fresh machine: `make demo` and `make test`.
# Both build .venv from pyproject.toml with Python 3.12 first.
PYTHON ?= $(shell command -v python3.12 || echo /root/.pyenv/versions/3.12.1/bin/python3.12)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seldon-tfserving demo

lint: $(STAMP)
	$(BIN)/ruff check seldon_tfserving tests
	$(BIN)/ruff format --check seldon_tfserving tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/seldon-tfserving bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
