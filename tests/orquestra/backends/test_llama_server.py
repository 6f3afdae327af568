"""The llama-server backend against a real router-mode llama-server over the embedded GGUFs.

Real loads and unloads, measured footprints, chat with structured output and tools, the
KV kept across a swap (and a save changed on disk, which is not restored), and one hybrid
task end to end. They run when the `llama-server` extra and the embedded models are
installed (CI installs both).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from graph import Context, build_graph
from orquestra.app.doctor import run_checks
from orquestra.backends.kv_files import KV_PREFIX
from orquestra.backends.llama_server import LlamaServerBackend
from orquestra.manager import ModelManager
from orquestra.runtime import build_model_manager, set_model_manager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests import real_llama_server
from tests.graph_support import user
from tests.orquestra.server.conftest import serving
from tests.real_llama_server import BRAIN, EXECUTOR, RealRouter

pytestmark = pytest.mark.skipif(
    not real_llama_server.available(), reason=real_llama_server.SKIP_REASON
)

# Holds either model's process (about 1.8 GiB and 0.6 GiB resident) but not both.
ONE_MODEL_BUDGET_GB = 2.0
# A prompt long enough that evaluating it again is clearly visible (about 1,500 tokens).
LONG_CONTEXT = "\n".join(
    f"Item {i}: the warehouse in city number {i} stores {i * 7 % 97} crates of part {i * 13 % 101}."
    for i in range(1, 61)
)


@pytest.fixture(scope="module")
def router() -> Iterator[RealRouter]:
    real = RealRouter().start()
    yield real
    real.stop()


class Sampler:
    """Polls the router's `/models` in a thread and keeps the most models running at once."""

    def __init__(self, router: RealRouter) -> None:
        self._router = router
        self._stop = threading.Event()
        self.most_running = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            running = [s for s in self._router.statuses().values() if s != "unloaded"]
            self.most_running = max(self.most_running, len(running))
            self.samples += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


MakeManager = Callable[..., ModelManager]


@pytest.fixture
async def make_manager(router: RealRouter, tmp_path: Path) -> AsyncIterator[MakeManager]:
    made: list[ModelManager] = []

    def factory(**overrides: Any) -> ModelManager:
        settings: dict[str, Any] = {
            "backend": "llama-server",
            "llama_server_url": router.url,
            "brain_model": BRAIN,
            "executor_model": EXECUTOR,
            "vram_budget_gb": ONE_MODEL_BUDGET_GB,
            "home_role": "none",
            "cache_dir": tmp_path / "cache",
        }
        manager = build_model_manager(**(settings | overrides))
        made.append(manager)
        return manager

    yield factory
    for manager in made:
        await manager.aclose()
    await asyncio.to_thread(reset, router)


def reset(router: RealRouter) -> None:
    """Unload every model and forget the saved KV: each test starts from nothing."""
    for model, status in router.statuses().items():
        if status != "unloaded":
            httpx.post(f"{router.url}/models/unload", json={"model": model}, timeout=30)
    for path in router.kv_dir.iterdir():
        path.unlink()
    for _ in range(600):
        if all(s == "unloaded" for s in router.statuses().values()):
            return
        threading.Event().wait(0.05)
    raise AssertionError(router.statuses())


def backend_of(manager: ModelManager) -> LlamaServerBackend:
    assert isinstance(manager.backend, LlamaServerBackend)
    return manager.backend


async def test_swaps_load_and_unload_for_real_and_never_hold_both(
    router: RealRouter, make_manager: MakeManager
) -> None:
    manager = make_manager()
    with Sampler(router) as sampler:
        for role in ("brain", "executor", "brain"):
            await manager.ensure(role)  # type: ignore[arg-type]
            assert router.statuses() == {
                BRAIN: "loaded" if role == "brain" else "unloaded",
                EXECUTOR: "loaded" if role == "executor" else "unloaded",
            }
    assert sampler.samples > 0 and sampler.most_running == 1
    status = manager.get_status()
    assert status["backend"] == "llama-server" and status["brain_loaded"]
    assert not status["executor_loaded"] and status["swaps"] >= 2
    # Each child's resident memory was measured into the ledger (under the budget).
    sizes = [f.size for f in manager.ledger.entries().values()]
    assert len(sizes) == 2 and all(0 < s < ONE_MODEL_BUDGET_GB * 2**30 for s in sizes)
    assert await backend_of(manager).weights_path(BRAIN) is not None


