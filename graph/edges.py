"""The workflow's edges: after each node, which node comes next.

Every routing decision of the graph lives here, beside the workflow that names the nodes:
nodes only return state updates, and an edge reads what it needs from the state (the
task type the router chose, a pending rescue, the reviewer's feedback, a stopped run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from langchain_core.messages import AIMessage

from nodes.state import State


def after_route(state: State) -> Literal["swap_to_brain", "swap_to_executor"]:
    """Brain paths (conversation, planning, hybrid, a workspace draft) or the code path."""
    if state.get("task_type") == "code" and not state.get("workspace_job"):
        return "swap_to_executor"
    return "swap_to_brain"


def after_brain_swap(state: State) -> Literal["respond", "plan", "draft", "__end__"]:
    """A workspace job is drafted, a hybrid task planned, the rest answered; a failed swap ends."""
    if state.get("error"):
        return "__end__"
    if state.get("workspace_job"):
        return "draft"
    return "plan" if state.get("task_type") == "hybrid" else "respond"


def after_draft(state: State) -> Literal["swap_to_executor", "__end__"]:
    """A draft the tests accepted (or an answer given) ends; else the executor repairs it."""
    return "__end__" if state.get("workspace") or state.get("error") else "swap_to_executor"


def after_respond(state: State) -> Literal["brain_tools", "__end__"]:
    """Run the tools the brain asked for, or finish."""
    last = state["messages"][-1]
    return "brain_tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"


def after_plan(state: State) -> Literal["swap_to_executor", "reflect"]:
    """To the executor when a step needs code; else straight to the reflection."""
    plan_ = state.get("plan") or {}
    needs_code = any(step.get("needs_code") for step in plan_.get("steps", []))
    return "swap_to_executor" if needs_code else "reflect"


def after_execute(state: State) -> Literal["swap_back_to_brain", "__end__"]:
    """Back to the brain to reflect (hybrid) or to rescue failed steps; else the end."""
    if state.get("workspace_job"):  # the executor's repair of the brain's draft is the last step
        return "__end__"
    if state.get("task_type") == "hybrid" or state.get("pending_rescue"):
        return "swap_back_to_brain"
    return "__end__"


def after_brain_return(state: State) -> Literal["rescue", "reflect", "__end__"]:
    """Rescue pending steps first, then reflect (hybrid); a failed swap ends the run."""
    if state.get("error"):
        return "__end__"
    if state.get("pending_rescue"):
        return "rescue"
    return "reflect" if state.get("task_type") == "hybrid" else "__end__"


def after_rescue(state: State) -> Literal["reflect", "__end__"]:
    """A hybrid task goes on to the reflection; the code path has its answer."""
    return "reflect" if state.get("task_type") == "hybrid" else "__end__"


def after_reflect(state: State) -> Literal["rescue", "__end__"]:
    """Revise (the brain rewrites the code) or finish: reflect leaves feedback only to revise."""
    return "rescue" if state.get("feedback") else "__end__"


def unless_failed(next_node: str) -> Callable[[State], str]:
    """Edge after a swap: go to `next_node`, or end when the swap stopped the run."""

    def route(state: State) -> str:
        return "__end__" if state.get("error") else next_node

    route.__name__ = f"to_{next_node}_unless_failed"
    return route
