"""Processes find the one scheduler, or start it; it exits when nobody uses it."""

from __future__ import annotations

import httpx
import pytest

from orquestra.client.remote import RemoteManager
from orquestra.errors import BackendUnavailableError
from orquestra.lineup import Lineup, Upstream
from orquestra.manager import ModelManager
from orquestra.runtime import build_model_service
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllama
from tests.orquestra.server.conftest import free_port, wait_until


async def test_the_first_process_starts_the_scheduler_and_the_next_one_finds_it(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.delenv("ORQUESTRA_URL")
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    monkeypatch.setenv("ORQUESTRA_SERVE_PORT", str(port))
    monkeypatch.setenv("ORQUESTRA_SERVE_IDLE_S", "3")
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "16")
    first = build_model_service()
    second = build_model_service()
    assert isinstance(first, RemoteManager) and isinstance(second, RemoteManager)
    assert first.url == second.url == f"http://127.0.0.1:{port}"
    await first.ensure("executor")
    assert (await second.status()).as_dict()["executor_loaded"]  # one shared state
    await first.aclose()
    await second.aclose()
    # Idle (liveness checks do not count as use), it exits on its own.
    wait_until(lambda: not _alive(f"http://127.0.0.1:{port}"), timeout_s=60)


def _alive(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def test_none_keeps_the_manager_in_this_process(server: FakeOllama) -> None:
    service = build_model_service(load_settings(ollama_base_url=server.url))  # URL is none
    assert isinstance(service, ModelManager)


def test_a_scheduler_url_that_does_not_answer_names_the_fix() -> None:
    settings = load_settings(orquestra_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailableError, match="ORQUESTRA_URL=none"):
        build_model_service(settings)


def test_without_autostart_the_manager_stays_in_process() -> None:
    from orquestra.client.autostart import find_or_start

    settings = load_settings(orquestra_url="", serve_port=free_port(), autostart=False)
    lineup = Lineup.of(settings, Upstream.of(settings, "ollama"))
    assert find_or_start(settings, lineup) is None
