"""The llama-server backend's pieces that need no server: parsing, settings, refusals."""

from __future__ import annotations

import pytest

from orquestra.app.doctor import run_checks
from orquestra.backends.base import is_local
from orquestra.backends.llama_router import LlamaRouter, find_model, parse_models
from orquestra.backends.llama_server import LlamaServerBackend
from orquestra.errors import BackendError, BackendUnavailableError, SettingsError
from orquestra.runtime import select_backend
from orquestra.settings import load_settings

MODELS = {
    "object": "list",
    "data": [
        {
            "id": "qwen-small",
            "aliases": ["coder"],
            "status": {
                "value": "loaded",
                "args": [
                    "/usr/bin/llama-server", "--host", "127.0.0.1", "--port", "40001",
                    "--alias", "qwen-small", "--model", "/m/qwen-small.gguf",
                    "--slot-save-path", "/kv/", "-c", "4096", "--log-colors", "off",
                ],
            },
        },
        {"id": "broken", "status": {"value": "unloaded", "failed": True, "exit_code": 1}},
    ],
}  # fmt: skip


def test_models_are_parsed_with_their_child_arguments() -> None:
    small, broken = parse_models(MODELS)
    assert (small.id, small.status, small.running, small.port) == (
        "qwen-small",
        "loaded",
        True,
        40001,
    )
    assert str(small.model_path) == "/m/qwen-small.gguf" and str(small.slot_dir) == "/kv"
    # Ports, host, alias and colours change from run to run; the KV depends on the rest.
    assert small.settings_args() == (
        "--model", "/m/qwen-small.gguf", "--slot-save-path", "/kv/", "-c", "4096",
    )  # fmt: skip
    assert broken.failed and not broken.running and broken.model_path is None
    assert find_model([small, broken], "coder") is small
    assert find_model([small, broken], "nope") is None
    assert parse_models({"unexpected": 1}) == []


def test_settings_read_the_url_and_the_kv_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMA_SERVER_URL", "localhost:9000/")
    monkeypatch.setenv("ORQUESTRA_KV_CACHE_GB", "1.5")
    monkeypatch.setenv("ORQUESTRA_BACKEND", "llama-server")
    settings = load_settings()
    assert settings.llama_server_url == "http://localhost:9000"
    assert settings.kv_cache_gb == 1.5 and settings.backend == "llama-server"
    monkeypatch.setenv("ORQUESTRA_KV_CACHE_GB", "-1")
    with pytest.raises(SettingsError, match="ORQUESTRA_KV_CACHE_GB"):
        load_settings()


def test_the_backend_is_selected_and_keeps_the_models_named() -> None:
    settings = load_settings(backend="llama-server", brain_model="a", executor_model="b")
    backend, chosen = select_backend(settings)
    assert isinstance(backend, LlamaServerBackend) and backend.name == "llama-server"
    assert (chosen.brain_model, chosen.executor_model) == ("a", "b")
    assert backend.kv.budget_bytes == int(settings.kv_cache_gb * 2**30)


def test_a_router_on_another_machine_is_refused_with_the_reason() -> None:
    assert is_local("http://127.0.0.1:8080") and is_local("http://localhost:1")
    assert not is_local("http://gpu-box:8080")
    with pytest.raises(BackendError, match="must run beside llama-server"):
        LlamaServerBackend("http://gpu-box:8080")


async def test_a_router_that_does_not_answer_names_how_to_start_one() -> None:
    router = LlamaRouter("http://127.0.0.1:9")
    with pytest.raises(BackendUnavailableError, match=r"--models-dir.*LLAMA_SERVER_URL"):
        await router.models()
    await router.aclose()


async def test_the_doctor_names_how_to_start_a_router_that_does_not_answer() -> None:
    settings = load_settings(backend="llama-server", llama_server_url="http://127.0.0.1:9")
    checks = {c.name: c for c in await run_checks(settings)}
    assert checks["llama-server"].status == "fail"
    assert "--models-dir" in checks["llama-server"].fix
