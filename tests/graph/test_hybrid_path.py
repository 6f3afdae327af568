"""The hybrid path: plan, execute, reflect and revise, with the swaps they cost."""

from __future__ import annotations

from graph import Context
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
