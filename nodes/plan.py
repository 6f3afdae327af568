"""The plan node: the brain turns a hybrid request into steps, marking those that need code.

Small models pad plans with busywork ("open a text editor", "save the file", "run the
script") and repeat steps. `tidy_plan` drops those, and joins every code step into one:
each code step would run as its own script in a fresh sandbox, unable to share anything
but printed text with the others, so one script that does all the computing is both
cheaper and more consistent (three scripts printed 77 and 639 for the same sum).
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from nodes.common import (
    manager_for,
    render_plan,
    request_language,
    request_text,
)
from nodes.context import Context, context_of
from nodes.prompts import PLAN_SYSTEM
from nodes.state import State
from nodes.stream import PlanEvent, current_node, emit, emit_thinking
from orquestra.language import ANSWER_IN, Language

MAX_PLAN_STEPS = 6
# How the joined code step opens, in the plan's language.
ONE_SCRIPT: dict[Language, str] = {
    "en": "One script that does: {steps}.",
    "pt": "Um único script que faz: {steps}.",
    "es": "Un único script que hace: {steps}.",
}
# Steps that are chores around running code, which Orquestra does itself (EN and PT).
BUSYWORK = re.compile(
    r"\b(open|launch|start|abr[ai]r?|inicie)\b.{0,30}\b(editor|ide|terminal|notepad|vs ?code|"
    r"jupyter|python interpreter|interpretador)\b|"
    r"\b(install|instal[ea]r?)\b.{0,20}\bpython\b|"
    r"\b(save|salv[ea]r?|guard[ae]r?)\b.{0,30}\b(file|script|code|arquivo|c[oó]digo)\b|"
    r"\b(run|execute|rode|rodar|executar?)\b.{0,12}\b(the|it|o|a)?\s*"
    r"(script|program|programa|code|c[oó]digo|file|arquivo)\b|"
    r"\b(create|crie|criar)\b.{0,8}\b(a|an|um|uma|new|novo)\b.{0,8}\b(file|arquivo)\b",
    re.IGNORECASE,
)


class PlanStep(BaseModel):
    """One step of the plan."""

    description: str = Field(description="What to do in this step, concretely.")
    needs_code: bool = Field(description="True when Python must be written and run for it.")


class Plan(BaseModel):
    """The brain's plan for a hybrid request."""

    goal: str = Field(description="The user's goal in one sentence.")
    steps: list[PlanStep] = Field(description="1 to 6 steps, in order.")


def _key(description: str) -> str:
    return " ".join(re.findall(r"\w+", description.lower()))


def tidy_plan(
    steps: list[dict[str, Any]], request: str, language: Language = "en"
) -> list[dict[str, Any]]:
    """Drop busywork and repeated steps; join the code steps into one (see module doc)."""
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for step in steps:
        description = str(step.get("description", "")).strip()
        key = _key(description)
        if not key or key in seen:
            continue
        if not step.get("needs_code") and BUSYWORK.search(description):
            continue
        seen.add(key)
        kept.append({"description": description, "needs_code": bool(step.get("needs_code"))})
    code = [s["description"] for s in kept if s["needs_code"]]
    if len(code) > 1:
        joined = "; ".join(f"({i}) {d.rstrip('.')}" for i, d in enumerate(code, 1))
        first = next(i for i, s in enumerate(kept) if s["needs_code"])
        kept = [s for s in kept if not s["needs_code"]]
        description = ONE_SCRIPT[language].format(steps=joined)
        kept.insert(first, {"description": description, "needs_code": True})
    return kept[:MAX_PLAN_STEPS] or [{"description": request, "needs_code": True}]


def plan_request(request: str, language: Language) -> str:
    """The brain's planning prompt: the request, and the language to write the plan in."""
    return f"{request}\n\n({ANSWER_IN[language]} Goal and steps in that language.)"


async def plan(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the brain for a structured plan; fall back to one code step if it cannot give one."""
    manager = await manager_for(context_of(runtime))
    request = request_text(state)
    language = request_language(state)
    notes: list[str] = []
    the_plan: dict[str, Any]
    emit_thinking("brain")
    async with manager.use("brain") as chat:
        try:
            structured = chat.with_structured_output(Plan)
            result = await structured.ainvoke(
                [SystemMessage(PLAN_SYSTEM), HumanMessage(plan_request(request, language))]
            )
            made = result if isinstance(result, Plan) else Plan.model_validate(result)
            steps = tidy_plan([s.model_dump() for s in made.steps], request, language)
            the_plan = {"goal": made.goal, "steps": steps}
        except ValueError as exc:  # unparsable structured output
            notes.append(f"the brain gave no usable plan ({exc}); using one code step")
            the_plan = {"goal": request, "steps": [{"description": request, "needs_code": True}]}
    if any(step["needs_code"] for step in the_plan["steps"]):
        # The executor comes next: read its weights while the graph reaches the swap.
        await manager.prefetch("executor")
    emit(PlanEvent(type="plan", goal=the_plan["goal"], steps=the_plan["steps"]))
    message = AIMessage(f"Plan: {the_plan['goal']}\n{render_plan(the_plan)}", name=current_node())
    return {"plan": the_plan, "messages": [message], "notes": notes}
