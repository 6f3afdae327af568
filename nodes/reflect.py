"""The reflect node: the brain judges the real results and answers, or asks for a revision."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from nodes.common import emit, manager_for, request_text, tail
from nodes.context import Context
from nodes.plan import render_plan
from nodes.prompts import REFLECT_PROMPT, REFLECT_SYSTEM
from nodes.state import State


class Reflection(BaseModel):
    """The brain's verdict on the results."""

    verdict: Literal["done", "revise"] = Field(
        description="done when the results answer the request; revise to run the code again."
    )
    answer: str = Field(description="The final answer for the user, grounded in the outputs.")
    revision: str = Field(default="", description="What the coder must change (when revising).")


def render_results(executions: list[dict[str, Any]]) -> str:
    """The last round's runs, with real exit codes and outputs."""
    lines = []
    for run in executions:
        lines.append(
            f"- step {run['step']}, attempt {run['attempt']}: exit code {run['exit_code']}"
            + (" (timed out)" if run["timed_out"] else "")
            + f"\n  stdout:\n{tail(run['stdout'], 1500)}\n  stderr:\n{tail(run['stderr'], 800)}"
        )
    return "\n".join(lines) or "(no code was run)"


async def reflect(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer from the real results, or send back a bounded revision."""
    manager = await manager_for(runtime.context)
    iteration = state.get("iteration", 0)
    rounds_left = runtime.context.max_iterations - 1 - iteration
    plan = state.get("plan") or {"goal": request_text(state), "steps": []}
    executions = state.get("executions", [])
    prompt = REFLECT_PROMPT.format(
        request=request_text(state),
        plan=render_plan(plan) if plan["steps"] else "(none)",
        results=render_results(executions[-12:]),
        rounds_left=max(rounds_left, 0),
    )
    notes: list[str] = []
    async with manager.use("brain") as chat:
        messages = [SystemMessage(REFLECT_SYSTEM), HumanMessage(prompt)]
        try:
            result = await chat.with_structured_output(Reflection).ainvoke(messages)
            verdict = (
                result if isinstance(result, Reflection) else Reflection.model_validate(result)
            )
        except ValueError as exc:
            notes.append(f"the brain's reflection was not structured ({exc}); answered plainly")
            reply = await chat.ainvoke(messages)
            verdict = Reflection(verdict="done", answer=str(reply.content))
    emit({"type": "reflect", "verdict": verdict.verdict, "iteration": iteration})
    if verdict.verdict == "revise" and rounds_left > 0:
        return {
            "feedback": verdict.revision or verdict.answer,
            "iteration": iteration + 1,
            "notes": notes,
        }
    return {"messages": [AIMessage(verdict.answer)], "feedback": None, "notes": notes}


def after_reflect(state: State) -> str:
    """Revise (back to the executor) or finish: reflect leaves feedback only to revise."""
    return "swap_to_executor" if state.get("feedback") else "__end__"
