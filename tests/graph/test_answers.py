"""Right answers through the workflow: checks, candidates, rescue, grounding, language."""

from __future__ import annotations

import pytest

from graph import Context, build_graph
from nodes.answer import solution_code
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import (
    BRAIN,
    EXECUTOR,
    bodies_for,
    code_reply,
    plan_reply,
    reflection,
    user,
)

BRAIN_TAG = f"{BRAIN}:latest"
SPEC = '''def second_largest(xs: list[int]) -> int:
    """Return the second largest distinct value.
    >>> second_largest([1, 5, 3])
    3
    >>> second_largest([7, 7, 2])
    2
    """
'''
REQUEST = f"Complete the following Python function:\n```python\n{SPEC}```"
WRONG = "def second_largest(xs):\n    return sorted(xs)[-2]\n"
RIGHT = "def second_largest(xs):\n    return sorted(set(xs))[-2]\n"


@pytest.fixture
def graph():  # type: ignore[no-untyped-def]
    return build_graph()


async def test_a_candidate_that_fails_a_docstring_example_is_replaced_by_one_that_passes(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply(WRONG), code_reply(RIGHT))
    final = await graph.ainvoke(user(REQUEST), context=Context())
    first, second = final["executions"]
    assert not first["accepted"] and first["checks"] == {"passed": 1, "total": 2}
    assert "expected: 2" in first["stderr"] and "actual:   7" in first["stderr"]
    assert second["accepted"] and second["checks"] == {"passed": 2, "total": 2}
    assert solution_code(final["executions"]) == RIGHT.strip()
    assert "2 of 2 checks" in final["messages"][-1].content
    # The executor saw the exact signature and docstring, not a paraphrase.
    assert SPEC.strip() in bodies_for(state.requests, EXECUTOR)[0]["messages"][-1]["content"]


