"""Bounds no client can exceed: event-stream subscribers and insecure pulls, each named."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from orquestra.runtime import build_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllama, FakeOllamaState
from tests.orquestra.server.conftest import Scheduler, serving


def test_event_stream_subscribers_are_bounded_and_a_closed_one_frees_its_place(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORQUESTRA_SERVE_MAX_SUBSCRIBERS", "3")
    settings = load_settings(ollama_base_url=server.url, home_role="none")
    with serving(create_app(build_model_manager(settings), max_queue=4)) as url:
        client = httpx.Client(base_url=url, timeout=10)
        with ExitStack() as streams:
            readers = []  # each stream's line reader, kept open with its stream
            for _ in range(3):
                stream = streams.enter_context(client.stream("GET", "/orquestra/events"))
                assert stream.status_code == 200
                readers.append(stream.iter_lines())
                assert next(readers[-1]) == "event: snapshot"
            refused = client.get("/orquestra/events")
            assert refused.status_code == 503
            assert "ORQUESTRA_SERVE_MAX_SUBSCRIBERS" in refused.json()["error"]
            assert client.get("/orquestra/status").status_code == 200  # the rest still answers
        for _ in range(50):  # the closed streams give their places back
            with client.stream("GET", "/orquestra/events") as again:
                if again.status_code == 200:
                    break
        assert again.status_code == 200


def test_an_insecure_pull_is_refused_unless_allowed(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    answer = httpx.post(
        scheduler.url + "/api/pull",
        json={"model": "evil.example/x:latest", "insecure": True, "stream": False},
        timeout=10,
    )
    assert answer.status_code == 403
    assert "ORQUESTRA_ALLOW_INSECURE_PULL" in answer.json()["error"]
    assert not [path for path, _ in state.requests if path == "/api/pull"]
