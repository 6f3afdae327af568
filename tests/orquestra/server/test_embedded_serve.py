"""Without Ollama, `orquestra serve` holds the embedded models for every client (real models)."""

from __future__ import annotations

import asyncio
import json

import ollama

from orquestra.embedded import assets
from orquestra.runtime import build_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.orquestra.backends.test_embedded import USER_CACHE, needs_models
from tests.orquestra.server.conftest import connect, serving


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
