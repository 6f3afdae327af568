"""Web pages cannot use `orquestra serve`: Host and Origin checked on every route, as Ollama."""

from __future__ import annotations

import httpx
import pytest

from orquestra.server.app import create_app
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import Scheduler, serving

# Every kind of route: model calls, a lease, the status, the dashboard, its event stream.
ROUTES = [
    ("POST", "/api/chat"),
    ("POST", "/api/generate"),
    ("POST", "/api/pull"),
    ("POST", "/orquestra/lease"),
    ("GET", "/orquestra/status"),
    ("GET", "/dashboard"),
    ("GET", "/orquestra/events"),
    ("GET", "/api/tags"),
    ("POST", "/v1/chat/completions"),
]
CHAT = {"model": EXECUTOR, "messages": [{"role": "user", "content": "hi"}], "stream": False}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_rebound_host_name_is_refused_on_every_route(
    scheduler: Scheduler, state: FakeOllamaState, method: str, path: str
) -> None:
    """DNS rebinding: the page's own name now points at 127.0.0.1, its Host header stays."""
    answer = httpx.request(
        method, scheduler.url + path, headers={"Host": "evil.example"}, json=CHAT, timeout=10
    )
    assert answer.status_code == 403
    message = answer.json()["error"]
    assert "evil.example" in message and "127.0.0.1" in message
    assert state.loads == {}  # refused before any swap


def test_a_cross_site_text_plain_post_makes_no_swap(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    """The "simple" request any page can send without a preflight."""
    answer = httpx.post(
        scheduler.url + "/api/chat",
        content=b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}'
        % EXECUTOR.encode(),
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert "ORQUESTRA_ORIGINS" in answer.json()["error"]
    assert state.loads == {} and scheduler.status()["swaps"] == 0


def test_the_event_stream_refuses_a_foreign_origin(scheduler: Scheduler) -> None:
    answer = httpx.get(
        scheduler.url + "/orquestra/events", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert answer.status_code == 403


def test_a_local_page_is_answered_with_cors_headers_and_its_preflight(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    state.script(EXECUTOR, "olá")
    origin = "http://localhost:5173"
    preflight = httpx.options(
        scheduler.url + "/api/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = httpx.post(
        scheduler.url + "/api/chat", json=CHAT, headers={"Origin": origin}, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["message"]["content"] == "olá"
    assert answer.headers["access-control-allow-origin"] == origin


def test_the_dashboard_calling_its_own_server_is_same_origin(scheduler: Scheduler) -> None:
    answer = httpx.get(
        scheduler.url + "/orquestra/status", headers={"Origin": scheduler.url}, timeout=10
    )
    assert answer.status_code == 200


def test_orquestra_origins_lets_a_named_site_in(
    scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORQUESTRA_ORIGINS", "https://*.example.com")
    from orquestra.runtime import build_model_manager
    from orquestra.settings import load_settings

    settings = load_settings(ollama_base_url=scheduler.upstream_url, home_role="none")
    with serving(create_app(build_model_manager(settings), max_queue=4)) as url:
        allowed = httpx.get(
            url + "/orquestra/status", headers={"Origin": "https://app.example.com"}, timeout=10
        )
        refused = httpx.get(
            url + "/orquestra/status", headers={"Origin": "https://example.org"}, timeout=10
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert refused.status_code == 403


def test_listening_beyond_loopback_serves_other_host_names_but_still_checks_origins(
    scheduler: Scheduler,
) -> None:
    from orquestra.runtime import build_model_manager
    from orquestra.settings import load_settings

    settings = load_settings(ollama_base_url=scheduler.upstream_url, home_role="none")
    app = create_app(build_model_manager(settings), max_queue=4, bind_host="0.0.0.0")
    with serving(app) as url:
        by_name = httpx.get(
            url + "/orquestra/status", headers={"Host": "gpu-box.lan:11435"}, timeout=10
        )
        page = httpx.get(
            url + "/orquestra/status", headers={"Origin": "https://evil.example"}, timeout=10
        )
    assert by_name.status_code == 200
    assert page.status_code == 403
