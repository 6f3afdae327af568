"""`orquestra serve` speaks Ollama's API: leases, pinned options, errors, disconnects."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import ollama
import pytest

from orquestra.server.errors import QUEUE_FULL
from tests.fakes.ollama import FakeOllama, FakeOllamaState, fake_model
from tests.graph_support import BRAIN, EXECUTOR
from tests.orquestra.server.conftest import Scheduler, wait_until

BRAIN_TAG = f"{BRAIN}:latest"


def chats(state: FakeOllamaState) -> list[dict]:  # type: ignore[type-arg]
    return [body for path, body in state.requests if path == "/api/chat" and body.get("messages")]


def test_a_plain_client_is_served_with_the_pinned_options_and_nothing_reloads(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    state.script(EXECUTOR, "olá", "de novo")
    client = ollama.Client(host=scheduler.url)
    first = client.chat(
        model=EXECUTOR, messages=[{"role": "user", "content": "oi"}], options={"num_ctx": 2048}
    )
    second = client.chat(
        model=EXECUTOR,
        messages=[{"role": "user", "content": "oi"}],
        options={"num_ctx": 4096, "temperature": 0.1},
        keep_alive=0,
    )
    assert (first.message.content, second.message.content) == ("olá", "de novo")
    sent = chats(state)
    assert [b["options"]["num_ctx"] for b in sent] == [8192, 8192]  # pinned, whatever asked
    assert sent[1]["options"]["temperature"] == 0.1  # sampling options pass through
    assert all(b["keep_alive"] == -1 for b in sent)  # the scheduler's keep_alive, not 0
    assert state.reloads == {} and state.loads[EXECUTOR] == 1
    status = scheduler.status()
    assert status["swaps"] == 1  # the one load was the scheduler's, not an implicit one
    assert status["serve"]["option_pins"] == {EXECUTOR: 2}
    assert status["leases"] == {"brain": 0, "executor": 0}


def test_a_stream_holds_its_lease_to_the_last_chunk(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    state.gen_s[EXECUTOR] = 0.5
    state.script(EXECUTOR, "linha")
    done: list[str] = []

    def ask() -> None:
        for part in ollama.Client(host=scheduler.url).chat(
            model=EXECUTOR, messages=[{"role": "user", "content": "oi"}], stream=True
        ):
            done.append(part.message.content)

    asking = threading.Thread(target=ask)
    asking.start()
    wait_until(lambda: scheduler.status()["leases"]["executor"] == 1)
    asking.join(timeout=20)
    assert "".join(done) == "linha"
    assert scheduler.status()["leases"]["executor"] == 0


def _hold_open(url: str, path: str, body: dict) -> socket.socket:  # type: ignore[type-arg]
    """Send a request and leave the connection open, as a client that never reads on."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    data = json.dumps(body).encode()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


def test_a_client_that_hangs_up_gives_its_lease_back_at_once(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    # The answer takes seconds; the fake goes on generating after the hang-up (real Ollama
    # stops when the scheduler's upstream request is cancelled), then the brain can leave.
    state.gen_s[BRAIN_TAG] = 3.0
    sock = _hold_open(
        scheduler.url,
        "/api/chat",
        {"model": BRAIN, "messages": [{"role": "user", "content": "oi"}]},
    )
    wait_until(lambda: scheduler.status()["leases"]["brain"] == 1)
    sock.close()
    wait_until(lambda: scheduler.status()["leases"]["brain"] == 0)
    state.gen_s.clear()
    state.script(EXECUTOR, "ok")  # and the GPU is free for the other model
    reply = ollama.Client(host=scheduler.url).chat(
        model=EXECUTOR, messages=[{"role": "user", "content": "oi"}]
    )
    assert reply.message.content == "ok"


def test_a_model_the_upstream_lacks_is_a_404_naming_the_pull(scheduler: Scheduler) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=scheduler.url).chat(
            model="llama3.2", messages=[{"role": "user", "content": "oi"}]
        )
    assert caught.value.status_code == 404
    assert "ollama pull llama3.2" in caught.value.error


