"""Persistence and resume with SQLite, the commander API, and no blocking calls in nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

import orquestra
from graph import Context, build_graph
from orquestra.errors import BackendUnavailableError
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    code_reply,
    plan_reply,
    user,
)


async def test_a_run_whose_backend_dies_resumes_from_its_thread_without_redoing_steps(
    wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    def plan_then_die(body: dict) -> str:  # type: ignore[type-arg]
        state.down = True  # the server dies right after answering the plan
        return plan_reply(("sum", True))

    state.script(BRAIN, plan_then_die, code_reply("print(55)"), "The sum is 55.")
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    config = {"configurable": {"thread_id": "t-1"}}
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "threads.db")) as saver:
        graph = build_graph(checkpointer=saver)
        with pytest.raises(BackendUnavailableError, match="Cannot reach Ollama"):
            await graph.ainvoke(
                user("Planeje e execute a soma de 1 a 10"), config, context=Context()
            )
        snapshot = await graph.aget_state(config)
        assert snapshot.next == ("swap_to_executor",) and snapshot.values["plan"]

        state.down = False
        final = await graph.ainvoke(None, config, context=Context())
    assert final["messages"][-1].content.startswith("The sum is 55.")
    assert final["executions"][0]["stdout"] == "55\n"
    # Plan, confirm, reflect: each once, no step done twice.
    assert state.chats[f"{BRAIN}:latest"] == 3
    assert state.chats[EXECUTOR] == 1


async def test_commander_processes_a_message_and_reports_status(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    commander = orquestra.create_smart_commander(manager=wired, max_attempts=2)
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    state.script(BRAIN, code_reply("print(55)"))  # confirms the script's result
    answer = await commander.process_message(
        "Crie um script Python que soma os números de 1 a 10 e mostre o resultado"
    )
    assert "55" in answer
    status = commander.get_status()
    assert status["last_task_type"] == "code" and status["last_route"]["role"] == "executor"
    assert status["brain_loaded"] and status["current_role"] == "brain"
    assert status["last_run_swaps"] == 2 and commander.context.max_attempts == 2


async def test_commander_keeps_the_conversation(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    commander = orquestra.create_smart_commander(manager=wired)
    state.script(BRAIN, "Oi! Sou o Orquestra.", "Você disse oi.")
    await commander.process_message("Oi!")
    await commander.process_message("O que eu disse antes?")
    last_request = [b for p, b in state.requests if p == "/api/chat"][-1]
    contents = [m["content"] for m in last_request["messages"]]
    assert "Oi!" in contents and "Oi! Sou o Orquestra." in contents


async def test_commander_turns_expected_failures_into_a_clear_message(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    commander = orquestra.create_smart_commander(manager=wired)
    state.down = True
    answer = await commander.process_message("Olá")
    assert answer.startswith("Error: Cannot reach Ollama at") and "ollama serve" in answer
    assert commander.get_status()["last_error_message"]
    assert (await commander.process_message("   ")).startswith("Empty message")


async def test_no_node_makes_a_blocking_call(wired: ModelManager, state: FakeOllamaState) -> None:
    """What `langgraph dev` enforces: blockbuster raises on blocking calls in the loop."""
    from blockbuster import blockbuster_ctx

    graph = build_graph()
    await wired.ensure("brain")  # the test's own setup may block; the run may not
    state.script(
        BRAIN,
        plan_reply(("a", True), ("b", True)),
        code_reply("print(1)"),
        "ok",
    )
    state.script(EXECUTOR, code_reply("print(1)"))
    with blockbuster_ctx():
        final = await graph.ainvoke(
            user("Planeje e execute uma tarefa complexa"), context=Context()
        )
    # The fake brain's "ok" does not state the result: a sentence that does leads it.
    assert final["messages"][-1].content == "O resultado é 1. ok"
    assert len(final["executions"]) == 2


def test_context_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTOR_MODEL", "qwen2.5-coder:7b")
    monkeypatch.setenv("ORQUESTRA_MAX_ATTEMPTS", "5")
    context = Context()
    assert context.max_attempts == 5
    # The models are the process's lineup's (the settings read EXECUTOR_MODEL), not re-read
    # here: a run's explicit model is never overridden by the environment.
    assert context.executor_model == ""
    assert Context(max_attempts=1).max_attempts == 1
    monkeypatch.setenv("ORQUESTRA_MAX_ITERATIONS", "many")
    with pytest.raises(ValueError, match="ORQUESTRA_MAX_ITERATIONS='many'"):
        Context()
    monkeypatch.delenv("ORQUESTRA_MAX_ITERATIONS")
    with pytest.raises(ValueError, match="Allowed values: alternate, coresident, auto"):
        Context(swap_policy="sometimes")
