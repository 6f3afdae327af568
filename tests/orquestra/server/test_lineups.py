"""Lineups through one scheduler: processes with their own models, one GPU, one upstream.

Every test drives `orquestra serve` (a real background process, or uvicorn in a thread)
in front of the fake Ollama, whose strict accounting shows that every load was the
scheduler's (`implicit_loads`), that no 500 was answered (`errors_500`), and what the
card held at every instant (its timeline).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from orquestra.app.commander import create_smart_commander
from orquestra.backends.ollama import OllamaBackend
from orquestra.client.remote import RemoteManager
from orquestra.errors import PolicyError
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.runtime import build_model_service, requested_lineup, set_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import (
    FakeNvml,
    FakeOllama,
    FakeOllamaState,
    canonical,
    default_models,
    demo_reply,
    fake_model,
)
from tests.orquestra.server.conftest import free_port, serving, wait_until

ROOT = Path(__file__).resolve().parents[3]
COMMAND = str(Path(sys.executable).with_name("orquestra"))
GIB = 1024**3
# The founding pair (13 + 9 GiB: never both on the 16 GiB card).
BRAIN, EXECUTOR = (m.name for m in default_models())
# Two lineups of 8 + 5 GiB: one lineup fits the card, two do not.
BRAIN_A, CODER_A = "brain-a:latest", "coder-a:latest"
BRAIN_B, CODER_B = "brain-b:latest", "coder-b:latest"
# Upper bound on waiting for a process (a hang fails the test; speed is not asserted).
PATIENCE_S = 120.0

# A client process: its lineup from its environment, both roles made resident in turn.
CLIENT = """
import asyncio, json
from orquestra.runtime import build_model_service

async def main() -> None:
    manager = build_model_service()
    for role in ("brain", "executor"):
        await manager.ensure(role)
    print(json.dumps({
        "lineup": manager.lineup.as_dict(),
        "swaps": [event.as_dict() for event in manager.events],
    }))
    await manager.aclose()

asyncio.run(main())
"""


@pytest.fixture
def state() -> FakeOllamaState:
    """A 16 GiB card with the founding pair and two smaller lineups' models pulled."""
    lineups = [fake_model(name, gb) for name, gb in ((BRAIN_A, 8), (CODER_A, 5))]
    lineups += [fake_model(name, gb) for name, gb in ((BRAIN_B, 8), (CODER_B, 5))]
    return FakeOllamaState([*default_models(), *lineups], vram_total_gb=16.0)


@pytest.fixture
def autostart(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Processes find (or start) `orquestra serve` on a free port; it is stopped after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.delenv("ORQUESTRA_URL")
    monkeypatch.setenv("ORQUESTRA_SERVE_PORT", str(port))
    monkeypatch.setenv("ORQUESTRA_SERVE_IDLE_S", "30")  # if /orquestra/exit is refused
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "16")
    monkeypatch.setenv("ORQUESTRA_HOME_ROLE", "none")
    yield url
    with suppress(httpx.HTTPError):
        httpx.post(f"{url}/orquestra/exit", timeout=5)
    wait_until(lambda: not answers(url), timeout_s=PATIENCE_S)