class Sum(BaseModel):
    """The sum of two numbers."""

    total: int


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_chat_structured_output_and_tool_calls_through_the_router(
    make_manager: MakeManager,
) -> None:
    manager = make_manager()
    call = {"name": "multiply", "args": {"a": 6, "b": 7}, "id": "call_1", "type": "tool_call"}
    async with manager.use("brain") as chat:
        reply = await chat.ainvoke("What is 2 + 3? Answer with the number only.")
        structured = await chat.with_structured_output(Sum).ainvoke(
            "Add 19 and 23. Give the total."
        )
        offered = await chat.bind_tools([multiply]).ainvoke("Multiply 6 by 7 with the tool.")
        answered = await chat.ainvoke(
            [
                HumanMessage("Multiply 6 by 7 with the tool, then say the result."),
                AIMessage("", tool_calls=[call]),
                ToolMessage("42", tool_call_id="call_1"),
            ]
        )
    assert "5" in str(reply.content)
    assert isinstance(structured, Sum) and structured.total == 42
    # The tool reached the model through the chat template: it calls it (this small coder
    # writes the call as a JSON block rather than a parsed tool call), with the arguments.
    written = json.dumps([c["args"] for c in offered.tool_calls]) + str(offered.content)
    assert "multiply" in written or offered.tool_calls
    assert re.search(r'"a"\s*:\s*6', written) and re.search(r'"b"\s*:\s*7', written)
    # A tool call and its result go back through the OpenAI messages, and are used.
    assert "42" in str(answered.content)


async def prompt_tokens(router: RealRouter, messages: list[dict[str, str]]) -> tuple[int, str]:
    """Tokens the brain evaluated for `messages` (its `timings`), and its reply."""
    async with httpx.AsyncClient(timeout=300) as client:
        response = await client.post(
            f"{router.url}/v1/chat/completions",
            params={"autoload": "false"},
            json={"model": BRAIN, "messages": messages, "max_tokens": 16},
        )
    response.raise_for_status()
    body = response.json()
    return int(body["timings"]["prompt_n"]), str(body["choices"][0]["message"]["content"])


def conversation(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You answer questions about this list.\n"}]
    messages[0]["content"] += LONG_CONTEXT
    questions = ["How many crates are in city 3?", "And in city 4? Answer with the number."]
    for question in questions[:turns]:
        messages.append({"role": "user", "content": question})
        if len(messages) < turns * 2:
            messages.append({"role": "assistant", "content": "21."})
    return messages


async def swap_out_and_back(manager: ModelManager, router: RealRouter) -> list[dict[str, str]]:
    """Start a long conversation, swap the brain out and back, continue it."""
    await manager.ensure("brain")
    first, _ = await prompt_tokens(router, conversation(1))
    assert first > 1000, first  # the whole prefix was evaluated once
    await manager.ensure("executor")
    await manager.ensure("brain")
    return conversation(2)


async def test_the_kv_cache_survives_a_swap(router: RealRouter, make_manager: MakeManager) -> None:
    manager = make_manager()
    resumed = await swap_out_and_back(manager, router)
    kept, reply = await prompt_tokens(router, resumed)
    tally = backend_of(manager).kv.tally
    assert tally.slots_saved >= 1 and tally.slots_restored >= 1 and tally.tokens_restored > 1000
    assert kept < 0.2 * tally.tokens_restored, (kept, tally)
    assert "28" in reply  # city 4: 4 * 7 % 97

    cold = make_manager(kv_cache_gb=0)  # the same swap without keeping the KV
    await cold.ensure("executor")
    resumed = await swap_out_and_back(cold, router)
    evaluated, _ = await prompt_tokens(router, resumed)
    assert evaluated > 1000 and kept < 0.2 * evaluated


async def test_a_save_changed_on_disk_is_not_restored_and_the_prompt_is_evaluated_again(
    router: RealRouter, make_manager: MakeManager
) -> None:
    manager = make_manager()
    await manager.ensure("brain")
    await prompt_tokens(router, conversation(1))
    await manager.ensure("executor")
    saved = [p for p in router.kv_dir.iterdir() if p.name.startswith(KV_PREFIX)]
    assert saved, "the brain's slot was saved when it was unloaded"
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in saved)  # private to this user
    for path in saved:
        path.write_bytes(b"not the slot Orquestra saved" * 100)
    await manager.ensure("brain")
    evaluated, reply = await prompt_tokens(router, conversation(2))
    tally = backend_of(manager).kv.tally
    assert tally.rejected_files == len(saved) and tally.tokens_restored == 0
    assert tally.failed_restores == 0  # never handed to llama-server
    assert not any(p.exists() for p in saved)  # dropped, not looked at again
    assert evaluated > 1000 and "28" in reply  # evaluated again, and still right


