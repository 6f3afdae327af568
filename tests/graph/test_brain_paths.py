"""Conversation and planning: the brain answers alone, calling tools in a bounded loop."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from graph import Context, build_graph
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState, fake_model
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    bodies_for,
    tool_call,
    user,
)

BRAIN_TAG = f"{BRAIN}:latest"


async def test_conversation_is_answered_by_the_brain_alone(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(BRAIN, "Olá! Tudo ótimo, e com você?")
    final = await graph.ainvoke(user("Olá, tudo bem?"), context=Context())
    assert final["task_type"] == "conversation"
    assert final["messages"][-1].content == "Olá! Tudo ótimo, e com você?"
    assert state.loads[EXECUTOR] == 0 and final["executions"] == []
    assert [s["to_role"] for s in final["swaps"]] == ["brain"]


async def test_planning_is_answered_by_the_brain(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(BRAIN, "1. Medir. 2. Otimizar consultas. 3. Cache.")
    final = await graph.ainvoke(
        user("Analise e planeje uma solução para o site lento"), context=Context()
    )
    assert final["task_type"] == "planning"
    assert "Cache" in final["messages"][-1].content and state.loads[EXECUTOR] == 0


async def test_brain_calls_tools_in_a_bounded_loop(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(BRAIN, tool_call("run_python", code="print(2 ** 16)"), "2^16 = 65536.")
    final = await graph.ainvoke(
        user("What is 2 to the 16th power? Use a tool if useful."), context=Context()
    )
    tool_messages = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1 and "65536" in str(tool_messages[0].content)
    assert final["messages"][-1].content == "2^16 = 65536."


async def test_tool_loop_stops_at_the_round_limit(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.model_replies[BRAIN_TAG] = [tool_call("list_workspace", path=".")] * 5
    final = await graph.ainvoke(
        user("Tell me about my workspace"), context=Context(max_tool_rounds=2)
    )
    tool_messages = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 2
    assert not final["messages"][-1].tool_calls
    assert not bodies_for(state.requests, BRAIN)[-1].get("tools")
    assert any("past the limit" in n for n in final["notes"])


async def test_a_model_without_tools_answers_plainly_with_the_reason(
    make_manager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    from orquestra.runtime import set_model_manager

    state.models["plain-brain:latest"] = fake_model(
        "plain-brain", 7.0, capabilities=("completion",)
    )
    manager = make_manager(brain_model="plain-brain")
    set_model_manager(manager)
    state.script("plain-brain", "Resposta sem ferramentas.")
    final = await build_graph().ainvoke(user("Olá!"), context=Context(brain_model="plain-brain"))
    assert final["messages"][-1].content == "Resposta sem ferramentas."
    assert any("does not support tools" in n for n in final["notes"])
    set_model_manager(None)
