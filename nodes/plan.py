"""The plan node: the brain turns a hybrid request into steps, marking those that need code."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from nodes.common import emit, manager_for, request_text
from nodes.context import Context
from nodes.prompts import PLAN_SYSTEM
from nodes.state import State

MAX_PLAN_STEPS = 6


class PlanStep(BaseModel):
    """One step of the plan."""

    description: str = Field(description="What to do in this step, concretely.")
    needs_code: bool = Field(description="True when Python must be written and run for it.")


class Plan(BaseModel):
    """The brain's plan for a hybrid request."""

    goal: str = Field(description="The user's goal in one sentence.")
    steps: list[PlanStep] = Field(description="1 to 6 steps, in order.")


def render_plan(plan: dict[str, Any]) -> str:
    """The plan as numbered lines, code steps marked."""
    return "\n".join(
        f"{i}. {step['description']}" + (" [code]" if step["needs_code"] else "")
        for i, step in enumerate(plan["steps"], 1)
    )


async def plan(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the brain for a structured plan; fall back to one code step if it cannot give one."""
    manager = await manager_for(runtime.context)
    request = request_text(state)
    notes: list[str] = []
    the_plan: dict[str, Any]
    async with manager.use("brain") as chat:
        try:
            structured = chat.with_structured_output(Plan)
            result = await structured.ainvoke([SystemMessage(PLAN_SYSTEM), HumanMessage(request)])
            made = result if isinstance(result, Plan) else Plan.model_validate(result)
            steps = [s.model_dump() for s in made.steps[:MAX_PLAN_STEPS]] or [
                {"description": request, "needs_code": True}
            ]
            the_plan = {"goal": made.goal, "steps": steps}
        except ValueError as exc:  # unparsable structured output
            notes.append(f"the brain gave no usable plan ({exc}); using one code step")
            the_plan = {"goal": request, "steps": [{"description": request, "needs_code": True}]}
    if any(step["needs_code"] for step in the_plan["steps"]):
        # The executor comes next: read its weights while the graph reaches the swap.
        await manager.prefetch("executor")
    emit({"type": "plan", **the_plan})
    message = AIMessage(f"Plan: {the_plan['goal']}\n{render_plan(the_plan)}", name="plan")
    return {"plan": the_plan, "messages": [message], "notes": notes}
