"""Without Ollama, `orquestra serve` holds the embedded models for every client (real models)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import ollama
import pytest

from orquestra.embedded import assets
from orquestra.runtime import build_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.orquestra.backends.test_embedded import USER_CACHE, needs_models
from tests.orquestra.server.conftest import connect, serving
from tests.terminal import PATIENCE_S, Terminal


@needs_models
async def test_clients_share_the_embedded_models_through_the_scheduler() -> None:
    settings = load_settings(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    manager = build_model_manager(settings)
    with serving(create_app(manager, max_queue=8)) as url:
        executor = assets.EXECUTOR_MODEL.name
        plain = await asyncio.to_thread(
            ollama.Client(host=url).chat,
            model=executor,
            messages=[{"role": "user", "content": "Reply with the number 7 and nothing else."}],
        )
        assert "7" in (plain.message.content or "")
        remote = connect(url, backend="embedded", cache_dir=USER_CACHE)
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "integer"}},
            "required": ["answer"],
        }
        async with remote.use("brain") as chat:
            reply = await chat.bind(format=schema).ainvoke("What is 6 times 7? Answer in JSON.")
        assert isinstance(json.loads(str(reply.content))["answer"], int)
        status = (await remote.status()).as_dict()
        assert status["backend"] == "embedded" and status["swaps"] == 2  # executor, then brain
        assert [e.to_role for e in remote.events] == ["brain"]  # the swap made for this lease
        await remote.aclose()


EXECUTOR = assets.EXECUTOR_MODEL.name
COUNTING = "Count from 1 to 20, separated by commas."
# Sampling hot enough that two seeds all but never give the same sentence.
HOT = 1.5
# Real generation on the CPU: generous, never a measure.
TIMEOUT_S = 300


@contextmanager
def embedded_serve() -> Iterator[str]:
    """`orquestra serve` over the embedded models; its URL."""
    settings = load_settings(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    with serving(create_app(build_model_manager(settings), max_queue=8)) as url:
        yield url


def sentence(client: ollama.Client, **options: Any) -> str:
    reply = client.generate(
        model=EXECUTOR, prompt="Write one sentence about the sea.", options=options
    )
    return reply.response


def openai_chat(url: str, content: str, **fields: Any) -> httpx.Response:
    body = {"model": EXECUTOR, "messages": [{"role": "user", "content": content}], **fields}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=TIMEOUT_S)


@needs_models
def test_num_predict_caps_the_embedded_reply_at_that_many_tokens() -> None:
    with embedded_serve() as url:
        client = ollama.Client(host=url, timeout=TIMEOUT_S)
        capped = client.chat(
            model=EXECUTOR,
            messages=[{"role": "user", "content": COUNTING}],
            options={"num_predict": 3},
        )
        unlimited = client.generate(
            model=EXECUTOR, prompt="Reply with the word yes.", options={"num_predict": -1}
        )
    assert 0 < (capped.eval_count or 0) <= 3
    assert capped.done_reason == "length"
    assert unlimited.done_reason == "stop" and (unlimited.eval_count or 0) > 0


@needs_models
def test_the_same_seed_and_temperature_give_the_same_embedded_reply() -> None:
    with embedded_serve() as url:
        client = ollama.Client(host=url, timeout=TIMEOUT_S)
        first = sentence(client, temperature=HOT, seed=7, num_predict=24)
        again = sentence(client, temperature=HOT, seed=7, num_predict=24)
        seeded = {sentence(client, temperature=HOT, seed=s, num_predict=24) for s in (1, 2, 3)}
        greedy = {sentence(client, temperature=0.0, seed=s, num_predict=24) for s in (1, 2)}
    assert again == first
    assert len(seeded) > 1  # the seed reaches the sampler
    assert len(greedy) == 1  # and so does the temperature: at 0 no seed matters


@needs_models
def test_stop_ends_the_embedded_reply_before_the_stop_string() -> None:
    with embedded_serve() as url:
        client = ollama.Client(host=url, timeout=TIMEOUT_S)
        reply = client.generate(model=EXECUTOR, prompt=COUNTING, options={"stop": ["5"]})
    assert "4" in reply.response and "5" not in reply.response
    assert reply.done_reason == "stop"


@needs_models
def test_openai_max_tokens_and_stop_reach_the_embedded_model() -> None:
    with embedded_serve() as url:
        capped = openai_chat(url, COUNTING, max_tokens=3).json()
        stopped = openai_chat(url, COUNTING, stop="5", seed=3).json()
    assert capped["choices"][0]["finish_reason"] == "length"
    assert 0 < capped["usage"]["completion_tokens"] <= 3
    text = stopped["choices"][0]["message"]["content"]
    assert "4" in text and "5" not in text


@needs_models
def test_a_sampling_option_of_the_wrong_type_is_a_400_naming_it() -> None:
    with embedded_serve() as url:
        with pytest.raises(ollama.ResponseError) as refused:
            ollama.Client(host=url, timeout=TIMEOUT_S).chat(
                model=EXECUTOR,
                messages=[{"role": "user", "content": "Hi"}],
                options={"temperature": "hot"},
            )
        answer = openai_chat(url, "Hi", seed="x")
    assert refused.value.status_code == 400 and "temperature" in refused.value.error
    assert answer.status_code == 400 and "seed" in answer.json()["error"]["message"]  # OpenAI shape


def _serve_status(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/orquestra/status", timeout=10).json()  # type: ignore[no-any-return]


@needs_models
def test_ctrl_c_in_a_client_run_ends_its_lease_and_stops_its_generation_in_the_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`orquestra run` through a scheduler that holds the embedded models, interrupted while
    the brain writes: the run exits 130, its lease is given back, the scheduler's
    generation for it stops at its next step, and the scheduler goes on serving."""
    with embedded_serve() as url:
        before = _serve_status(url)["serve"]["generations_stopped"]
        monkeypatch.setenv("ORQUESTRA_BACKEND", "embedded")
        monkeypatch.setenv("ORQUESTRA_CACHE_DIR", str(USER_CACHE))
        monkeypatch.setenv("ORQUESTRA_URL", url)
        terminal = Terminal("run", "Escreva um poema longo sobre o mar, com dez estrofes")
        deadline = time.monotonic() + PATIENCE_S
        while b"reading its prompt" not in terminal.output:
            assert time.monotonic() < deadline, terminal.text[-2000:]
            terminal.read(0.2)
        deadline = time.monotonic() + PATIENCE_S
        while not _serve_status(url)["serve"]["active_requests"]:  # the brain is writing
            assert time.monotonic() < deadline, terminal.text[-2000:]
            terminal.read(0.2)
        terminal.read(2.0)
        terminal.press_ctrl_c()
        assert terminal.finish() == 130, terminal.text[-2000:]
        assert "interrupted" in terminal.text
        deadline = time.monotonic() + PATIENCE_S
        while True:
            serve = _serve_status(url)["serve"]
            if serve["generations_stopped"] > before and not serve["active_requests"]:
                break
            assert time.monotonic() < deadline, serve
            time.sleep(0.2)
        assert serve["held_leases"] == 0 and serve["waiting"] == 0
        still = ollama.Client(host=url, timeout=TIMEOUT_S).chat(
            model=EXECUTOR, messages=[{"role": "user", "content": "Reply with the word yes."}]
        )
    assert still.message.content
