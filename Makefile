# Orquestra: `make test` installs into .venv and runs lint, types and tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint typecheck pytest bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(PY) -m ruff check .

typecheck: install
	$(PY) -m mypy

pytest: install
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) bench/swap_overhead.py
	$(PY) bench/sandbox_overhead.py
	$(PY) bench/router_eval.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
