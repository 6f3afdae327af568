"""The execute node: the executor writes code, the sandbox runs it against the request's checks.

All code steps of a request run in one residency of the executor (one lease for the
whole node). Each step gets up to `max_attempts` candidates (see `nodes.solve`); the
first that passes the checks wins. A step whose candidates all fail, a function the
request gave no example to check, and a script (no check can verify its result: the
brain confirms it, `confirm_scripts`) go to the brain (`nodes.rescue`) when
`rescue_attempts` allows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.answer import chosen_runs, code_answer, failed_steps, script_steps, unverified_steps
from nodes.common import manager_for, request_text, tail
from nodes.context import Context, context_of
from nodes.solve import CodeTask, coder_messages, strategies, write_until_accepted
from nodes.state import State
from orquestra.language import detect_language
from tools.spec import read_spec

# How much of an earlier step's output a later step sees.
EARLIER_OUTPUT_CHARS = 500
# A function's checks call it on the request's examples, which are small: a run that takes
# longer than this is stuck in a loop, not computing.
FUNCTION_CHECK_TIMEOUT_S = 10.0


def code_steps(state: State) -> list[int]:
    """The steps that need code: the plan's (hybrid; numbered as in the plan) or step 1."""
    plan = state.get("plan")
    if state.get("task_type") == "hybrid" and plan:
        return [index for index, step in enumerate(plan["steps"], 1) if step.get("needs_code")]
    return [1]


def code_tasks(state: State) -> list[CodeTask]:
    """The code steps as tasks, each with the checks the request specifies."""
    request = request_text(state)
    spec = read_spec(request)
    feedback = state.get("feedback") or ""
    iteration = state.get("iteration", 0)
    return [
        CodeTask(step=step, request=request, spec=spec, feedback=feedback, iteration=iteration)
        for step in code_steps(state)
    ]


def run_timeout(task: CodeTask, context: Context) -> float:
    """Seconds one run may take: the context's limit, capped for checks of small examples."""
    if task.kind == "function":
        return min(context.execution_timeout_s, FUNCTION_CHECK_TIMEOUT_S)
    return context.execution_timeout_s


def _earlier_outputs(runs: list[dict[str, Any]]) -> str:
    return "".join(
        f"\n\nOutput of step {step}:\n{tail(run['stdout'], EARLIER_OUTPUT_CHARS)}"
        for step, run in chosen_runs(runs).items()
        if run.get("accepted")
    )


async def execute(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write and run every code step in one executor residency."""
    context = context_of(runtime)
    manager = await manager_for(context)
    runs: list[dict[str, Any]] = []
    hybrid = state.get("task_type") == "hybrid"
    if hybrid or context.rescue_attempts:
        # The brain may come next (reflect, or rescue): read its weights while code runs.
        await manager.prefetch("brain")
    async with manager.use("executor") as chat:
        for task in code_tasks(state):
            if runs:
                task = replace(task, earlier=_earlier_outputs(runs))
            runs += await write_until_accepted(
                chat,
                task,
                coder_messages(task),
                strategies(context.max_attempts),
                by="executor",
                first_attempt=1,
                timeout_s=run_timeout(task, context),
            )
    # The brain writes what the checks rejected or could not verify: failed steps,
    # functions without an example, and (unless turned off) scripts, to confirm them.
    unsettled = {*failed_steps(runs), *unverified_steps(runs)}
    if context.confirm_scripts:
        unsettled |= set(script_steps(runs))
    rescue = sorted(unsettled) if context.rescue_attempts else []
    update: dict[str, Any] = {"executions": runs, "pending_rescue": rescue}
    if not hybrid and runs and not rescue:
        language = detect_language(request_text(state))
        update["messages"] = [AIMessage(code_answer(runs, language, context.max_attempts))]
    return update


def after_execute(state: State) -> Literal["swap_back_to_brain", "__end__"]:
    """Back to the brain to reflect (hybrid) or to rescue failed steps; else the end."""
    if state.get("task_type") == "hybrid" or state.get("pending_rescue"):
        return "swap_back_to_brain"
    return "__end__"
