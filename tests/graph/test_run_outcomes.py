"""What a run gives back: its stream, its final state, and the errors that end it."""

from __future__ import annotations

from langchain_core.messages import AIMessage, ToolMessage

from graph import Context, build_graph
from orquestra import telemetry
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    code_reply,
    plan_reply,
    tool_call,
    user,
)

BRAIN_TAG = f"{BRAIN}:latest"


async def test_swaps_and_code_runs_stream_on_the_custom_stream(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    await wired.ensure("brain")
    state.script(EXECUTOR, code_reply("print('hi')"))
    events = [
        chunk
        async for chunk in graph.astream(
            user("Write a Python script that prints hi"), context=Context(), stream_mode="custom"
        )
    ]
    kinds = [e["type"] for e in events]
    assert kinds.index("swap_start") < kinds.index("swap") < kinds.index("code_run")
    swap = next(e for e in events if e["type"] == "swap")
    assert swap["message"].startswith("swapping brain → executor") and swap["message"].endswith("s")
    run = next(e for e in events if e["type"] == "code_run")
    assert (run["exit_code"], run["stdout"]) == (0, "hi\n")


async def test_final_state_has_the_documented_keys(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(1)"))
    final = await graph.ainvoke(user("Write a Python script that prints 1"), context=Context())
    for key in ("messages", "task_type", "plan", "executions", "swaps"):
        assert key in final
    assert isinstance(final["messages"][-1], AIMessage)
    assert set(final["executions"][0]) >= {"code", "stdout", "stderr", "exit_code"}


async def test_a_model_that_is_not_pulled_ends_the_run_with_the_fix(
    make_manager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    from orquestra.runtime import set_model_manager

    manager = make_manager(executor_model="qwen2.5-coder:32b")
    set_model_manager(manager)
    final = await build_graph().ainvoke(
        user("Write a Python script that prints 1"), context=Context()
    )
    set_model_manager(None)
    assert "ollama pull qwen2.5-coder:32b" in final["error"]
    assert "ollama pull qwen2.5-coder:32b" in final["messages"][-1].content
    assert final["executions"] == [] and state.loads == {}


async def test_a_policy_refusal_ends_the_hybrid_run_with_the_reason(
    make_manager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    from orquestra.runtime import set_model_manager

    manager = make_manager(swap_policy="coresident")
    set_model_manager(manager)
    state.script(BRAIN, plan_reply(("x", True)))
    final = await build_graph().ainvoke(
        user("Planeje e execute uma tarefa complexa"), context=Context(swap_policy="coresident")
    )
    set_model_manager(None)
    assert "ORQUESTRA_SWAP_POLICY=auto" in final["messages"][-1].content
    assert final["plan"] and final["executions"] == []


async def test_the_graph_runs_without_a_context(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    state.script(BRAIN, code_reply("print(55)"))
    final = await graph.ainvoke(user("Crie um script Python que soma os números de 1 a 10"))
    assert final["task_type"] == "code" and "55" in final["messages"][-1].content
    state.script(BRAIN, "Olá!")
    final = await graph.ainvoke(user("Olá, tudo bem?"))
    assert final["messages"][-1].content == "Olá!"


async def test_the_stream_says_which_node_each_model_is_thinking_in(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(("somar", True), ("explicar", False)),
        code_reply("print(55)"),  # the brain confirms the script's result
        "A soma é 55.",
    )
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    thinking, final = [], {}
    async for mode, chunk in graph.astream(
        user("Planeje e execute a soma dos números de 1 a 10"),
        context=Context(),
        stream_mode=["custom", "values"],
    ):
        if mode == "values":
            final = chunk
        elif chunk["type"] == "thinking":
            thinking.append((chunk["node"], chunk["role"], chunk.get("attempt")))
    # The nodes do not name themselves: the names are the graph's.
    assert thinking == [
        ("plan", "brain", None),
        ("execute", "executor", 1),
        ("rescue", "brain", 2),
        ("reflect", "brain", None),
    ]
    plan_message = next(m for m in final["messages"] if m.content.startswith("Plan:"))
    assert plan_message.name == "plan"


async def test_every_code_run_of_the_graph_reaches_the_telemetry(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    outcomes: list[str] = []
    unsubscribe = telemetry.subscribe_code_runs(outcomes.append)
    try:
        state.script(EXECUTOR, code_reply("print(1)"))
        await graph.ainvoke(
            user("Write a Python script that prints 1"), context=Context(confirm_scripts=False)
        )
        state.script(BRAIN, tool_call("run_python", code="raise SystemExit(3)"), "It failed.")
        final = await graph.ainvoke(
            user("What does exit 3 do? Use a tool if useful."), context=Context()
        )
    finally:
        unsubscribe()
    assert outcomes == ["ok", "error"]  # the executor's script, then the brain's tool call
    # The state keeps what the model read, not the run object the tool handed back.
    [reply] = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert "exit code 3" in str(reply.content) and reply.artifact is None
