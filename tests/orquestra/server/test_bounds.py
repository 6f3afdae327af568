"""Bounds no client can exceed: event-stream subscribers and insecure pulls, each named."""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from orquestra.runtime import build_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllama, FakeOllamaState
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import Scheduler, serving, wait_until


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


def _lease(client: httpx.Client, streams: ExitStack, role: str) -> tuple[int, Any]:
    """Ask for a lease on `role`'s model; the status, and the open stream's lines if granted."""
    stream = streams.enter_context(client.stream("POST", "/orquestra/lease", json={"role": role}))
    if stream.status_code != 200:
        stream.read()
        return stream.status_code, stream.json()["error"]
    lines = stream.iter_lines()
    assert json.loads(next(lines))["status"] == "granted"
    return 200, lines


def test_one_client_s_leases_are_bounded_with_429_naming_the_setting(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT", "2")
    running = Scheduler(server, state, max_queue=8).start()
    try:
        client = httpx.Client(base_url=running.url, timeout=30)
        with ExitStack() as streams:
            held = [_lease(client, streams, "brain") for _ in range(2)]  # kept open
            assert [status for status, _ in held] == [200, 200]
            status, error = _lease(client, streams, "brain")
            assert status == 429
            assert "ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT" in error and "uid" in error
            assert running.status()["serve"]["leases_refused"] == 1
        wait_until(lambda: running.status()["serve"]["held_leases"] == 0)
        with ExitStack() as streams:  # given back, the places are free again
            assert _lease(client, streams, "brain")[0] == 200
    finally:
        running.stop()


def test_all_leases_together_are_bounded_with_503_naming_the_setting(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORQUESTRA_SERVE_MAX_LEASES", "3")
    running = Scheduler(server, state, max_queue=8).start()
    try:
        client = httpx.Client(base_url=running.url, timeout=30)
        with ExitStack() as streams:
            held = [_lease(client, streams, "executor") for _ in range(3)]  # kept open
            assert [status for status, _ in held] == [200] * 3
            status, error = _lease(client, streams, "executor")
            assert status == 503 and "ORQUESTRA_SERVE_MAX_LEASES " in error + " "
    finally:
        running.stop()


def test_a_lease_left_idle_is_taken_back_and_the_other_model_gets_in(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One client holds the brain and does nothing; another's executor does not wait forever."""
    monkeypatch.setenv("ORQUESTRA_SERVE_LEASE_IDLE_S", "1")
    running = Scheduler(server, state, max_queue=8).start()  # 16 GiB: 13 + 9 do not fit
    try:
        idle = httpx.Client(base_url=running.url, timeout=30)
        with ExitStack() as streams:
            held = _lease(idle, streams, "brain")[1]
            other: dict[str, int] = {}
            asking = threading.Thread(
                target=lambda: other.update(
                    status=httpx.post(
                        running.url + "/api/chat",
                        json={
                            "model": EXECUTOR,
                            "messages": [{"role": "user", "content": "hi"}],
                            "stream": False,
                        },
                        timeout=60,
                    ).status_code
                )
            )
            asking.start()
            lines = [json.loads(line) for line in held]  # until the scheduler ends the stream
            asking.join(timeout=60)
        assert lines[-1]["status"] == "expired"
        assert "ORQUESTRA_SERVE_LEASE_IDLE_S" in lines[-1]["error"]
        assert other == {"status": 200}
        assert running.status()["serve"]["leases_expired"] == 1
        assert [m["name"] for m in state.ps()["models"]] == [EXECUTOR]
    finally:
        running.stop()


def test_a_lease_in_use_is_kept_and_a_taken_back_one_still_serves_its_next_call(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORQUESTRA_SERVE_LEASE_IDLE_S", "1")
    running = Scheduler(server, state, max_queue=8).start()
    remote = running.connect()

    async def work() -> list[str]:
        replies = []
        async with remote.use("executor") as chat:
            for _ in range(8):  # a call every 0.3 s: never idle for 1 s
                replies.append(str((await chat.ainvoke("hi")).content))
                await asyncio.sleep(0.3)
            assert running.status()["serve"]["leases_expired"] == 0
            await asyncio.sleep(2.5)  # now idle past the bound: taken back
            assert running.status()["serve"]["leases_expired"] == 1
            replies.append(str((await chat.ainvoke("hi")).content))  # takes a new lease
        return replies

    try:
        state.script(EXECUTOR, *[f"reply {n}" for n in range(9)])
        assert asyncio.run(work()) == [f"reply {n}" for n in range(9)]
    finally:
        running.stop()
