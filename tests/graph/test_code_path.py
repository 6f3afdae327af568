"""The code path: the executor's candidates run for real; the brain confirms and rescues."""

from __future__ import annotations

from graph import Context
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    bodies_for,
    code_reply,
    user,
)

BRAIN_TAG = f"{BRAIN}:latest"


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
