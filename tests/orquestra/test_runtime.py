"""The process-wide manager and backend selection."""

from __future__ import annotations

import pytest

import orquestra
from orquestra.backends.ollama import OllamaBackend, canonical_name
from orquestra.errors import BackendUnavailableError
from orquestra.runtime import build_model_manager, set_model_manager


@pytest.fixture(autouse=True)
def _fresh_singleton() -> None:
    set_model_manager(None)


def test_get_model_manager_is_process_wide_and_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXECUTOR_MODEL", "deepseek-coder:6.7b")
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "12")
    monkeypatch.setenv("ORQUESTRA_BACKEND", "ollama")
    manager = orquestra.get_model_manager()
    assert manager is orquestra.get_model_manager()
    assert manager.model_for("executor") == "deepseek-coder:6.7b"
    assert manager.get_status()["budget_gb"] == 12.0
    assert isinstance(manager.backend, OllamaBackend)
    set_model_manager(None)


def test_overrides_apply_on_top_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORQUESTRA_SWAP_POLICY", "alternate")
    manager = build_model_manager(brain_model="qwen2.5:7b", vram_budget_gb=8, backend="ollama")
    assert manager.settings.swap_policy == "alternate"
    assert manager.model_for("brain") == "qwen2.5:7b"


def test_embedded_backend_without_llama_cpp_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orquestra.backends.embedded as embedded

    monkeypatch.setattr(embedded, "llama_available", lambda: False)
    monkeypatch.setenv("ORQUESTRA_BACKEND", "embedded")
    with pytest.raises(BackendUnavailableError, match=r"orquestra-agent\[embedded\]"):
        build_model_manager()


def test_auto_without_ollama_or_embedded_models_names_both_fixes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orquestra.runtime as runtime

    monkeypatch.setattr(runtime, "llama_available", lambda: False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(BackendUnavailableError) as info:
        build_model_manager()
    assert "ollama serve" in str(info.value) and "orquestra-agent[embedded]" in str(info.value)


def test_auto_picks_ollama_when_it_answers(server) -> None:  # type: ignore[no-untyped-def]
    manager = build_model_manager(ollama_base_url=server.url)
    assert manager.backend.name == "ollama"


def test_embedded_settings_take_the_embedded_models_and_budget() -> None:
    from orquestra.runtime import embedded_settings
    from orquestra.settings import load_settings

    settings = embedded_settings(load_settings())
    assert settings.brain_model == "qwen2.5-coder-1.5b-instruct"
    assert settings.executor_model == "qwen2.5-coder-0.5b-instruct"
    assert settings.vram_budget_gb == 2.0
    explicit = embedded_settings(load_settings(vram_budget_gb=8))
    assert explicit.vram_budget_gb == 8
    with pytest.raises(Exception, match="not an embedded model"):
        embedded_settings(load_settings(brain_model="llama3:70b"))


def test_canonical_names_match_what_ollama_lists() -> None:
    assert canonical_name("qwen2.5-coder") == "qwen2.5-coder:latest"
    assert canonical_name("qwen2.5-coder:14b") == "qwen2.5-coder:14b"
    assert canonical_name("hf.co/org/model") == "hf.co/org/model:latest"
    assert canonical_name("localhost:5000/model") == "localhost:5000/model:latest"


def test_one_manager_serves_successive_event_loops(server, state) -> None:  # type: ignore[no-untyped-def]
    """A CLI or notebook may call asyncio.run more than once with the same manager."""
    import asyncio

    from orquestra.manager import ModelManager
    from orquestra.settings import load_settings
    from tests.fakes.ollama import FakeNvml

    settings = load_settings(ollama_base_url=server.url, vram_budget_gb=16, home_role="none")
    manager = ModelManager(settings, OllamaBackend(server.url), probe=FakeNvml(state))
    asyncio.run(manager.ensure("brain"))
    asyncio.run(manager.ensure("executor"))
    assert manager.get_status()["executor_loaded"] and manager.get_status()["swaps"] == 2
