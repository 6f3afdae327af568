"""Errors in each client's own dialect: Ollama's for `/api`, OpenAI's for `/v1`.

An upstream that breaks mid-answer ends the answer with an error naming it and the fix
(never a raw transport error, never a traceback in the scheduler's log), and the lease
is given back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest

from orquestra.server.errors import QUEUE_FULL
from tests.fakes.ollama import FakeOllama, FakeOllamaState, fake_model
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import Scheduler, wait_until

HI = [{"role": "user", "content": "oi"}]


@pytest.fixture
def scheduler_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the scheduler logs, uvicorn's own errors (which stop short of the root) too."""
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn_log.removeHandler(caplog.handler)


def tracebacks(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if r.exc_info or "Traceback" in r.getMessage()]


def names_upstream_and_fix(message: str, server: FakeOllama) -> bool:
    return f"Ollama at {server.url}" in message and "ollama serve" in message


def leases_given_back(scheduler: Scheduler) -> None:
    wait_until(lambda: scheduler.status()["leases"] == {"brain": 0, "executor": 0})
    assert scheduler.status()["serve"]["active_requests"] == 0


def openai_client(scheduler: Scheduler) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{scheduler.url}/v1", api_key="unused", max_retries=0)


def test_a_native_stream_whose_upstream_breaks_ends_with_ollama_s_error_line(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.script(EXECUTOR, "meia resposta")
    state.answers_to_break = 1
    parts: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        for part in ollama.Client(host=scheduler.url).chat(
            model=EXECUTOR, messages=HI, stream=True
        ):
            parts.append(part.message.content or "")
    assert parts == ["meia resposta"]  # what came before the break still arrives
    assert caught.value.status_code == -1  # Ollama's error line in a stream
    assert names_upstream_and_fix(caught.value.error, server)
    assert "mid-answer" in caught.value.error
    leases_given_back(scheduler)
    assert tracebacks(scheduler_log) == []
    warned = [r.getMessage() for r in scheduler_log.records if r.levelno == logging.WARNING]
    assert any(f"Ollama at {server.url}" in line for line in warned)  # one line, no traceback


def test_a_raw_generate_stream_ends_cleanly_with_a_last_error_line(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.script(EXECUTOR, "começo")
    state.answers_to_break = 1
    body = {"model": EXECUTOR, "prompt": "oi"}
    with httpx.stream("POST", f"{scheduler.url}/api/generate", json=body, timeout=30) as answer:
        lines = [json.loads(line) for line in answer.iter_lines() if line]
    assert answer.status_code == 200
    assert lines[0]["response"] == "começo" and not lines[0]["done"]
    assert list(lines[-1]) == ["error"] and names_upstream_and_fix(lines[-1]["error"], server)
    leases_given_back(scheduler)
    assert tracebacks(scheduler_log) == []


def test_a_whole_answer_cut_short_is_a_502_naming_the_upstream(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.answers_to_break = 1
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=scheduler.url).chat(model=EXECUTOR, messages=HI)
    assert caught.value.status_code == 502
    assert names_upstream_and_fix(caught.value.error, server)
    leases_given_back(scheduler)
    assert tracebacks(scheduler_log) == []


def test_a_pull_whose_upstream_breaks_ends_with_ollama_s_error_line(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.registry["llama3.2:1b"] = fake_model("llama3.2:1b", 2.0)
    state.answers_to_break = 1
    progress: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        for step in ollama.Client(host=scheduler.url).pull("llama3.2:1b", stream=True):
            progress.append(step.status or "")
    assert progress == ["pulling manifest"]
    assert names_upstream_and_fix(caught.value.error, server)
    assert tracebacks(scheduler_log) == []


def test_an_openai_stream_whose_upstream_breaks_raises_the_scheduler_s_message(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.script(EXECUTOR, "em parte")
    state.answers_to_break = 1
    stream = openai_client(scheduler).chat.completions.create(
        model=EXECUTOR, messages=HI, stream=True
    )
    parts: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            parts.append(chunk.choices[0].delta.content or "")
    assert not isinstance(caught.value, openai.APIConnectionError)  # not "Connection error."
    assert parts == ["em parte"]
    assert names_upstream_and_fix(caught.value.message, server)
    assert caught.value.code == "upstream_error"
    leases_given_back(scheduler)
    assert tracebacks(scheduler_log) == []


def test_an_openai_completion_whose_upstream_breaks_is_a_502_with_the_message(
    scheduler: Scheduler,
    state: FakeOllamaState,
    server: FakeOllama,
    scheduler_log: pytest.LogCaptureFixture,
) -> None:
    state.answers_to_break = 1
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client(scheduler).chat.completions.create(model=EXECUTOR, messages=HI)
    assert caught.value.status_code == 502
    assert names_upstream_and_fix(str(caught.value), server)
    leases_given_back(scheduler)
    assert tracebacks(scheduler_log) == []


def test_openai_clients_see_the_message_of_a_404_for_a_model_not_served(
    scheduler: Scheduler,
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client(scheduler).chat.completions.create(model="llama3.2", messages=HI)
    assert "ollama pull llama3.2" in str(caught.value)
    assert "is not available on the Ollama server" in str(caught.value)
    assert (caught.value.type, caught.value.code) == ("not_found_error", "model_not_found")


def test_openai_clients_see_the_message_of_a_dead_upstream(
    scheduler: Scheduler, state: FakeOllamaState, server: FakeOllama
) -> None:
    state.down = True
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client(scheduler).chat.completions.create(model=EXECUTOR, messages=HI)
    assert caught.value.status_code == 502
    assert f"Cannot reach Ollama at {server.url}" in str(caught.value)


def test_v1_errors_come_in_openai_s_shape_and_api_errors_in_ollama_s(
    scheduler: Scheduler,
) -> None:
    empty = httpx.post(f"{scheduler.url}/v1/chat/completions", content=b"")
    assert empty.status_code == 400
    assert empty.json() == {
        "error": {
            "message": "missing request body",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request",
        }
    }
    native = httpx.post(f"{scheduler.url}/api/chat", content=b"")
    assert native.status_code == 400 and native.json() == {"error": "missing request body"}


def test_openai_clients_see_the_message_of_a_full_queue(
    server: FakeOllama, state: FakeOllamaState
) -> None:
    scheduler = Scheduler(server, state, max_queue=0).start()  # every request finds it full
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            openai_client(scheduler).chat.completions.create(model=EXECUTOR, messages=HI)
        assert caught.value.status_code == 503 and QUEUE_FULL in str(caught.value)
        assert caught.value.code == "server_busy"
    finally:
        scheduler.stop()
