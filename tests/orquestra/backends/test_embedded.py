"""The embedded default on real models: assets, swaps and a code task that really runs.

These run when the `embedded` extra is installed (CI installs it); the models are
assembled once into the user's cache directory and reused by later runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import platformdirs
import pytest

from graph import Context, build_graph
from nodes.common import in_other_language
from orquestra.backends.embedded import EmbeddedBackend, llama_available, resident_bytes
from orquestra.embedded import assets
from orquestra.errors import ModelNotFoundError
from orquestra.runtime import build_model_manager, set_model_manager
from tests.answer_cases import CASES, AnswerCase, result_first, states
from tests.graph_support import user

USER_CACHE = Path(platformdirs.user_cache_dir("orquestra"))
EMBEDDED_READY = llama_available() and assets.ready(USER_CACHE)
needs_models = pytest.mark.skipif(
    not EMBEDDED_READY, reason="install '.[embedded]' and run `orquestra models fetch`"
)


def test_unknown_embedded_model_lists_the_available_ones() -> None:
    with pytest.raises(ModelNotFoundError, match=r"qwen2\.5-coder-0\.5b-instruct"):
        assets.find("llama3:70b")
    assert assets.find("qwen2.5-coder-0.5b-instruct:latest") is assets.EXECUTOR_MODEL


def test_missing_data_packages_name_the_install_command() -> None:
    ghost = assets.EmbeddedModel("ghost", "orquestra-no-such-package-", 2, "1.0", 1, "0" * 64, "")
    with pytest.raises(ModelNotFoundError, match=r"orquestra-agent\[embedded\]"):
        assets.part_files(ghost)
    assert not assets.installed(ghost)


@needs_models
def test_fetched_models_match_their_size_and_checksum() -> None:
    for model in assets.EMBEDDED_MODELS.values():
        path = assets.assemble(model, USER_CACHE)
        assert path.stat().st_size == model.size
        assert Path(f"{path}.sha256").read_text().strip() == model.sha256
        assert assets.fetched(model, USER_CACHE)


@needs_models
async def test_code_task_runs_for_real_with_a_real_swap() -> None:
    manager = build_model_manager(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    set_model_manager(manager)
    try:
        await manager.ensure("brain")
        final = await build_graph().ainvoke(
            user("Crie um script Python que soma os números de 1 a 10 e mostre o resultado"),
            context=Context(execution_timeout_s=20),
        )
        status = manager.get_status()
    finally:
        set_model_manager(None)
        await manager.aclose()
    assert final["task_type"] == "code"
    last = final["executions"][-1]
    assert last["exit_code"] == 0 and "55" in last["stdout"], final["executions"]
    first, *later = final["swaps"]
    assert (first["from_role"], first["to_role"]) == ("brain", "executor")
    assert first["unload_s"] > 0 and first["load_s"] > 0 and first["footprint_gb"] > 0
    # The brain may come back to confirm the script; every swap crosses to the other model.
    for before, after in zip(final["swaps"], later, strict=False):
        assert after["from_role"] == before["to_role"] != after["to_role"]
    home = final["swaps"][-1]["to_role"]
    away, model = (
        ("executor", assets.EXECUTOR_MODEL) if home == "brain" else ("brain", assets.BRAIN_MODEL)
    )
    assert status[f"{home}_loaded"] and not status[f"{away}_loaded"]  # the budget holds one
    assert status["suspended"] == [model.name]  # weights out, context kept


@needs_models
async def test_embedded_brain_gives_structured_output() -> None:
    from nodes.plan import Plan

    manager = build_model_manager(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    try:
        async with manager.use("brain") as chat:
            plan = await chat.with_structured_output(Plan).ainvoke(
                "Plan, in two steps, how to sum the numbers from 1 to 10 with Python."
            )
    finally:
        await manager.aclose()
    assert isinstance(plan, Plan) and plan.goal and len(plan.steps) >= 1


async def greedy(backend: EmbeddedBackend, model: str, options: dict[str, int]) -> str:
    llama = backend.chat_model(model, options, -1).client  # type: ignore[attr-defined]

    def run() -> str:
        out = llama.create_completion("def add(a, b):", max_tokens=12, temperature=0)
        return str(out["choices"][0]["text"])

    return await asyncio.to_thread(run)


@needs_models
async def test_mapped_unload_suspends_gives_memory_back_and_resumes_the_same_model() -> None:
    backend = EmbeddedBackend(USER_CACHE)  # ORQUESTRA_EMBEDDED_LOAD=mapped, the default
    model, options = assets.EXECUTOR_MODEL.name, {"num_ctx": 2048}
    try:
        await backend.load(model, options, -1)
        [loaded] = await backend.loaded()
        llama = backend.chat_model(model, options, -1).client  # type: ignore[attr-defined]
        before = await greedy(backend, model, options)
        evaluated = llama.n_tokens
        held = resident_bytes()

        await backend.unload(model)
        assert backend.suspended() == [model] and await backend.loaded() == []
        assert held - resident_bytes() > 0.7 * loaded.size_vram  # the weights left memory

        await backend.load(model, options, -1)
        assert backend.chat_model(model, options, -1).client is llama  # type: ignore[attr-defined]
        assert llama.n_tokens == evaluated > 0  # the KV state survived: a prefix is reused
        assert await greedy(backend, model, options) == before
        assert backend.suspended() == []

        await backend.unload(model)
        await backend.load(model, {"num_ctx": 1024}, -1)  # other options: opened again
        assert backend.chat_model(model, {}, -1).client is not llama  # type: ignore[attr-defined]
    finally:
        await backend.aclose()
    assert backend.suspended() == [] and await backend.loaded() == []


@needs_models
async def test_copied_unload_closes_the_model() -> None:
    backend = EmbeddedBackend(USER_CACHE, load_mode="copied")
    model = assets.EXECUTOR_MODEL.name
    try:
        await backend.load(model, {"num_ctx": 1024}, -1)
        assert [m.name for m in await backend.loaded()] == [model]
        await backend.unload(model)
        assert backend.suspended() == [] and await backend.loaded() == []
    finally:
        await backend.aclose()


# A Portuguese code task, an English compute question, and a Portuguese hybrid task that
# asks for an explanation: the right value, in the request's language. (The hybrid case of
# issue 11, "os 20 primeiros números primos", stays in bench/answers.py: both embedded
# models sometimes read it as the primes up to 20, which no check can catch.)
RIGHT_ANSWER_CASES = [CASES[0], CASES[1], CASES[9]]


@needs_models
@pytest.mark.parametrize("case", RIGHT_ANSWER_CASES, ids=lambda c: c.expected)
async def test_real_models_give_the_right_answer_in_the_request_language(
    case: AnswerCase,
) -> None:
    manager = build_model_manager(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    set_model_manager(manager)
    try:
        final = await build_graph().ainvoke(user(case.request), context=Context())
    finally:
        set_model_manager(None)
        await manager.aclose()
    answer = str(final["messages"][-1].content)
    assert states(answer, case.expected), answer
    assert not in_other_language(answer, case.language), answer
    # As a person would write it: the value in the first sentence, not in a block below.
    assert result_first(answer, case.expected), answer
