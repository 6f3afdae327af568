"""Fixtures: a fake Ollama server on loopback and managers wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orquestra.backends.ollama import OllamaBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeModel, FakeNvml, FakeOllama, FakeOllamaState, default_models

BRAIN = "qwen2.5-32b-instruct-moe-rtx:latest"
EXECUTOR = "qwen2.5-coder:14b"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's .env, Ollama URL or cache leaks into a test."""
    for var in ("DEFAULT_MODEL", "EXECUTOR_MODEL", "OLLAMA_BASE_URL", "LLAMA_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    import os

    for var in list(os.environ):
        if var.startswith("ORQUESTRA_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORQUESTRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ORQUESTRA_SERVE_KEY_FILE", str(tmp_path / "config" / "serve.key"))
    # In-process managers unless a test points at an `orquestra serve` of its own.
    monkeypatch.setenv("ORQUESTRA_URL", "none")


@pytest.fixture
def state() -> FakeOllamaState:
    return FakeOllamaState(default_models(), vram_total_gb=16.0)


@pytest.fixture
def server(state: FakeOllamaState) -> Iterator[FakeOllama]:
    fake = FakeOllama(state).start()
    yield fake
    fake.stop()


ManagerFactory = Callable[..., ModelManager]


@pytest.fixture
async def make_manager(
    server: FakeOllama, state: FakeOllamaState, tmp_path: Path
) -> AsyncIterator[ManagerFactory]:
    """Build managers against the fake server; each is closed after the test."""
    made: list[ModelManager] = []

    def factory(*, nvml: bool = True, **overrides: Any) -> ModelManager:
        overrides.setdefault("ollama_base_url", server.url)
        overrides.setdefault("vram_budget_gb", 16.0)
        overrides.setdefault("home_role", "none")
        settings = load_settings(**overrides)
        from tests.fakes.ollama import NoNvml

        manager = ModelManager(
            settings,
            OllamaBackend(settings.ollama_base_url),
            probe=FakeNvml(state) if nvml else NoNvml(),
            ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
        )
        made.append(manager)
        return manager

    yield factory
    for manager in made:
        await manager.aclose()


def models_of(*specs: tuple[str, float]) -> list[FakeModel]:
    from tests.fakes.ollama import fake_model

    return [fake_model(name, gb) for name, gb in specs]


@pytest.fixture
async def wired(make_manager: ManagerFactory) -> AsyncIterator[ModelManager]:
    """A process-wide manager against the fake server, as the graph's nodes will find it."""
    from orquestra.runtime import set_model_manager

    manager = make_manager()
    set_model_manager(manager)
    yield manager
    set_model_manager(None)


@pytest.fixture
def demo(
    monkeypatch: pytest.MonkeyPatch, server: FakeOllama, state: FakeOllamaState
) -> FakeOllamaState:
    """The fake server with demo replies, where the `orquestra` command will find it."""
    from tests.fakes.ollama import demo_reply

    state.default_reply = demo_reply
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "16")
    monkeypatch.setenv("ORQUESTRA_HOME_ROLE", "none")
    monkeypatch.setenv("COLUMNS", "300")
    return state


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the session (`tests/postgres.py`), or a skip."""
    from tests.postgres import server_bin_dir, start_cluster, unavailable

    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    bin_dir = server_bin_dir()
    assert bin_dir is not None
    cluster = start_cluster(bin_dir)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster: Any) -> str:
    """The URL of a fresh, empty database on the session's cluster."""
    return str(postgres_cluster.create_database())
