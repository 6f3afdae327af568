"""The workflow on every path, against the fake Ollama server with scripted replies."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from graph import Context, build_graph
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState, fake_model
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    bodies_for,
    code_reply,
    plan_reply,
    reflection,
    tool_call,
    user,
)

BRAIN_TAG = f"{BRAIN}:latest"


@pytest.fixture
def graph():  # type: ignore[no-untyped-def]
    return build_graph()


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


async def test_code_path_runs_the_code_for_real(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    state.script(BRAIN, code_reply("total = sum(n for n in range(1, 11))\nprint(total)"))
    final = await graph.ainvoke(
        user("Crie um script Python que soma os números de 1 a 10 e mostre o resultado"),
        context=Context(),
    )
    assert final["task_type"] == "code"
    run, confirmation = final["executions"]
    assert (run["by"], run["exit_code"], run["stdout"], run["accepted"]) == (
        "executor",
        0,
        "55\n",
        True,
    )
    # No check can verify a script: the brain writes its own, and the results agree.
    assert (confirmation["by"], confirmation["stdout"], confirmation["confirms"]) == (
        "brain",
        "55\n",
        True,
    )
    answer = final["messages"][-1].content
    assert "55" in answer and "dois modelos" in answer
    assert [s["to_role"] for s in final["swaps"]] == ["executor", "brain"]


async def test_without_confirmation_the_code_path_stays_on_the_executor(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    final = await graph.ainvoke(
        user("Crie um script Python que soma os números de 1 a 10 e mostre o resultado"),
        context=Context(confirm_scripts=False),
    )
    assert [r["by"] for r in final["executions"]] == ["executor"]
    assert "55" in final["messages"][-1].content
    assert state.loads[BRAIN_TAG] == 0
    assert [s["to_role"] for s in final["swaps"]] == ["executor"]


async def test_failed_code_gets_new_candidates_without_the_brain(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(10 / 0)"), code_reply("print(10 / 2)"))
    final = await graph.ainvoke(
        user("Write a Python script that divides 10 by 2"), context=Context(confirm_scripts=False)
    )
    first, second = final["executions"]
    assert first["exit_code"] == 1 and "ZeroDivisionError" in first["stderr"]
    assert not first["accepted"] and first["strategy"] == "greedy"
    assert (second["exit_code"], second["stdout"], second["accepted"]) == (0, "5.0\n", True)
    assert state.loads[BRAIN_TAG] == 0  # the executor got it: no trip to the brain
    assert "5.0" in final["messages"][-1].content


async def test_the_brain_rescues_when_the_executor_keeps_failing(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.model_replies[EXECUTOR] = [code_reply("print(10 / 0)")] * 5
    state.script(BRAIN, code_reply("print(10 / 2)"))
    final = await graph.ainvoke(
        user("Write a Python script that divides 10 by 2"),
        context=Context(max_attempts=2, rescue_attempts=1),
    )
    assert [(r["by"], r["exit_code"]) for r in final["executions"]] == [
        ("executor", 1),
        ("executor", 1),
        ("brain", 0),
    ]
    rescue_prompt = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert rescue_prompt == "Write a Python script that divides 10 by 2"  # from the request
    assert [s["to_role"] for s in final["swaps"]] == ["executor", "brain"]
    answer = final["messages"][-1].content
    assert "5.0" in answer and "brain" in answer


async def test_attempts_are_bounded(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.model_replies[EXECUTOR] = [code_reply("raise SystemExit(2)")] * 5
    final = await graph.ainvoke(
        user("Write a Python script that exits cleanly"),
        context=Context(max_attempts=2, rescue_attempts=0),
    )
    assert [r["exit_code"] for r in final["executions"]] == [2, 2]
    assert "still failed after 2 attempts" in final["messages"][-1].content
    assert state.loads[BRAIN_TAG] == 0


async def test_a_reply_without_code_counts_as_a_failed_attempt(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, "Sorry, I cannot.", code_reply("print('ok now')"))
    final = await graph.ainvoke(
        user("Write a Python script that prints ok"), context=Context(confirm_scripts=False)
    )
    assert final["executions"][0]["exit_code"] is None
    assert final["executions"][1]["stdout"] == "ok now\n"


async def test_hybrid_joins_code_steps_into_one_script_and_costs_two_swaps(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    await wired.ensure("brain")
    loads_before = sum(state.loads.values())
    state.script(
        BRAIN,
        plan_reply(
            ("gerar dados", True), ("somar", True), ("explicar", False), ("mostrar média", True)
        ),
        code_reply("print(55)\nprint(5.5)"),  # the brain confirms the script's result
        "A soma é 55 e a média 5.5.",  # verified by both models: only the answer is asked
    )
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))\nprint(55 / 10)"))
    final = await graph.ainvoke(
        user("Planeje e execute uma análise dos números de 1 a 10"), context=Context()
    )
    steps = final["plan"]["steps"]
    assert final["task_type"] == "hybrid" and [s["needs_code"] for s in steps] == [True, False]
    assert "(1) gerar dados; (2) somar; (3) mostrar média" in steps[0]["description"]
    assert [(r["by"], r["stdout"]) for r in final["executions"]] == [
        ("executor", "55\n5.5\n"),
        ("brain", "55\n5.5\n"),
    ]
    assert [(s["from_role"], s["to_role"]) for s in final["swaps"]] == [
        ("brain", "executor"),
        ("executor", "brain"),
    ]
    assert sum(state.loads.values()) - loads_before == 2
    assert final["messages"][-1].content == "A soma é 55 e a média 5.5."


async def test_reflection_sees_the_real_results(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(("compute", True)),
        code_reply("import sys\nprint(42)\nprint('warn', file=sys.stderr)"),
        "It printed 42.",
    )
    state.script(EXECUTOR, code_reply("import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)"))
    await graph.ainvoke(
        user("Plan the computation of 6*7, then implement it in Python"), context=Context()
    )
    reflect_prompt = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert "exit code 0" in reflect_prompt and "42" in reflect_prompt and "warn" in reflect_prompt


async def test_revisions_are_written_by_the_resident_brain_and_bounded(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(("compute", True)),
        code_reply("print(3.1)"),  # disagrees with the executor: nothing is verified
        reflection("revise", "not yet", "print more digits"),
        code_reply("print(3.14159)"),
        reflection("revise", "still not", "more"),
        code_reply("print(3.1415926)"),
        "Pi is about 3.1415926.",
    )
    state.model_replies[EXECUTOR] = [code_reply("print(3.14)")] * 5
    final = await graph.ainvoke(
        user("Plan how to compute pi, then implement it"), context=Context(max_iterations=3)
    )
    assert [(r["by"], r["stdout"]) for r in final["executions"]] == [
        ("executor", "3.14\n"),
        ("brain", "3.1\n"),  # the brain's own script, which counts on disagreement
        ("brain", "3.14159\n"),
        ("brain", "3.1415926\n"),
    ]
    assert final["iteration"] == 2
    # From cold: the brain's first load, one visit to the executor and back; revisions
    # happen where the brain already is.
    assert [s["to_role"] for s in final["swaps"]] == ["brain", "executor", "brain"]
    assert final["messages"][-1].content.startswith("Pi is about 3.1415926.")
    revision_prompt = bodies_for(state.requests, BRAIN)[3]["messages"][-1]["content"]
    assert "print more digits" in revision_prompt and "printed:\n3.1\n" in revision_prompt


async def test_three_hybrid_tasks_cost_one_plus_two_per_task_from_cold(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    for _ in range(3):
        state.script(
            BRAIN, plan_reply(("a", True), ("b", True)), code_reply("print(1, 2)"), "Done."
        )
        state.script(EXECUTOR, code_reply("print(1)\nprint(2)"))
        await graph.ainvoke(user("Planeje e execute uma tarefa complexa"), context=Context())
    assert sum(state.loads.values()) == 1 + 2 * 3
    assert state.max_vram_used() <= 16 * 1024**3


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