def answers(url: str) -> bool:
    """Whether an `orquestra serve` answers at `url`."""
    try:
        return httpx.get(f"{url}/orquestra/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def serve_log() -> str:
    """The end of an autostarted scheduler's log (for failure messages)."""
    path = load_settings().cache_dir / "serve.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no serve.log)"


def status_of(url: str) -> dict[str, Any]:
    """The scheduler's `/orquestra/status`."""
    status: dict[str, Any] = httpx.get(f"{url}/orquestra/status", timeout=10).json()
    return status


@dataclass
class Served:
    """An `orquestra serve` running in a thread of the test."""

    url: str
    manager: ModelManager

    def status(self) -> dict[str, Any]:
        return status_of(self.url)

    def chat(self, model: str, text: str = "oi") -> httpx.Response:
        """A plain Ollama client's chat through the scheduler."""
        body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": False}
        return httpx.post(f"{self.url}/api/chat", json=body, timeout=PATIENCE_S)

    def load(self, model: str) -> httpx.Response:
        """A plain Ollama client's load request (an empty generate) through the scheduler."""
        return httpx.post(f"{self.url}/api/generate", json={"model": model}, timeout=PATIENCE_S)


@contextmanager
def scheduling(fake: FakeOllama, state: FakeOllamaState, **overrides: Any) -> Iterator[Served]:
    """`orquestra serve` in front of `fake`, with these settings (no home model by default)."""
    fields = {"vram_budget_gb": 16.0, "home_role": "none", **overrides}
    settings = load_settings(ollama_base_url=fake.url, orquestra_url="none", **fields)
    manager = ModelManager(
        settings,
        OllamaBackend(settings.ollama_base_url),
        probe=FakeNvml(state),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )
    with serving(create_app(manager, max_queue=8)) as url:
        yield Served(url, manager)


def connect(url: str, fake: FakeOllama, **overrides: Any) -> RemoteManager:
    """A client of the scheduler at `url` whose lineup is these settings' (as a process's)."""
    settings = load_settings(orquestra_url=url, ollama_base_url=fake.url, **overrides)
    return RemoteManager.connect(url, settings, requested_lineup(settings, "ollama"))


def run_client(fake: FakeOllama, brain: str, executor: str) -> dict[str, Any]:
    """Run `CLIENT` as its own OS process with this lineup; its report."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OLLAMA_BASE_URL": fake.url,
        "DEFAULT_MODEL": brain,
        "EXECUTOR_MODEL": executor,
    }
    done = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=PATIENCE_S
    )
    assert done.returncode == 0, done.stdout + done.stderr + serve_log()
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def requests_naming(state: FakeOllamaState, model: str) -> list[tuple[str, dict[str, Any]]]:
    """Every request the fake got that names `model`."""
    return [(p, b) for p, b in state.requests if canonical(str(b.get("model"))) == model]


def chats_with(state: FakeOllamaState, model: str) -> list[dict[str, Any]]:
    """The chat and generate requests for `model` that carried content (not loads)."""
    return [b for _, b in requests_naming(state, model) if b.get("messages") or b.get("prompt")]


def overlaps(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Whether two lists of residency intervals share an instant."""
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


# -- two lineups, one autostarted scheduler --------------------------------------------


def test_two_processes_with_their_own_lineups_share_one_autostarted_scheduler(
    server: FakeOllama, state: FakeOllamaState, autostart: str
) -> None:
    first = run_client(server, "brain-a", "coder-a")  # starts the scheduler
    assert answers(autostart)
    second = run_client(server, "brain-b", "coder-b")  # finds it
    # Each process was served its own models: the loads made for B were B's.
    assert first["lineup"]["brain"]["model"] == BRAIN_A
    assert second["lineup"]["brain"]["model"] == BRAIN_B
    assert [s["to_model"] for s in first["swaps"]] == [BRAIN_A, CODER_A]
    assert [s["to_model"] for s in second["swaps"]] == [BRAIN_B, CODER_B]
    assert state.loads == {BRAIN_A: 1, CODER_A: 1, BRAIN_B: 1, CODER_B: 1}
    # Every load was the scheduler's, none failed, and the card never held more than 16 GiB.
    assert state.implicit_loads == {} and state.errors_500 == 0 and state.events("oom") == []
    assert state.max_vram_used() <= 16 * GIB
    # The two brains never shared the card (8 + 8 GiB leave no margin in 16).
    assert not overlaps(state.residency(BRAIN_A), state.residency(BRAIN_B))
    status = status_of(autostart)
    assert status["swaps"] == sum(state.loads.values())
    served = {(x["brain"]["model"], x["executor"]["model"]) for x in status["lineups"]}
    assert {(BRAIN_A, CODER_A), (BRAIN_B, CODER_B)} <= served
    assert status["serve"]["autostarted"] is True


def test_two_processes_starting_at_once_share_one_scheduler_and_the_budget(
    server: FakeOllama, state: FakeOllamaState, autostart: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OLLAMA_BASE_URL": server.url}
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT],
            env={**env, "DEFAULT_MODEL": brain, "EXECUTOR_MODEL": executor},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for brain, executor in (("brain-a", "coder-a"), ("brain-b", "coder-b"))
    ]
    outputs = [client.communicate(timeout=PATIENCE_S) for client in clients]
    assert [c.returncode for c in clients] == [0, 0], (outputs, serve_log())
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["lineup"]["executor"]["model"] for r in reports] == [CODER_A, CODER_B]
    assert {m for m, n in state.loads.items() if n} == {BRAIN_A, CODER_A, BRAIN_B, CODER_B}
    assert state.implicit_loads == {} and state.errors_500 == 0 and state.events("oom") == []
    assert state.max_vram_used() <= 16 * GIB
    status = status_of(autostart)
    assert status["swaps"] == sum(state.loads.values())  # one scheduler made every load


# -- another upstream ------------------------------------------------------------------


