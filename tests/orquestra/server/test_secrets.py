"""A password in the upstream's URL never reaches text: errors, status, dashboard, metrics, logs."""

from __future__ import annotations

import logging

import httpx
import ollama
import pytest

from orquestra.backends.ollama import OllamaBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.server.app import RedactSecrets, create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllama, FakeOllamaState
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import free_port, serving

SECRET = "s3cret-pa55"
CHAT = {"model": EXECUTOR, "messages": [{"role": "user", "content": "hi"}], "stream": False}


def _manager(url: str, state: FakeOllamaState) -> ModelManager:
    settings = load_settings(ollama_base_url=url, vram_budget_gb=16.0, home_role="none")
    return ModelManager(
        settings,
        OllamaBackend(settings.ollama_base_url),
        probe=FakeNvml(state),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )


def test_the_upstream_password_appears_nowhere(
    server: FakeOllama, state: FakeOllamaState, caplog: pytest.LogCaptureFixture
) -> None:
    manager = _manager(server.url.replace("http://", f"http://alice:{SECRET}@"), state)
    assert SECRET not in manager.upstream.describe()  # the start-up log line says this
    state.script(EXECUTOR, "olá")
    seen: list[str] = []
    caplog.set_level(logging.INFO, logger="orquestra")
    with serving(create_app(manager, max_queue=4)) as url:
        answer = ollama.Client(host=url).chat(
            model=EXECUTOR, messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.message.content == "olá"  # the password still reaches Ollama
        for path in ("/orquestra/status", "/orquestra/dashboard", "/metrics", "/api/ps"):
            seen.append(httpx.get(url + path, timeout=10).text)
    dead = f"http://alice:{SECRET}@127.0.0.1:{free_port()}"  # nothing listens there
    with serving(create_app(_manager(dead, state), max_queue=4)) as url:
        errors = [
            httpx.post(url + "/api/chat", json=CHAT, timeout=30),
            httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30),
            httpx.get(url + "/api/tags", timeout=30),
            httpx.get(url + "/orquestra/status", timeout=30),
        ]
    assert errors[0].status_code >= 500 and "127.0.0.1" in errors[0].text  # still named
    seen += [e.text for e in errors]
    seen.append(caplog.text)
    assert not [text[:300] for text in seen if SECRET in text]


def test_the_scheduler_log_redacts_a_password_in_any_url() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", f"http://a:{SECRET}@h:1/x"),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "HTTP Request: GET http://a:***@h:1/x"
