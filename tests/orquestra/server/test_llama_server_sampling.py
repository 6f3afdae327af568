"""A request's sampling options reach a llama-server router's `/v1` (a recording fake router).

The request goes to the upstream that answers Ollama's API over the llama-server
backend's chat models (what `orquestra serve` forwards to once it holds the lease); the
fake router records the chat completion request it receives and answers it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orquestra.backends.llama_server import LlamaServerBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.server.embedded_upstream import EmbeddedUpstream
from orquestra.settings import load_settings
from tests.fakes.ollama import NoNvml
from tests.orquestra.server.conftest import serving

CODER = "coder-gguf"


class RecordingRouter:
    """The `/v1/chat/completions` of a router: keeps each body, answers with 3 tokens cut short."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.bodies.append(body)
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "one two three"},
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
            }
        )

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])


@pytest.fixture
def router() -> Iterator[tuple[RecordingRouter, str]]:
    recording = RecordingRouter()
    with serving(recording.app()) as url:
        yield recording, url


@pytest.fixture
async def upstream(router: tuple[RecordingRouter, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        backend="llama-server",
        llama_server_url=router[1],
        brain_model="brain-gguf",
        executor_model=CODER,
        vram_budget_gb=16.0,
        home_role="none",
    )
    manager = ModelManager(
        settings,
        LlamaServerBackend(settings.llama_server_url),
        probe=NoNvml(),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )
    app = EmbeddedUpstream(manager).app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as c:
        yield c
    await manager.aclose()


def chat(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": CODER,
        "messages": [{"role": "user", "content": "Count to ten."}],
        "stream": False,
        "options": {"num_ctx": 4096, "num_gpu": -1, **options},  # pinned runner options too
    }


async def test_sampling_options_reach_the_router_as_openai_fields(
    router: tuple[RecordingRouter, str], upstream: httpx.AsyncClient
) -> None:
    options = {"temperature": 0.3, "seed": 42, "stop": ["\n"], "top_p": 0.8, "num_predict": 3}
    answer = await upstream.post("/api/chat", json=chat(options))
    assert answer.status_code == 200
    [sent] = router[0].bodies
    assert sent["model"] == CODER
    assert sent["temperature"] == 0.3 and sent["seed"] == 42 and sent["top_p"] == 0.8
    assert sent["stop"] == ["\n"]
    assert sent["max_completion_tokens"] == 3  # llama-server reads it as n_predict
    assert not {"num_ctx", "num_gpu", "options"} & set(sent)  # runner options stay pinned
    reply = answer.json()
    assert reply["message"]["content"] == "one two three"
    assert (reply["eval_count"], reply["done_reason"]) == (3, "length")


async def test_llama_cpp_samplers_go_in_the_body_for_llama_server(
    router: tuple[RecordingRouter, str], upstream: httpx.AsyncClient
) -> None:
    options = {"top_k": 20, "repeat_penalty": 1.2, "min_p": 0.1, "stop": "END"}
    assert (await upstream.post("/api/chat", json=chat(options))).status_code == 200
    [sent] = router[0].bodies
    assert (sent["top_k"], sent["repeat_penalty"], sent["min_p"]) == (20, 1.2, 0.1)
    assert sent["stop"] == ["END"]


async def test_num_predict_minus_one_asks_the_router_for_no_limit(
    router: tuple[RecordingRouter, str], upstream: httpx.AsyncClient
) -> None:
    body = {"model": CODER, "prompt": "Hi", "stream": False, "options": {"num_predict": -1}}
    assert (await upstream.post("/api/generate", json=body)).status_code == 200
    assert router[0].bodies[0]["max_completion_tokens"] == -1


async def test_a_request_without_sampling_options_sends_none(
    router: tuple[RecordingRouter, str], upstream: httpx.AsyncClient
) -> None:
    assert (await upstream.post("/api/chat", json=chat({}))).status_code == 200
    sent = router[0].bodies[0]
    assert not {"temperature", "seed", "stop", "max_completion_tokens", "top_k"} & set(sent)


async def test_a_wrong_type_is_a_400_naming_the_option_and_reaches_no_model(
    router: tuple[RecordingRouter, str], upstream: httpx.AsyncClient
) -> None:
    answer = await upstream.post("/api/chat", json=chat({"temperature": "hot"}))
    assert answer.status_code == 400
    assert "temperature" in answer.json()["error"]
    assert router[0].bodies == []