def test_an_idle_autostarted_scheduler_is_replaced_for_a_process_naming_another_upstream(
    server: FakeOllama,
    state: FakeOllamaState,
    autostart: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_state = FakeOllamaState(default_models(), vram_total_gb=16.0)
    other = FakeOllama(other_state).start()
    try:

        async def use(role: str) -> str:
            manager = build_model_service()
            try:
                await manager.ensure(role)
                return manager.lineup.upstream.url
            finally:
                await manager.aclose()

        monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
        assert asyncio.run(use("brain")) == server.url
        wait_until(lambda: status_of(autostart)["serve"]["held_leases"] == 0)
        seen_by_first = len(state.requests)

        monkeypatch.setenv("OLLAMA_BASE_URL", other.url)
        assert asyncio.run(use("executor")) == other.url
        assert other_state.loads == {EXECUTOR: 1} and other_state.implicit_loads == {}
        since = state.requests[seen_by_first:]  # the first upstream saw nothing of B
        assert [body for path, body in since if path in ("/api/generate", "/api/chat")] == []
        assert state.loads == {BRAIN: 1}
        status = status_of(autostart)
        assert status["upstream_server"]["url"] == other.url and status["executor_loaded"]
    finally:
        other.stop()


def test_a_hand_started_scheduler_refuses_a_process_naming_another_upstream(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_state = FakeOllamaState(default_models(), vram_total_gb=16.0)
    other = FakeOllama(other_state).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OLLAMA_BASE_URL": server.url}
    by_hand = subprocess.Popen(
        [sys.executable, "-m", "orquestra.server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: answers(url), timeout_s=PATIENCE_S)
        monkeypatch.delenv("ORQUESTRA_URL")
        monkeypatch.setenv("ORQUESTRA_SERVE_PORT", str(port))
        monkeypatch.setenv("OLLAMA_BASE_URL", other.url)
        with pytest.raises(PolicyError) as refused:
            build_model_service()
        message = str(refused.value)
        assert server.url in message and other.url in message
        assert "ORQUESTRA_URL=none" in message and "started by hand" in message
        # Left alone: still there, still driving the first upstream; the second untouched.
        assert by_hand.poll() is None
        assert status_of(url)["upstream_server"]["url"] == server.url
        assert [p for p, _ in other_state.requests] == []
    finally:
        by_hand.terminate()
        by_hand.wait(timeout=PATIENCE_S)
        other.stop()


# -- models named per run --------------------------------------------------------------


def test_orquestra_run_brain_model_beats_default_model_through_the_scheduler(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    state.default_reply = demo_reply
    with scheduling(server, state) as scheduler:
        env = {
            **os.environ,
            "OLLAMA_BASE_URL": server.url,
            "ORQUESTRA_URL": scheduler.url,
            "DEFAULT_MODEL": "brain-b",
            "EXECUTOR_MODEL": "coder-a",
            "COLUMNS": "300",
        }
        done = subprocess.run(
            [COMMAND, "run", "--json", "--brain-model", "brain-a", "Olá, tudo bem?"],
            env=env,
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
        )
        status = scheduler.status()
    assert done.returncode == 0, done.stdout + done.stderr
    assert chats_with(state, BRAIN_A)  # the brain named on the command line answered
    assert requests_naming(state, BRAIN_B) == [] and state.loads[BRAIN_B] == 0
    assert state.implicit_loads == {} and state.errors_500 == 0
    assert all(r["model"] != BRAIN_B for r in status["serve"]["requests"])


def test_create_smart_commander_brain_model_beats_default_model_through_the_scheduler(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    state.default_reply = demo_reply
    with scheduling(server, state) as scheduler:
        monkeypatch.setenv("ORQUESTRA_URL", scheduler.url)
        monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
        monkeypatch.setenv("DEFAULT_MODEL", "brain-b")
        monkeypatch.setenv("EXECUTOR_MODEL", "coder-b")

        async def converse() -> tuple[str, dict[str, Any]]:
            commander = create_smart_commander(brain_model="brain-a", executor_model="coder-a")
            try:
                answer = await commander.process_message("Olá, tudo bem?")
                return answer, await asyncio.to_thread(commander.get_status)
            finally:
                await commander.manager.aclose()
                set_model_manager(None)

        answer, status = asyncio.run(converse())
    assert answer and not answer.startswith("Error")
    assert isinstance(status, dict) and status["brain_model"] == BRAIN_A
    assert chats_with(state, BRAIN_A)
    assert requests_naming(state, BRAIN_B) == [] and requests_naming(state, CODER_B) == []
    assert state.implicit_loads == {} and state.errors_500 == 0


# -- residency kept true ---------------------------------------------------------------


def test_after_an_upstream_restart_the_next_chat_is_loaded_by_a_scheduler_swap(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    with scheduling(server, state, residency_poll_s=0.2) as scheduler:
        assert scheduler.load(EXECUTOR).status_code == 200
        assert scheduler.status()["executor_loaded"]
        state.restart()  # Ollama restarted: every runner gone
        wait_until(lambda: not scheduler.status()["executor_loaded"], timeout_s=10)
        state.script(EXECUTOR, "de volta")
        answer = scheduler.chat(EXECUTOR)
        status = scheduler.status()
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["content"] == "de volta"
    assert state.implicit_loads == {} and state.errors_500 == 0
    assert state.loads == {EXECUTOR: 2}
    assert status["swaps"] == 2 and status["last_swap"]["to_model"] == EXECUTOR


def test_a_model_unloaded_behind_the_schedulers_back_is_loaded_again_through_the_budget(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    # No idle re-read helps here: the chat comes right after the other client's change.
    with scheduling(server, state, residency_poll_s=600) as scheduler:
        assert scheduler.load(BRAIN).status_code == 200
        # Another Ollama client unloads the brain and loads the executor.
        assert state.unload(BRAIN)[0] == 200
        assert state.ensure_loaded(EXECUTOR, None, None)[0] == 200
        state.finish(EXECUTOR)
        state.script(BRAIN, "ainda aqui")
        answer = scheduler.chat(BRAIN)
        status = scheduler.status()
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["content"] == "ainda aqui"
    assert state.implicit_loads == {}
    assert state.errors_500 == 0  # nothing was forwarded to a model that was not there
    assert all(r["status"] == 200 for r in status["serve"]["requests"])
    assert state.unload_requests[EXECUTOR] == 1  # the scheduler evicted the executor
    assert status["last_swap"]["to_model"] == BRAIN
    assert status["last_swap"]["from_models"] == [EXECUTOR]
    assert state.max_vram_used() <= 16 * GIB


def test_a_model_unloaded_behind_the_schedulers_back_is_not_loaded_by_the_upstream_itself(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    # 8 + 5 GiB fit the 16 GiB card but not the 12 GiB budget: forwarded as it is, the
    # chat would have the upstream load the brain beside the executor, past the budget.
    with scheduling(
        server,
        state,
        vram_budget_gb=12.0,
        brain_model=BRAIN_A,
        executor_model=CODER_A,
        residency_poll_s=600,
    ) as scheduler:
        assert scheduler.load(BRAIN_A).status_code == 200
        assert state.unload(BRAIN_A)[0] == 200
        assert state.ensure_loaded(CODER_A, None, None)[0] == 200  # another client
        state.finish(CODER_A)
        answer = scheduler.chat(BRAIN_A)
        status = scheduler.status()
    assert answer.status_code == 200, answer.text
    assert state.implicit_loads == {}  # the upstream never loaded the brain on its own
    assert state.loads[BRAIN_A] == 2 == status["swaps"]
    assert state.unload_requests[CODER_A] == 1  # the scheduler made room first
    reloaded = state.events("load_start", BRAIN_A)[-1]
    assert reloaded.t >= state.events("ps_gone", CODER_A)[-1].t


# -- the status of many lineups --------------------------------------------------------


async def test_the_status_lists_every_lineup_and_counts_pin_conflicts(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    with scheduling(server, state) as scheduler:
        a = await asyncio.to_thread(
            connect, scheduler.url, server, brain_model="brain-a", executor_model="coder-a"
        )
        b = await asyncio.to_thread(
            connect, scheduler.url, server, brain_model="brain-b", executor_model="coder-b"
        )
        # A third lineup names brain-a with another context: it gets the pinned one.
        c = await asyncio.to_thread(
            connect,
            scheduler.url,
            server,
            brain_model="brain-a",
            executor_model="coder-b",
            brain_num_ctx=4096,
        )
        await c.ensure("brain")
        seen_by_b = await b.status()
        for manager in (a, b, c):
            await manager.aclose()
    served = {(x.brain.model, x.executor.model) for x in seen_by_b.lineups}
    assert {(BRAIN_A, CODER_A), (BRAIN_B, CODER_B), (BRAIN_A, CODER_B)} <= served
    assert dict(seen_by_b.pin_conflicts) == {BRAIN_A: 1}
    assert c.lineup.brain.options["num_ctx"] == 8192
    assert seen_by_b.as_dict()["brain_model"] == BRAIN_B  # seen from B's lineup
    assert not seen_by_b.loaded("brain") and seen_by_b.state(BRAIN_A).resident
    loads = [b for p, b in state.requests if p == "/api/generate" and b.get("model") == BRAIN_A]
    assert [body["options"]["num_ctx"] for body in loads] == [8192]
    assert state.reloads == {}
