"""Run settings are read when a node runs, from the run's context or its defaults.

Regression tests for the redesign's bugs 2 and 5: the brain's tool node used a timeout
fixed when the graph was built, while the model was told the context's; and the memo of
models without tools was keyed on the context's model name, empty by default.
"""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from graph import Context, build_graph
from orquestra.manager import ModelManager
from orquestra.runtime import set_model_manager
from tests.fakes.ollama import FakeOllamaState, fake_model
from tests.graph_support import BRAIN, tool_call, user


async def test_the_tool_node_runs_code_under_the_context_s_timeout(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    sleeper = "import time\ntime.sleep(5)\nprint('woke')"
    state.script(BRAIN, tool_call("run_python", code=sleeper), "It took too long.")
    final = await build_graph().ainvoke(
        user("Run this for me with a tool: sleep 5 s, then print woke"),
        context=Context(execution_timeout_s=1, task_type="conversation"),
    )
    tool_messages = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1
    assert "timed out" in str(tool_messages[0].content)
    assert "woke" not in str(tool_messages[0].content)


async def test_a_model_without_tools_is_remembered_by_its_own_name(
    make_manager,  # type: ignore[no-untyped-def]
    state: FakeOllamaState,
) -> None:
    state.models["toolless-brain:latest"] = fake_model(
        "toolless-brain", 7.0, capabilities=("completion",)
    )
    set_model_manager(make_manager(brain_model="toolless-brain"))
    state.script("toolless-brain", "Resposta sem ferramentas.")
    first = await build_graph().ainvoke(user("Olá!"), context=Context())  # names no model
    assert any("does not support tools" in n for n in first["notes"])

    # Another brain, again with a context that names none: its tools are still offered.
    set_model_manager(make_manager())
    state.script(BRAIN, tool_call("run_python", code="print(6 * 7)"), "6 x 7 = 42.")
    second = await build_graph().ainvoke(
        user("What is 6 times 7? Use a tool if useful."), context=Context()
    )
    assert [m for m in second["messages"] if isinstance(m, ToolMessage)]
    assert second["messages"][-1].content == "6 x 7 = 42."
    set_model_manager(None)
