"""The reflect node: the brain judges the real results and answers, or asks for a revision.

The brain sees, for each code step, the run that counts (its last accepted run, see
`nodes.answer`) rather than every attempt, so an early wrong attempt cannot leak into
the answer. The answer it writes is then held to what ran: numbers no run printed (and
the request and plan do not contain) send it back once to rewrite from the outputs; if it
still states them, the answer becomes the outputs themselves. The outputs are quoted at
the end unless the answer already does, and the answer is in the request's language.
When the request asks why or how, the explanation is asked of the brain on its own
(`nodes.result_sentence`): inside the reflection's long prompt the 1.5B brain answered
"A média dos números é: 18.0" and explained nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from nodes.answer import (
    asks_for_explanation,
    chosen_runs,
    last_run,
    quoted_outputs,
    quotes_outputs,
    verified,
)
from nodes.common import (
    answer_in_language,
    manager_for,
    message_text,
    render_plan,
    request_language,
    request_text,
    tail,
)
from nodes.context import Context, context_of
from nodes.grounding import corrected_arithmetic, ungrounded_numbers, without_numbers
from nodes.prompts import (
    ANSWER_SYSTEM,
    EXPLAIN_PROMPT,
    GROUNDING_PROMPT,
    REFLECT_PROMPT,
    REFLECT_SYSTEM,
)
from nodes.result_sentence import brain_lead, opened_with_result
from nodes.state import State
from nodes.stream import ReflectEvent, emit, emit_thinking
from orquestra.language import ANSWER_IN

# How much of each counted run the brain sees.
RESULT_STDOUT_CHARS = 1500
RESULT_STDERR_CHARS = 800
# How much of a counted run's code an explanation is given (its beginning).
RESULT_CODE_CHARS = 3000


class Reflection(BaseModel):
    """The brain's verdict on the results."""

    verdict: Literal["done", "revise"] = Field(
        description="done when the outputs answer the request; revise to run the code again."
    )
    answer: str = Field(description="The final answer for the user, grounded in the outputs.")
    revision: str = Field(default="", description="What the coder must change (when revising).")


def render_results(executions: list[dict[str, Any]], *, with_code: bool = False) -> str:
    """For each step, the run that counts, with its exit code, checks and outputs.

    With `with_code`, its code too: what an explanation of the result describes.
    """
    lines = []
    for step, run in chosen_runs(executions).items():
        checks = run.get("checks") or {}
        status = "accepted" if run.get("accepted") else "FAILED"
        if run.get("kind") == "function" and checks.get("total"):
            status += f", {checks['passed']} of {checks['total']} checks from the request passed"
        code = str(run.get("code", ""))[:RESULT_CODE_CHARS]
        lines.append(
            f"- step {step} ({status}): exit code {run['exit_code']}"
            + (" (timed out)" if run["timed_out"] else "")
            + f"\n  stdout:\n{tail(run['stdout'], RESULT_STDOUT_CHARS)}"
            + (f"\n  stderr:\n{tail(run['stderr'], RESULT_STDERR_CHARS)}" if run["stderr"] else "")
            + (f"\n  code:\n```python\n{code}\n```" if with_code else "")
        )
    return "\n".join(lines) or "(no code was run)"


def grounding_sources(state: State) -> list[str]:
    """Texts whose numbers an answer may state: outputs that count, the request, the plan."""
    plan = state.get("plan") or {"goal": "", "steps": []}
    runs = [str(r.get("stdout", "")) for r in chosen_runs(state.get("executions", [])).values()]
    return [*runs, request_text(state), plan["goal"], render_plan(plan) if plan["steps"] else ""]


async def reflect(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer from the real results, or send back a bounded revision."""
    context = context_of(runtime)
    manager = await manager_for(context)
    iteration = state.get("iteration", 0)
    rounds_left = context.max_iterations - 1 - iteration
    plan = state.get("plan") or {"goal": request_text(state), "steps": []}
    executions = state.get("executions", [])
    language = request_language(state)
    explain = asks_for_explanation(request_text(state))
    prompt = REFLECT_PROMPT.format(
        request=request_text(state),
        plan=render_plan(plan) if plan["steps"] else "(none)",
        results=render_results(executions, with_code=explain),
        rounds_left=max(rounds_left, 0),
        answer_in=ANSWER_IN[language],
    ) + (EXPLAIN_PROMPT if explain else "")
    notes: list[str] = []
    emit_thinking("brain")
    async with manager.use("brain") as chat:
        # A function whose every example passed is verified: a reviewer's impression does
        # not override the checks (measured: revisions replaced passing solutions).
        code_steps = [step for step, run in chosen_runs(executions).items() if not verified(run)]
        if rounds_left > 0 and code_steps:
            messages: list[AnyMessage] = [SystemMessage(REFLECT_SYSTEM), HumanMessage(prompt)]
            verdict = await _judge(chat, messages, notes)
        else:  # nothing left to revise: only the answer is asked for, which small models do well
            messages = [SystemMessage(ANSWER_SYSTEM), HumanMessage(prompt)]
            reply = await chat.ainvoke(messages)
            verdict = Reflection(verdict="done", answer=message_text(reply))
        emit(ReflectEvent(type="reflect", verdict=verdict.verdict, iteration=iteration))
        if verdict.verdict == "revise":
            return {
                "feedback": verdict.revision or verdict.answer,
                "iteration": iteration + 1,
                "pending_rescue": code_steps,
                "notes": notes,
            }
        answer = corrected_arithmetic(verdict.answer.strip())
        last = last_run(executions)
        explained = ""
        if explain:
            # Asked on its own, the brain explains; inside the reflection it wrote one line.
            request = request_text(state)
            explained = await brain_lead(chat, request, last, language, explain=True, notes=notes)
            answer = explained or answer
        sources = grounding_sources(state)
        outputs = quoted_outputs(executions, language)
        # An explanation kept by `brain_lead` is grounded already, in the code's numbers too
        # (re-asked against the outputs alone, it shrank back to one sentence).
        missing = [] if explained else ungrounded_numbers(answer, sources)
        if missing and outputs:
            reply = await chat.ainvoke(
                [
                    *messages,
                    AIMessage(answer),
                    HumanMessage(
                        GROUNDING_PROMPT.format(
                            numbers=", ".join(missing),
                            outputs=outputs,
                            answer_in=ANSWER_IN[language],
                        )
                    ),
                ]
            )
            answer = corrected_arithmetic(message_text(reply).strip())
            still = ungrounded_numbers(answer, sources)
            if still:
                notes.append(f"the answer stated numbers no run printed ({', '.join(still)})")
                answer = without_numbers(answer, still)  # keep the rest of the explanation
        answer = await answer_in_language(chat, answer, language) if answer else answer
        if last.get("accepted") and last.get("kind") != "function":
            answer = opened_with_result(answer, str(last.get("stdout") or ""), language)
    if outputs and not quotes_outputs(answer, executions):
        answer = f"{answer}\n\n{outputs}".strip()
    return {"messages": [AIMessage(answer or outputs)], "feedback": None, "notes": notes}


async def _judge(chat: BaseChatModel, messages: list[AnyMessage], notes: list[str]) -> Reflection:
    """The brain's structured verdict; a plain answer when it cannot give one."""
    try:
        result = await chat.with_structured_output(Reflection).ainvoke(messages)
        return result if isinstance(result, Reflection) else Reflection.model_validate(result)
    except ValueError as exc:
        notes.append(f"the brain's reflection was not structured ({exc}); answered plainly")
        reply = await chat.ainvoke(messages)
        return Reflection(verdict="done", answer=message_text(reply))
