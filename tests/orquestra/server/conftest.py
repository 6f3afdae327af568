"""`orquestra serve` in a thread of the test, in front of the fake Ollama."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from orquestra.backends.ollama import OllamaBackend
from orquestra.client.remote import RemoteManager
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.runtime import choose_backend, requested_lineup
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllama, FakeOllamaState


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Scheduler:
    """A running `orquestra serve` (uvicorn in a thread) over one manager."""

    def __init__(self, fake: FakeOllama, state: FakeOllamaState, max_queue: int) -> None:
        settings = load_settings(
            ollama_base_url=fake.url, vram_budget_gb=16.0, home_role="none", orquestra_url="none"
        )
        self.manager = ModelManager(
            settings,
            OllamaBackend(settings.ollama_base_url),
            probe=FakeNvml(state),
            ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
        )
        self.upstream_url = fake.url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(self.manager, max_queue=max_queue)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def start(self) -> Scheduler:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "orquestra serve did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def connect(self, **overrides: Any) -> RemoteManager:
        """A client process's manager for this scheduler, as `build_model_service` makes it."""
        return connect(self.url, ollama_base_url=self.upstream_url, **overrides)

    def status(self) -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{self.url}/orquestra/status", timeout=5).json()  # type: ignore[no-any-return]


def connect(url: str, **overrides: Any) -> RemoteManager:
    """A client of the scheduler at `url` with these settings (its lineup as a process's)."""
    settings = load_settings(orquestra_url=url, **overrides)
    lineup = requested_lineup(settings, choose_backend(settings))
    return RemoteManager.connect(url, settings, lineup)


@pytest.fixture
def scheduler(server: FakeOllama, state: FakeOllamaState) -> Iterator[Scheduler]:
    running = Scheduler(server, state, max_queue=8).start()
    yield running
    running.stop()


def wait_until(condition, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition` until it holds (no assertion on how long it took)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


@contextmanager
def serving(app: Starlette, host: str = "127.0.0.1") -> Iterator[str]:
    """Run an `orquestra serve` app with uvicorn in a thread; yield its loopback URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()))
    thread.start()
    try:
        wait_until(lambda: server.started, timeout_s=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
