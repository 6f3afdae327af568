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
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.answer import chosen_runs, code_answer, failed_steps, script_steps, unverified_steps
from nodes.code_tasks import code_tasks, run_timeout
from nodes.common import manager_for, request_text, tail
from nodes.context import Context, context_of
from nodes.solve import coder_messages, strategies, write_until_accepted
from nodes.state import State
from nodes.workspace_job import WorkspaceJob
from nodes.workspace_step import work_on_workspace
from orquestra.language import detect_language

# How much of an earlier step's output a later step sees.
EARLIER_OUTPUT_CHARS = 500


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
    if job := state.get("workspace_job"):  # the brain's draft, repaired from the tests
        async with manager.use("executor") as chat:
            return await work_on_workspace(
                chat, state, context, WorkspaceJob.from_dict(job), by="executor"
            )
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