async def test_saved_kv_stays_under_its_disk_bound(
    router: RealRouter, make_manager: MakeManager
) -> None:
    manager = make_manager(kv_cache_gb=1e-6)  # about 1 KiB: no slot file fits
    await manager.ensure("brain")
    await prompt_tokens(router, conversation(1))
    await manager.ensure("executor")
    tally = backend_of(manager).kv.tally
    assert tally.slots_saved >= 1 and tally.files_dropped >= 1
    assert not [p for p in router.kv_dir.iterdir() if p.name.startswith(KV_PREFIX)]


async def test_a_hybrid_task_runs_end_to_end_on_the_router(
    router: RealRouter, make_manager: MakeManager
) -> None:
    from blockbuster import blockbuster_ctx

    manager = make_manager()
    set_model_manager(manager)
    try:
        with Sampler(router) as sampler, blockbuster_ctx():  # as `langgraph dev` runs it
            final = await build_graph().ainvoke(
                user("Crie um script Python que soma os números de 1 a 10 e mostre o resultado"),
                context=Context(execution_timeout_s=20),
            )
    finally:
        set_model_manager(None)
    assert final["task_type"] == "code"
    last = final["executions"][-1]
    assert last["exit_code"] == 0 and "55" in last["stdout"], final["executions"]
    assert final["swaps"] and all(s["load_s"] > 0 for s in final["swaps"])
    assert sampler.most_running == 1


async def test_orquestra_serve_sits_in_front_of_the_router(
    router: RealRouter, make_manager: MakeManager
) -> None:
    manager = make_manager()
    with serving(create_app(manager, max_queue=8)) as url:
        client = ollama.AsyncClient(host=url)
        plain = await client.chat(
            model=EXECUTOR,
            messages=[{"role": "user", "content": "Reply with the number 7 and nothing else."}],
        )
        listed = await client.ps()
        assert "7" in (plain.message.content or "")
        assert [m.model for m in listed.models] == [EXECUTOR] and listed.models[0].size > 0
        with Sampler(router) as sampler:
            reply = await client.chat(
                model=BRAIN,
                messages=[{"role": "user", "content": "What is 6 times 7? Answer in JSON."}],
                format={
                    "type": "object",
                    "properties": {"answer": {"type": "integer"}},
                    "required": ["answer"],
                },
            )
        assert json.loads(reply.message.content or "")["answer"] == 42
        assert sampler.most_running == 1  # the executor left before the brain came
        assert router.statuses()[BRAIN] == "loaded"


async def test_sampling_options_reach_the_router_through_orquestra_serve(
    router: RealRouter, make_manager: MakeManager
) -> None:
    counting = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    sea = "Write one sentence about the sea."
    with serving(create_app(make_manager(), max_queue=8)) as url:
        client = ollama.AsyncClient(host=url)
        capped = await client.chat(model=EXECUTOR, messages=counting, options={"num_predict": 3})
        stopped = await client.chat(model=EXECUTOR, messages=counting, options={"stop": ["5"]})
        hot = {"temperature": 1.5, "num_predict": 24}
        same = [
            (await client.generate(EXECUTOR, sea, options={**hot, "seed": 7})).response
            for _ in range(2)
        ]
        seeded = {
            (await client.generate(EXECUTOR, sea, options={**hot, "seed": s})).response
            for s in (1, 2, 3)
        }
        top_1 = {
            (await client.generate(EXECUTOR, sea, options={**hot, "seed": s, "top_k": 1})).response
            for s in (1, 2)
        }
    assert 0 < (capped.eval_count or 0) <= 3 and capped.done_reason == "length"
    text = stopped.message.content or ""
    assert "4" in text and "5" not in text
    assert same[0] == same[1]
    assert len(seeded) > 1  # the seed reaches the router's sampler
    assert len(top_1) == 1  # and top_k (sent in the body): one candidate, whatever the seed


async def test_the_doctor_checks_the_router_models_and_kv(router: RealRouter) -> None:
    settings = load_settings(
        backend="llama-server",
        llama_server_url=router.url,
        brain_model=BRAIN,
        executor_model="no-such-model",
    )
    checks = {c.name: c for c in await run_checks(settings)}
    assert checks["llama-server"].status == "ok"
    assert checks["brain model"].status == "ok" and BRAIN in checks["brain model"].detail
    assert checks["executor model"].status == "fail" and EXECUTOR in checks["executor model"].detail
    assert checks["KV across swaps"].status == "ok"
    assert str(router.kv_dir) in checks["KV across swaps"].detail