async def test_the_brain_writes_the_function_afresh_then_fixes_it_from_the_failing_check(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.model_replies[EXECUTOR] = [code_reply(WRONG)] * 3
    state.script(BRAIN, code_reply(WRONG.replace("xs", "values")), code_reply(RIGHT))
    final = await graph.ainvoke(user(REQUEST), context=Context(max_attempts=2, rescue_attempts=2))
    assert [(r["by"], r["accepted"]) for r in final["executions"]] == [
        ("executor", False),
        ("executor", False),
        ("brain", False),
        ("brain", True),
    ]
    fresh, fix = bodies_for(state.requests, BRAIN)[-2:]
    # First from the request alone (the executor's mistakes are not shown to be copied),
    # asked as the brain answers alone: no system prompt of ours, the request verbatim ...
    assert [m["role"] for m in fresh["messages"]] == ["user"]
    assert fresh["messages"][0]["content"] == REQUEST
    assert "sorted(xs)[-2]" not in str(fresh["messages"])
    # ... then from its own failing check, with expected and actual values.
    assert "second_largest([7, 7, 2])" in fix["messages"][-1]["content"]
    assert "expected: 2" in fix["messages"][-1]["content"]
    assert "actual:   7" in fix["messages"][-1]["content"]
    assert solution_code(final["executions"]) == RIGHT.strip()


async def test_a_function_with_no_example_to_check_is_written_by_the_brain(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    request = 'Complete:\n```python\ndef double(x):\n    """Return twice x."""\n```'
    state.script(EXECUTOR, code_reply("def double(x):\n    return x + 2\n"))
    state.script(BRAIN, code_reply("def double(x):\n    return 2 * x\n"))
    final = await graph.ainvoke(user(request), context=Context())
    assert [(r["by"], r["accepted"], r["checks"]["total"]) for r in final["executions"]] == [
        ("executor", True, 0),
        ("brain", True, 0),
    ]
    assert solution_code(final["executions"]) == "def double(x):\n    return 2 * x"


async def test_on_a_hybrid_task_the_rescue_costs_no_extra_swap(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    await wired.ensure("brain")
    state.script(
        BRAIN,
        plan_reply(("implement it", True)),
        code_reply(RIGHT),
        reflection(answer="Done: second_largest([7, 7, 2]) is 2."),
    )
    state.model_replies[EXECUTOR] = [code_reply(WRONG)] * 3
    final = await graph.ainvoke(user(REQUEST), context=Context(task_type="hybrid"))
    assert final["executions"][-1]["by"] == "brain" and final["executions"][-1]["accepted"]
    assert [s["to_role"] for s in final["swaps"]] == ["executor", "brain"]


async def test_an_answer_with_a_number_no_run_printed_is_rewritten_from_the_outputs(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(("gerar os 20 primeiros primos", True), ("somar", True)),
        code_reply("print(639)"),
        "A soma dos 20 primeiros primos é 77.",
        "A soma dos 20 primeiros primos é 639.",
    )
    state.script(EXECUTOR, code_reply("print(639)"))
    final = await graph.ainvoke(
        user("Planeje e execute: gere os 20 primeiros números primos e calcule a soma deles"),
        context=Context(),
    )
    answer = final["messages"][-1].content
    assert "639" in answer and "77" not in answer
    grounding = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert "77" in grounding and "639" in grounding and "português" in grounding


async def test_an_answer_that_stays_ungrounded_becomes_the_outputs_themselves(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(("sum the first 20 primes", True)),
        code_reply("print(639)"),
        "The sum is 77.",
        "The sum is still 77.",
    )
    state.script(EXECUTOR, code_reply("print(639)"))
    final = await graph.ainvoke(
        user("Plan and execute: sum the first 20 prime numbers"), context=Context()
    )
    answer = final["messages"][-1].content
    assert "639" in answer and "77" not in answer
    assert any("no run printed (77)" in note for note in final["notes"])


async def test_a_portuguese_request_gets_a_portuguese_answer(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        "The capital of Brazil is Brasília, which was inaugurated in 1960 as a planned city.",
        "A capital do Brasil é Brasília, inaugurada em 1960 como uma cidade planejada.",
    )
    final = await graph.ainvoke(user("Qual é a capital do Brasil?"), context=Context())
    assert final["messages"][-1].content.startswith("A capital do Brasil é Brasília")
    first = bodies_for(state.requests, BRAIN)[0]["messages"][0]["content"]
    assert "Responda em português" in first
    assert any("rewritten" in note for note in final["notes"])


async def test_the_plan_is_asked_for_in_the_request_language_and_tidied(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(
        BRAIN,
        plan_reply(
            ("Abra o editor de texto", False), ("somar 1 a 10", True), ("somar 1 a 10", True)
        ),
        code_reply("print(55)"),
        "A soma é 55.",
    )
    state.script(EXECUTOR, code_reply("print(55)"))
    final = await graph.ainvoke(
        user("Planeje e execute a soma dos números de 1 a 10"), context=Context()
    )
    assert final["plan"]["steps"] == [{"description": "somar 1 a 10", "needs_code": True}]
    plan_prompt = bodies_for(state.requests, BRAIN)[0]["messages"][-1]["content"]
    assert "Responda em português" in plan_prompt


async def test_compute_questions_run_code(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    primes = (
        "print(sum(1 for n in range(2, 10000)\n"
        "          if all(n % d for d in range(2, int(n ** 0.5) + 1))))"
    )
    state.script(EXECUTOR, code_reply(primes))
    state.script(BRAIN, code_reply(primes))
    final = await graph.ainvoke(
        user("How many prime numbers are there below 10000? Compute it."), context=Context()
    )
    assert final["task_type"] == "code" and "1229" in final["messages"][-1].content
    assert [r["by"] for r in final["executions"]] == ["executor", "brain"]


async def test_the_context_can_force_the_path(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print('hi')"))
    final = await graph.ainvoke(user("Olá, tudo bem?"), context=Context(task_type="code"))
    assert final["task_type"] == "code" and final["route"]["reasons"] == [
        "task_type=code in the run context"
    ]
    with pytest.raises(ValueError, match="task_type='poem' is invalid"):
        Context(task_type="poem")


async def test_the_brain_confirms_a_script_and_its_result_counts_when_they_disagree(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.script(EXECUTOR, code_reply("print(1346269)"))
    state.script(BRAIN, code_reply("print(832040)"))
    final = await graph.ainvoke(
        user("Write a Python script that prints the 30th Fibonacci number, F(1) = F(2) = 1."),
        context=Context(),
    )
    assert [(r["by"], r["accepted"]) for r in final["executions"]] == [
        ("executor", True),
        ("brain", True),
    ]
    assert final["executions"][1]["confirms"] is False
    answer = final["messages"][-1].content
    assert answer.startswith("The result is 832040.") and solution_code(final["executions"]) == (
        "print(832040)"
    )
    assert "printed something else (1346269)" in answer  # said plainly, not hidden


async def test_an_explanation_sees_the_code_and_its_arithmetic_is_put_right(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    code = "media = (4 + 8 + 15 + 16 + 23 + 42) / 6\nprint(media)"
    state.script(
        BRAIN,
        plan_reply(("calcular a média", True)),
        code_reply(code),
        "A média é 18.0: a soma 4 + 8 + 15 + 16 + 23 + 42 = 100 dividida por 6, e 100 / 6 = 18.0.",
        # Asked on its own to explain, the brain explains (its arithmetic wrong again),
        # reaching the result only at the end.
        "O código soma os seis números: 4 + 8 + 15 + 16 + 23 + 42 = 100. Depois divide a "
        "soma por 6, a quantidade de números: 100 / 6 = 18.0. Por isso a média é 18.0.",
    )
    state.script(EXECUTOR, code_reply(code))
    final = await graph.ainvoke(
        user("Planeje e execute: calcule a média dos números 4, 8, 15, 16, 23 e 42 e explique"),
        context=Context(),
    )
    answer = final["messages"][-1].content
    assert answer.startswith("O resultado é 18.0. O código soma os seis números")
    assert "4 + 8 + 15 + 16 + 23 + 42 = 108" in answer and "108 / 6 = 18.0" in answer
    assert "100" not in answer and not final["notes"]
    explain_prompt = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert code in explain_prompt and "explain in two to four sentences" in explain_prompt


async def test_an_explanation_may_cite_the_code_s_numbers(
    graph,
    wired: ModelManager,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    code = "print(sum(range(1, 11)))"
    explanation = (
        "A soma dos números de 1 a 10 é 55. O código usa range(1, 11), que vai de 1 a 10. "
        "Depois a função sum soma todos esses números."
    )
    state.script(
        BRAIN, plan_reply(("somar os números", True)), code_reply(code), "A soma é 55.", explanation
    )
    state.script(EXECUTOR, code_reply(code))
    final = await graph.ainvoke(
        user("Planeje e execute: some os números de 1 a 10 e explique o resultado"),
        context=Context(),
    )
    # 11 is no output's, but the code's: the explanation stays whole, not re-asked.
    assert final["messages"][-1].content.startswith(explanation)
    assert len(bodies_for(state.requests, BRAIN)) == 4 and not final["notes"]