def test_any_model_the_upstream_has_is_served_and_listed(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    state.models["llama3.2:1b"] = fake_model("llama3.2:1b", 3.0)
    state.script("llama3.2:1b", "oi!")
    client = ollama.Client(host=scheduler.url)
    reply = client.chat(model="llama3.2:1b", messages=[{"role": "user", "content": "oi"}])
    assert reply.message.content == "oi!" and state.loads["llama3.2:1b"] == 1
    assert "llama3.2:1b" in {m.model for m in client.list().models}
    served = {m["model"]: m for m in scheduler.status()["models"]}
    assert served["llama3.2:1b"]["resident"] and scheduler.status()["swaps"] == 1


def test_bad_requests_get_ollama_s_answers(scheduler: Scheduler) -> None:
    empty = httpx.post(f"{scheduler.url}/api/chat", content=b"")
    assert empty.status_code == 400 and empty.json() == {"error": "missing request body"}
    nameless = httpx.post(f"{scheduler.url}/api/chat", json={"messages": []})
    assert nameless.status_code == 400 and nameless.json() == {"error": "model is required"}


def test_a_full_queue_gets_ollama_s_503_and_the_waiting_request_is_served(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    scheduler = Scheduler(server, state, max_queue=1).start()
    try:
        lease = _hold_open(scheduler.url, "/orquestra/lease", {"role": "brain"})
        wait_until(lambda: scheduler.status()["leases"]["brain"] == 1)
        state.script(EXECUTOR, "servido")
        answers: list[str] = []
        waiting = threading.Thread(
            target=lambda: answers.append(
                ollama.Client(host=scheduler.url)
                .chat(model=EXECUTOR, messages=[{"role": "user", "content": "oi"}])
                .message.content
                or ""
            )
        )
        waiting.start()
        wait_until(lambda: scheduler.status()["serve"]["waiting"] == 1)
        with pytest.raises(ollama.ResponseError) as caught:
            ollama.Client(host=scheduler.url).chat(
                model=EXECUTOR, messages=[{"role": "user", "content": "oi"}]
            )
        assert caught.value.status_code == 503 and caught.value.error == QUEUE_FULL
        lease.close()  # the brain's lease ends: the executor is swapped in
        waiting.join(timeout=20)
        assert answers == ["servido"]
        assert state.max_vram_used() <= 16 * 1024**3
    finally:
        scheduler.stop()


def test_a_dead_upstream_is_a_clear_502(scheduler: Scheduler, state: FakeOllamaState) -> None:
    state.down = True
    answer = httpx.post(
        f"{scheduler.url}/api/chat",
        json={"model": EXECUTOR, "messages": [{"role": "user", "content": "oi"}]},
        timeout=30,
    )
    assert answer.status_code == 502
    assert "ollama serve" in answer.json()["error"]


def test_load_and_unload_requests_are_the_scheduler_s_call(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    client = ollama.Client(host=scheduler.url)
    loaded = client.generate(model=EXECUTOR)
    assert loaded.done_reason == "load" and scheduler.status()["executor_loaded"]
    unloaded = client.generate(model=EXECUTOR, keep_alive=0)
    assert unloaded.done_reason == "unload"
    status = scheduler.status()
    assert status["executor_loaded"] and status["serve"]["ignored_unloads"] == {EXECUTOR: 1}
    assert state.unload_requests == {}


def test_the_listings_show_what_is_served_and_what_is_loaded(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    client = ollama.Client(host=scheduler.url)
    client.generate(model=EXECUTOR)
    assert [m.model for m in client.ps().models] == [EXECUTOR]
    assert sorted(m.model or "" for m in client.list().models) == sorted([BRAIN_TAG, EXECUTOR])
    assert httpx.get(f"{scheduler.url}/api/version").json()["version"] == state.version


def test_a_pull_streams_through(scheduler: Scheduler, state: FakeOllamaState) -> None:
    from tests.fakes.ollama import fake_model

    state.registry["llama3.2:1b"] = fake_model("llama3.2:1b", 2.0)
    progress = list(ollama.Client(host=scheduler.url).pull("llama3.2:1b", stream=True))
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    assert "llama3.2:1b" in state.models


def test_a_model_too_large_for_the_budget_is_refused_with_the_fix(
    server: FakeOllama, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.ollama import fake_model

    state.models["qwen2.5:72b"] = fake_model("qwen2.5:72b", 40.0)
    monkeypatch.setenv("EXECUTOR_MODEL", "qwen2.5:72b")
    scheduler = Scheduler(server, state, max_queue=8).start()
    try:
        with pytest.raises(ollama.ResponseError) as caught:
            ollama.Client(host=scheduler.url).chat(
                model="qwen2.5:72b", messages=[{"role": "user", "content": "oi"}]
            )
        assert caught.value.status_code == 500
        assert "ORQUESTRA_VRAM_BUDGET_GB" in caught.value.error
        assert state.loads["qwen2.5:72b"] == 0  # refused before any load
    finally:
        scheduler.stop()


CRASHING_CLIENT = """
import asyncio, os
from orquestra.runtime import build_model_service

async def main() -> None:
    async with build_model_service().use("brain"):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_crashed_client_s_lease_never_blocks_the_gpu(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    import os
    import subprocess
    import sys

    client = subprocess.Popen(
        [sys.executable, "-c", CRASHING_CLIENT],
        env={
            **os.environ,
            "ORQUESTRA_URL": scheduler.url,
            "OLLAMA_BASE_URL": scheduler.upstream_url,
            "ORQUESTRA_BACKEND": "ollama",
        },
        stdout=subprocess.PIPE,
    )
    try:
        assert client.stdout is not None and client.stdout.readline().strip() == b"held"
        assert scheduler.status()["leases"]["brain"] == 1
        client.kill()  # no clean exit: the OS closes its connection
        client.wait(timeout=30)
        wait_until(lambda: scheduler.status()["leases"]["brain"] == 0)
    finally:
        client.kill()
    state.script(EXECUTOR, "livre")
    reply = ollama.Client(host=scheduler.url).chat(
        model=EXECUTOR, messages=[{"role": "user", "content": "oi"}]
    )
    assert reply.message.content == "livre"


def test_a_bad_sampling_option_is_a_400_before_any_swap(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    answer = httpx.post(
        f"{scheduler.url}/api/chat",
        json={
            "model": EXECUTOR,
            "messages": [{"role": "user", "content": "oi"}],
            "options": {"temperature": "hot"},
        },
    )
    assert answer.status_code == 400 and "temperature" in answer.json()["error"]
    assert state.loads == {} and scheduler.status()["swaps"] == 0
