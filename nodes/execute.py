"""The execute node: the executor writes code, the sandbox runs it, failures are debugged.

All code steps of a request run in one residency of the executor (one lease for the
whole node). Each step gets up to `max_attempts` runs; after a failure the executor sees
the real exit code, stderr and stdout and answers with a corrected script, without going
back to the brain.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from nodes.common import emit, manager_for, message_text, request_text, tail
from nodes.context import Context
from nodes.prompts import DEBUG_PROMPT, EXECUTOR_STEP, EXECUTOR_SYSTEM
from nodes.state import State
from tools.extract import extract_code
from tools.sandbox import ExecutionResult, arun_python

NO_CODE_ERROR = "No Python code block was found in the reply."


def code_steps(state: State) -> list[str]:
    """What to code: the plan's code steps (hybrid) or the request itself (code path)."""
    plan = state.get("plan")
    if state.get("task_type") == "hybrid" and plan:
        return [s["description"] for s in plan["steps"] if s.get("needs_code")]
    return [request_text(state)]


def _record(step: int, attempt: int, result: ExecutionResult) -> dict[str, Any]:
    return {
        "step": step,
        "attempt": attempt,
        "code": result.code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "duration_s": result.duration_s,
        "isolation": list(result.isolation),
    }


async def _run_step(
    chat: BaseChatModel,
    conversation: list[AnyMessage],
    step: int,
    context: Context,
) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for attempt in range(1, context.max_attempts + 1):
        reply = await chat.ainvoke(conversation)
        text = message_text(reply)
        conversation.append(reply if isinstance(reply, AIMessage) else AIMessage(text))
        code = extract_code(text)
        if code:
            result = await arun_python(code, timeout_s=context.execution_timeout_s)
        else:
            result = ExecutionResult("", NO_CODE_ERROR, None, False, 0.0, False, (), text)
        run = _record(step, attempt, result)
        runs.append(run)
        emit(
            {
                "type": "code_run",
                "step": step,
                "attempt": attempt,
                "exit_code": result.exit_code,
                "timed_out": result.timed_out,
                "stdout": tail(result.stdout, 500),
                "stderr": tail(result.stderr, 500),
            }
        )
        if result.ok:
            break
        conversation.append(
            HumanMessage(
                DEBUG_PROMPT.format(
                    exit_code=result.exit_code,
                    timeout=", timed out" if result.timed_out else "",
                    stderr=tail(result.stderr),
                    stdout=tail(result.stdout),
                )
            )
        )
    return runs


def code_answer(runs: list[dict[str, Any]], max_attempts: int) -> str:
    """The code path's final answer: the last script and what it printed."""
    last = runs[-1]
    status = (
        "ran successfully"
        if last["exit_code"] == 0 and not last["timed_out"]
        else (f"still failed after {last['attempt']} of {max_attempts} attempts")
    )
    parts = [f"The code {status}.", f"```python\n{last['code']}\n```"]
    if last["stdout"]:
        parts.append(f"Output:\n```\n{tail(last['stdout'])}\n```")
    if last["stderr"] and last["exit_code"] != 0:
        parts.append(f"Error:\n```\n{tail(last['stderr'])}\n```")
    return "\n\n".join(parts)


async def execute(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write and run every code step in one executor residency."""
    context = runtime.context
    manager = await manager_for(context)
    request = request_text(state)
    feedback = state.get("feedback")
    runs: list[dict[str, Any]] = []
    steps = code_steps(state)
    if state.get("task_type") == "hybrid":
        # The brain reflects next: read its weights while the code runs.
        await manager.prefetch("brain")
    async with manager.use("executor") as chat:
        for index, description in enumerate(steps, 1):
            earlier = [r for r in runs if r["exit_code"] == 0]
            context_text = "".join(
                f"\n\nOutput of step {r['step']}:\n{tail(r['stdout'], 500)}" for r in earlier
            )
            prompt = EXECUTOR_STEP.format(
                request=request,
                step=f"Step {index} of {len(steps)}: {description}" if len(steps) > 1 else "",
                context=context_text,
                feedback=f"\n\nReviewer's request: {feedback}" if feedback else "",
            )
            conversation: list[AnyMessage] = [SystemMessage(EXECUTOR_SYSTEM), HumanMessage(prompt)]
            runs += await _run_step(chat, conversation, index, context)
    update: dict[str, Any] = {"executions": runs}
    if state.get("task_type") != "hybrid" and runs:
        update["messages"] = [AIMessage(code_answer(runs, context.max_attempts))]
    return update


def after_execute(state: State) -> str:
    """Hybrid tasks go back to the brain to reflect; the code path ends here."""
    return "swap_back_to_brain" if state.get("task_type") == "hybrid" else "__end__"
