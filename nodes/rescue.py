"""The rescue node: when the executor's candidates all fail, the brain writes the fix.

The brain sees the request verbatim, the executor's closest attempt and what went wrong
(the failing check with expected and actual values, or the traceback), and writes the
whole corrected code, which runs against the same checks. It gets `rescue_attempts`
tries, debugging its own code between them. On a hybrid task the brain is resident for
the reflection anyway, so a rescue costs no extra swap.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.answer import code_answer
from nodes.common import manager_for, request_text
from nodes.context import Context
from nodes.execute import code_tasks
from nodes.solve import closest_run, rescue_messages, rescue_strategies, write_until_accepted
from nodes.state import State
from orquestra.language import detect_language


async def rescue(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Have the brain fix every step whose executor candidates all failed."""
    context = runtime.context
    manager = await manager_for(context)
    pending = set(state.get("pending_rescue") or [])
    executions = state.get("executions", [])
    iteration = state.get("iteration", 0)
    runs: list[dict[str, Any]] = []
    async with manager.use("brain") as chat:
        for task in code_tasks(state):
            if task.step not in pending:
                continue
            tried = [
                r
                for r in executions
                if r["step"] == task.step and r.get("iteration", 0) == iteration
            ]
            if not tried:
                continue
            runs += await write_until_accepted(
                chat,
                task,
                rescue_messages(task, closest_run(tried)),
                rescue_strategies(context.rescue_attempts),
                by="brain",
                first_attempt=max(r["attempt"] for r in tried) + 1,
                timeout_s=context.execution_timeout_s,
            )
    update: dict[str, Any] = {"executions": runs, "pending_rescue": []}
    if state.get("task_type") != "hybrid":
        language = detect_language(request_text(state))
        every = [*executions, *runs]
        update["messages"] = [AIMessage(code_answer(every, language, context.max_attempts))]
    return update


def after_rescue(state: State) -> Literal["reflect", "__end__"]:
    """A hybrid task goes on to the reflection; the code path has its answer."""
    return "reflect" if state.get("task_type") == "hybrid" else "__end__"
