"""The Orquestra workflow: route → plan (brain) → execute (executor) → reflect (brain).

Every edge that crosses from one model to the other goes through a swap node, so "plan,
then execute" is a visible path in Studio:

    START → route ─┬─ swap_to_brain ─┬─ respond ⇄ brain_tools → END
                   │                 ├─ draft ─┬─ END (the tests pass)
                   │                 │         └─ swap_to_executor → execute (repair) → END
                   │                 └─ plan ─┬─ swap_to_executor → execute ─┬─ END (code)
                   │                          └─ reflect                     └─ swap_back_to_brain
                   └─ swap_to_executor → execute                        ─┬─ rescue ─┬─ reflect
                                                                         ├─ reflect └─ END (code)
                                                                         └─ END
                                                        reflect ─┬─ rescue (revise, brain)
                                                                 └─ END

The executor's code runs against checks taken from the request; when all its candidates
fail, the brain rescues the step (`rescue`), with no extra swap on a hybrid task. A job on
the user's files (a workspace fix or refactor) is drafted by the brain and, when the
project's tests reject the draft, repaired by the executor from their output. Which
node follows which is decided by the edge functions in `graph.edges`.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graph.edges import (
    after_brain_return,
    after_brain_swap,
    after_draft,
    after_execute,
    after_plan,
    after_reflect,
    after_rescue,
    after_respond,
    after_route,
    unless_failed,
)
from nodes.context import Context
from nodes.draft import draft
from nodes.execute import execute
from nodes.plan import plan
from nodes.reflect import reflect
from nodes.rescue import rescue
from nodes.respond import respond, run_brain_tools
from nodes.route import route
from nodes.state import State
from nodes.swap import make_swap_node


def create_workflow() -> StateGraph[State, Context, State, State]:
    """The uncompiled workflow, for callers that add nodes or pick their own compile options."""
    workflow: StateGraph[State, Context, State, State] = StateGraph(State, context_schema=Context)
    workflow.add_node("route", route)
    workflow.add_node("swap_to_brain", make_swap_node("brain"))
    workflow.add_node("respond", respond)
    workflow.add_node("brain_tools", run_brain_tools)
    workflow.add_node("plan", plan)
    workflow.add_node("draft", draft)
    workflow.add_node("swap_to_executor", make_swap_node("executor"))
    workflow.add_node("execute", execute)
    workflow.add_node("swap_back_to_brain", make_swap_node("brain"))
    workflow.add_node("rescue", rescue)
    workflow.add_node("reflect", reflect)

    workflow.add_edge(START, "route")
    workflow.add_conditional_edges("route", after_route, ["swap_to_brain", "swap_to_executor"])
    workflow.add_conditional_edges(
        "swap_to_brain", after_brain_swap, ["respond", "plan", "draft", END]
    )
    workflow.add_conditional_edges("respond", after_respond, ["brain_tools", END])
    workflow.add_edge("brain_tools", "respond")
    workflow.add_conditional_edges("plan", after_plan, ["swap_to_executor", "reflect"])
    workflow.add_conditional_edges("draft", after_draft, ["swap_to_executor", END])
    workflow.add_conditional_edges("swap_to_executor", unless_failed("execute"), ["execute", END])
    workflow.add_conditional_edges("execute", after_execute, ["swap_back_to_brain", END])
    workflow.add_conditional_edges(
        "swap_back_to_brain", after_brain_return, ["rescue", "reflect", END]
    )
    workflow.add_conditional_edges("rescue", after_rescue, ["reflect", END])
    workflow.add_conditional_edges("reflect", after_reflect, ["rescue", END])
    return workflow


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None, *, name: str = "orquestra"
) -> CompiledStateGraph[State, Context, State, State]:
    """The compiled workflow; pass a checkpointer (e.g. AsyncSqliteSaver) to persist threads."""
    return create_workflow().compile(checkpointer=checkpointer, name=name)


# The graph `langgraph dev` serves (langgraph.json: "orquestra"); compiled without a
# checkpointer, since the server brings its own.
graph = build_graph()
