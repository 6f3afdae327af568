"""The code path: the executor's candidates run for real; the brain confirms and rescues."""

from __future__ import annotations

from graph import Context
from nodes.answer import solution_code
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
    state.script(
        BRAIN,
        code_reply("total = sum(n for n in range(1, 11))\nprint(total)"),
        "A soma dos números de 1 a 10 é 55.",
    )
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
    # The brain, resident, says the result as a person would, before the code.
    answer = final["messages"][-1].content
    assert answer.startswith("A soma dos números de 1 a 10 é 55.\n\nCódigo")
    assert "dois modelos" not in answer and "```python" in answer
    sentence_prompt = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert "printed:\n55" in sentence_prompt and "português" in sentence_prompt
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
    rescue_prompt = bodies_for(state.requests, BRAIN)[0]["messages"][-1]["content"]
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


FUNCTION_REQUEST = '''Complete the following Python function:
```python
def double(n: int) -> int:
    """Twice n.
    >>> double(2)
    4
    """
```'''


async def test_the_rescue_repairs_then_samples_and_stops_repairs_that_change_nothing(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    wrong = code_reply("def double(n: int) -> int:\n    return n + 1")
    state.model_replies[EXECUTOR] = [wrong] * 5
    # The brain's answer fails; its first repair fails the same way, so the second repair
    # is skipped and the plan goes on to the sampled candidate, which passes.
    state.script(
        BRAIN,
        code_reply("def double(n: int) -> int:\n    return n * 3"),
        code_reply("def double(n: int) -> int:\n    return 3 * n"),
        code_reply("def double(n: int) -> int:\n    return 2 * n"),
    )
    final = await graph.ainvoke(
        user(FUNCTION_REQUEST), context=Context(max_attempts=1, rescue_attempts=4)
    )
    brain = [r for r in final["executions"] if r["by"] == "brain"]
    assert [(r["strategy"], r["accepted"]) for r in brain] == [
        ("greedy", False),
        ("debug", False),
        ("sample", True),
    ]
    assert [r["attempt"] for r in final["executions"]] == [1, 2, 3, 4]
    bodies = bodies_for(state.requests, BRAIN)
    assert len(bodies) == 3
    repair = bodies[1]["messages"]
    assert repair[0]["content"].startswith("Complete the following")  # the bare request first
    assert "double(2)" in repair[-1]["content"]  # the failing check, shown to repair
    assert len(bodies[2]["messages"]) == 1  # the sample is asked as the first answer was
    assert "2 * n" in final["messages"][-1].content


async def test_a_sentence_that_misstates_the_result_gives_way_to_a_plain_one(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    state.script(
        BRAIN, code_reply("print(sum(range(1, 11)))"), "The sum of the numbers 1 to 10 is 56."
    )
    final = await graph.ainvoke(
        user("Write a Python script that adds the numbers from 1 to 10"), context=Context()
    )
    answer = final["messages"][-1].content
    assert answer.startswith("The result is 55.\n\nCode") and "56" not in answer


NO_EXAMPLE_REQUEST = '''Complete the following Python function:
```python
def count_upper(s: str) -> int:
    """Count the upper-case letters of s."""
```'''


async def test_a_function_without_examples_is_checked_against_cases_the_brain_derives(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("def count_upper(s):\n    return len(s)"))
    state.script(
        BRAIN,
        code_reply("assert count_upper('aBC') == 2\nassert count_upper('') == 0"),
        code_reply("def count_upper(s):\n    return sum(c.isalpha() for c in s)"),
        code_reply("def count_upper(s):\n    return sum(c.isupper() for c in s)"),
    )
    final = await graph.ainvoke(
        user(NO_EXAMPLE_REQUEST),
        context=Context(max_attempts=1, rescue_attempts=2, derived_checks=True),
    )
    executor, *brain = final["executions"]
    assert executor["accepted"] and executor["checks"]["total"] == 0  # nothing to check it by
    assert [(r["accepted"], r["checks"], r["derived_checks"]) for r in brain] == [
        (False, {"passed": 1, "total": 2}, True),
        (True, {"passed": 2, "total": 2}, True),
    ]
    # The cases come from the specification alone: no candidate code is shown.
    derive = bodies_for(state.requests, BRAIN)[0]["messages"]
    assert "Do not implement it" in derive[-1]["content"] and "len(s)" not in str(derive)
    repair = bodies_for(state.requests, BRAIN)[2]["messages"][-1]["content"]
    assert "Check failed (a derived case): count_upper('aBC')" in repair
    assert "isupper" in solution_code(final["executions"])
    assert "2 of 2 test cases written from the specification" in final["messages"][-1].content


async def test_by_default_the_brain_s_function_counts_unchecked(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("def count_upper(s):\n    return len(s)"))
    state.script(BRAIN, code_reply("def count_upper(s):\n    return sum(c.isupper() for c in s)"))
    final = await graph.ainvoke(user(NO_EXAMPLE_REQUEST), context=Context(max_attempts=1))
    assert [(r["by"], r["checks"]["total"]) for r in final["executions"]] == [
        ("executor", 0),
        ("brain", 0),
    ]
    assert "isupper" in solution_code(final["executions"])
